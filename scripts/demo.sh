#!/usr/bin/env bash
# A two-minute demo of snapcowfs on a fresh Debian 12 machine (run as root: it uses loop
# devices and mounts):
#
#   sudo scripts/demo.sh
#
# Installs what is missing, builds, makes a demo image directory with a 128 MiB ext4 origin
# (formatted through a loop device over the mounted origin.img), takes a live snapshot, changes
# the origin, and shows that the snapshot still holds the old files. Cleans up after itself;
# DEMO_KEEP=1 leaves the image directory (under /tmp) for you to explore.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SNAPCOW_DEMO_BUILD:-/tmp/snapcowfs-build/demo}
export DEBIAN_FRONTEND=noninteractive

# sums DIR: sha256 of the regular files at the top of DIR.
sums() { (cd "$1" && find . -maxdepth 1 -type f -printf '%P\0' | sort -z | xargs -0 sha256sum); }
listing() { (cd "$1" && find . -maxdepth 1 -type f -printf '%P\0' | sort -z | xargs -0 ls -l --time-style=+); }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

[ "$(id -u)" = 0 ] || { echo "scripts/demo.sh: run as root (sudo): it attaches loop devices and mounts" >&2; exit 1; }

PKGS=(build-essential cmake pkg-config libfuse3-dev fuse3 libfmt-dev libboost-program-options-dev
  catch2 e2fsprogs util-linux python3)
bash "$ROOT/scripts/install-deps.sh" "${PKGS[@]}"
[ -c /dev/fuse ] || modprobe fuse || { echo "scripts/demo.sh: /dev/fuse is missing" >&2; exit 1; }

say "building into $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target snapcowfs snapcowctl
SNAPCOWFS=$BUILD/fusefs/snapcowfs
SNAPCOWCTL=$BUILD/utils/snapcowctl
[ -x "$SNAPCOWFS" ] || SNAPCOWFS=$(find "$BUILD" -type f -name snapcowfs -perm -u+x | head -n 1)
[ -x "$SNAPCOWCTL" ] || SNAPCOWCTL=$(find "$BUILD" -type f -name snapcowctl -perm -u+x | head -n 1)

D=$(mktemp -d /tmp/snapcowfs-demo.XXXXXX)
IMG=$D/images MNT=$D/mnt FS=$D/origin-fs SNAPFS=$D/snapshot-fs
mkdir -p "$IMG" "$MNT" "$FS" "$SNAPFS"
LO="" SLO=""
cleanup() {
  set +e
  mountpoint -q "$SNAPFS" && umount "$SNAPFS"
  mountpoint -q "$FS" && umount "$FS"
  [ -n "$SLO" ] && losetup -d "$SLO"
  [ -n "$LO" ] && losetup -d "$LO"
  mountpoint -q "$MNT" && fusermount3 -u "$MNT"
  if [ "${DEMO_KEEP:-0}" = 1 ]; then echo "kept $IMG (origin.img, snap-1.cow)"; else rm -rf "$D"; fi
}
trap cleanup EXIT

say "an image directory with a 128 MiB origin, mounted with snapcowfs"
run truncate -s 128M "$IMG/origin.img"
run "$SNAPCOWFS" "$IMG" "$MNT"
for _ in $(seq 50); do [ -e "$MNT/origin.img" ] && break; sleep 0.1; done
run ls -l "$MNT"

say "ext4 on a loop device over $MNT/origin.img, with a few files"
LO=$(losetup -f --show "$MNT/origin.img")
echo "$LO -> $MNT/origin.img"
run mkfs.ext4 -q "$LO"
run mount "$LO" "$FS"
cp /etc/os-release "$FS/os-release"
seq 1 100000 >"$FS/numbers.txt"
echo "the original greeting" >"$FS/greeting.txt"
head -c 8M /dev/urandom >"$FS/random.bin"
sync -f "$FS"
sums "$FS" >"$D/before.sha256"

say "a live snapshot (the filesystem frozen for a moment, so it is consistent)"
run fsfreeze -f "$FS"
SNAP=$("$SNAPCOWCTL" snapshot create "$MNT") || { fsfreeze -u "$FS"; exit 1; }
run fsfreeze -u "$FS"
echo "created: $SNAP"
run ls -l "$MNT"

say "changing the origin: edit, delete, add"
echo "a new greeting" >"$FS/greeting.txt"
rm "$FS/numbers.txt"
head -c 16M /dev/urandom >"$FS/new.bin"
sync -f "$FS"
run "$SNAPCOWCTL" status "$MNT"

say "the snapshot, attached read-only"
SLO=$(losetup -r -f --show "$MNT/$SNAP.img")
run mount -o ro,noload "$SLO" "$SNAPFS"
echo "--- origin now:"
listing "$FS"; sums "$FS"
echo "--- $SNAP:"
listing "$SNAPFS"; sums "$SNAPFS"
echo "--- greeting.txt: origin says '$(cat "$FS/greeting.txt")', $SNAP says '$(cat "$SNAPFS/greeting.txt")'"
if (cd "$SNAPFS" && sha256sum --quiet -c "$D/before.sha256"); then
  say "the snapshot holds exactly the files as they were when it was taken"
else
  echo "scripts/demo.sh: the snapshot differs from the files at snapshot time" >&2
  exit 1
fi
