#!/bin/sh
# An install command for `fairpatch agent --install examples/install.sh`.
#
# The agent runs it only after tuf-js has checked the artifact's length and hashes against metadata
# signed by the vendor's key, so this script only puts the verified file in place. Its output goes
# to the agent's log; any exit status but 0 is a failed install: the agent keeps the installed
# version as it was and tries again at its next poll (or its next run, with --once).
#
# Set by the agent: FAIRPATCH_ARTIFACT (the verified file), FAIRPATCH_TARGET (its name in the
# repository), FAIRPATCH_PRODUCT, FAIRPATCH_VERSION, FAIRPATCH_CVES, FAIRPATCH_SEVERITY…
# Yours to set: FAIRPATCH_INSTALL_DIR (default ./installed).
set -eu

: "${FAIRPATCH_ARTIFACT:?is not set: this script is run by fairpatch agent --install}"
root="${FAIRPATCH_INSTALL_DIR:-./installed}/$FAIRPATCH_PRODUCT"
target="$root/$FAIRPATCH_VERSION"
name="$(basename "${FAIRPATCH_TARGET:-$FAIRPATCH_ARTIFACT}")"

mkdir -p "$target"
cp "$FAIRPATCH_ARTIFACT" "$target/$name"
echo "copied $name to $target"

# The example patches are shell scripts; a real patch may be a package (dpkg -i, rpm -U, msiexec).
case "$name" in
  *.sh) sh "$target/$name" ;;
esac

# The version becomes current last, so a failure above leaves the previous one current.
ln -sfn "$FAIRPATCH_VERSION" "$root/current"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $FAIRPATCH_VERSION ${FAIRPATCH_CVES:-}" >> "$root/history"
echo "$FAIRPATCH_PRODUCT $FAIRPATCH_VERSION is current (fixes ${FAIRPATCH_CVES:-no listed CVE})"
