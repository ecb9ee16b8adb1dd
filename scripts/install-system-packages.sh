#!/usr/bin/env bash
# System packages the test suite needs beyond npm: Chromium (dashboard tests through playwright-core)
# and the PostgreSQL server binaries (throwaway clusters in tests). Idempotent; needs root for apt.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
