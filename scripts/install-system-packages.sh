#!/usr/bin/env bash
# System packages the tests and benchmarks need beyond npm: Chromium (dashboard tests through playwright-core),
# the PostgreSQL server binaries (throwaway clusters in tests), faketime (clock-skew tests), wrk (benchmarks)
# and nginx (the cache in front of the nodes in test/cache and `npm run bench -- cache`). Idempotent; needs root for apt.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
# wrk: the load generator of `npm run bench`.
command -v wrk >/dev/null 2>&1 || need+=(wrk)
# nginx: a real cache (proxy_cache) in the loop; the tests start their own on a free port.
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
# faketime: tests run a node whose clock is off (clock-skew detection).
command -v faketime >/dev/null 2>&1 || need+=(faketime)
# dpkg-deb: packaging/build-deb.sh builds the agent's .deb, test/packaging unpacks it (Debian has it).
command -v dpkg-deb >/dev/null 2>&1 || need+=(dpkg)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
