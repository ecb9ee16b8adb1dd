#!/usr/bin/env bash
# packaging/build-deb.sh [EXECUTABLE] [OUT_DIR]: the fairpatch-agent .deb, from the executable
# `npm run build:agent` wrote (default dist-agent/fairpatch-agent), into OUT_DIR (default dist-agent/).
# Prints the .deb's path. Needs dpkg-deb (Debian's dpkg; scripts/install-system-packages.sh).
#   /usr/lib/fairpatch/fairpatch-agent        the executable (Node single executable application)
#   /usr/lib/fairpatch/fairpatch-agent-start  the unit's ExecStart: a self-updated executable, or that one
#   /usr/bin/fairpatch-agent                  -> the executable, for `fairpatch-agent agent receipts …`
#   /lib/systemd/system/fairpatch-agent.service, /usr/lib/sysusers.d/fairpatch-agent.conf
#   /etc/fairpatch/agent.json                 settings, a conffile: an upgrade keeps the operator's edits
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exe=$(realpath "${1:-$here/../dist-agent/fairpatch-agent}")
out=$(realpath -m "${2:-$here/../dist-agent}")
[ -x "$exe" ] || { echo "build-deb: no executable $exe (npm run build:agent)" >&2; exit 66; }
command -v dpkg-deb >/dev/null || { echo "build-deb: dpkg-deb missing (apt-get install dpkg)" >&2; exit 69; }

# The package's version is the executable's own stamp: what its self-updates compare against.
version=$("$exe" --version)
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
chmod 0755 "$tree" # the package's ./ : mktemp's 0700 would reach the root of a throwaway tree
install -D -m 0755 "$exe" "$tree/usr/lib/fairpatch/fairpatch-agent"
install -D -m 0755 "$here/agent/fairpatch-agent-start" "$tree/usr/lib/fairpatch/fairpatch-agent-start"
mkdir -p "$tree/usr/bin"
ln -s ../lib/fairpatch/fairpatch-agent "$tree/usr/bin/fairpatch-agent"
install -D -m 0644 "$here/fairpatch-agent.service" "$tree/lib/systemd/system/fairpatch-agent.service"
install -D -m 0644 "$here/agent/sysusers.conf" "$tree/usr/lib/sysusers.d/fairpatch-agent.conf"
install -D -m 0644 "$here/agent/agent.json" "$tree/etc/fairpatch/agent.json"
install -D -m 0755 "$here/agent/postinst" "$tree/DEBIAN/postinst"
install -D -m 0755 "$here/agent/prerm" "$tree/DEBIAN/prerm"
echo /etc/fairpatch/agent.json >"$tree/DEBIAN/conffiles"
# The executable carries its runtime; it links only what every Debian system has.
cat >"$tree/DEBIAN/control" <<CONTROL
Package: fairpatch-agent
Version: $version
Architecture: $arch
Maintainer: fairpatch <security@fairpatch.invalid>
Depends: libc6, libstdc++6, libgcc-s1
Section: admin
Priority: optional
Installed-Size: $(du -sk "$tree" | cut -f1)
Description: fairpatch agent: security patches at the same tick for every group, with proof
 Polls a fairpatch repository for its customer group, installs TUF-verified patches, signs
 receipts of what it was served, and updates itself from the repository's fairpatch/agent releases.
CONTROL

mkdir -p "$out"
deb="$out/fairpatch-agent_${version}_${arch}.deb"
# --root-owner-group: every file root's, whoever builds. zstd: a third of the size in about a second
# (gzip -9 takes 40 s on 100 MB); dpkg reads it from 1.21.18 on (Debian 12, Ubuntu 21.10).
dpkg-deb --root-owner-group "-Z${DEB_COMPRESSION:-zstd}" --build "$tree" "$deb" >/dev/null
echo "$deb"
