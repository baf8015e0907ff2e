#!/usr/bin/env bash
# Builds the Debian package without touching the source tree:
#
#   packaging/build-deb.sh [OUTDIR]        (default OUTDIR: the current directory)
#
# Copies the sources to a temporary directory (in a git checkout: the tracked files and the
# untracked ones git does not ignore, so a build directory inside the tree is left out),
# puts packaging/debian at debian/, runs `dpkg-buildpackage -b -us -uc` there and moves the
# .deb, .buildinfo and .changes to OUTDIR. DEB_BUILD_OPTIONS passes through (nocheck skips the
# package's own tests and does not even build them; parallel=N). Needs the Build-Depends of
# packaging/debian/control (dpkg-checkbuilddeps names what is missing) and debhelper.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(mkdir -p "${1:-.}" && cd "${1:-.}" && pwd)
WORK=$(mktemp -d /tmp/snapcowfs-deb.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/snapcowfs

mkdir "$SRC"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
    (cd "$ROOT" && xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
    tar -C "$ROOT" --null -T - -cf - | tar -C "$SRC" -xf -
else
  tar -C "$ROOT" --exclude=./debian -cf - . | tar -C "$SRC" -xf -
fi
[ ! -e "$SRC/debian" ] || { echo "packaging/build-deb.sh: the tree has a debian/ of its own" >&2; exit 1; }
cp -r "$SRC/packaging/debian" "$SRC/debian"

(cd "$SRC" && dpkg-buildpackage -b -us -uc)
shopt -s nullglob
files=("$WORK"/snapcowfs_*.deb "$WORK"/snapcowfs-dbgsym_*.deb "$WORK"/snapcowfs_*.buildinfo "$WORK"/snapcowfs_*.changes)
[ ${#files[@]} -gt 0 ] || { echo "packaging/build-deb.sh: dpkg-buildpackage made no .deb" >&2; exit 1; }
mv "${files[@]}" "$OUT/"
for f in "${files[@]}"; do echo "$OUT/$(basename "$f")"; done
