#!/usr/bin/env bash
# qemu-io with O_DIRECT and native AIO (-t none -i native), as a VM with cache=none would do:
# patterns written before a snapshot read back from it after the origin was overwritten;
# snapshot writes stay out of the origin; discard on the origin leaves the snapshot intact;
# a second snapshot sees the origin as it was at its own creation; all of it survives a restart.
. "$(dirname "$0")/lib.sh"

command -v qemu-io >/dev/null || fail "qemu-io not found (package qemu-utils)"

IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG"
truncate -s 64M "$IMG/origin.img"

# qio FILE CMD...: each CMD is one qemu-io -c command; all must succeed (patterns included).
qio() {
  local f=$1 c args=()
  shift
  for c in "$@"; do args+=(-c "$c"); done
  timeout "$TO_SHORT" qemu-io -f raw -t none -i native "${args[@]}" "$f" >"$T/qio.out" 2>&1
  local rc=$?
  [ "$rc" != 124 ] || fail "qemu-io on $(basename "$f") hung: $*"
  if [ "$rc" != 0 ] || grep -Eiq 'fail|error' "$T/qio.out"; then
    fail "qemu-io on $(basename "$f") [$*] exited $rc: $(grep -Ei 'fail|error' "$T/qio.out" | head -n 5)"
  fi
}

K=1024
M=$((1024 * 1024))

log "mount; write patterns on the origin"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
qio "$MNT/origin.img" \
  "write -P 0xaa 0 1M" \
  "write -P 0x11 $((8 * M + 4 * K)) 12k" \
  "write -P 0x33 $((16 * M)) 1M" \
  "write -P 0x44 $((63 * M)) 1M"

log "snapshot 1"
S1=$(snap_create "$MNT") || exit 1
[ "$S1" = snap-1 ] || fail "first snapshot is $S1"

log "overwrite the origin"
qio "$MNT/origin.img" \
  "write -P 0xbb 0 1M" \
  "write -P 0x22 $((8 * M + 6 * K)) 4k" \
  "write -P 0x55 $((63 * M + 512)) 512"
qio "$MNT/origin.img" "read -P 0xbb 0 1M" "read -P 0x11 $((8 * M + 4 * K)) 2k" \
  "read -P 0x22 $((8 * M + 6 * K)) 4k" "read -P 0x11 $((8 * M + 10 * K)) 6k"
qio "$MNT/snap-1.img" "read -P 0xaa 0 1M" "read -P 0x11 $((8 * M + 4 * K)) 12k" \
  "read -P 0x33 $((16 * M)) 1M" "read -P 0x44 $((63 * M)) 1M" "read -P 0 $((2 * M)) 1M"

log "snapshot writes do not reach the origin"
qio "$MNT/snap-1.img" "write -P 0xcc $((2 * M)) 1M" "write -P 0xcc 0 64k" "write -P 0xcd $((8 * M + 5 * K)) 1k"
qio "$MNT/snap-1.img" "read -P 0xcc $((2 * M)) 1M" "read -P 0xcc 0 64k" "read -P 0xaa 64k $((M - 64 * K))" \
  "read -P 0x11 $((8 * M + 4 * K)) 1k" "read -P 0xcd $((8 * M + 5 * K)) 1k" "read -P 0x11 $((8 * M + 6 * K)) 10k"
qio "$MNT/origin.img" "read -P 0 $((2 * M)) 1M" "read -P 0xbb 0 1M" "read -P 0x22 $((8 * M + 6 * K)) 4k"

log "discard on the origin leaves the snapshot intact"
qio "$MNT/origin.img" "discard 0 1M" "discard $((16 * M)) 1M" "write -z $((63 * M)) 1M"
qio "$MNT/origin.img" "read -P 0 0 1M" "read -P 0 $((16 * M)) 1M" "read -P 0 $((63 * M)) 1M"
qio "$MNT/snap-1.img" "read -P 0xcc 0 64k" "read -P 0xaa 64k $((M - 64 * K))" \
  "read -P 0x33 $((16 * M)) 1M" "read -P 0x44 $((63 * M)) 1M"

log "snapshot 2 sees the origin at its own creation"
S2=$(snap_create "$MNT") || exit 1
[ "$S2" = snap-2 ] || fail "second snapshot is $S2"
qio "$MNT/origin.img" "write -P 0xdd 0 2M" "write -P 0xde $((16 * M)) 64k"
qio "$MNT/snap-2.img" "read -P 0 0 1M" "read -P 0 $((M)) 1M" "read -P 0 $((16 * M)) 64k" "read -P 0x22 $((8 * M + 6 * K)) 4k"
qio "$MNT/snap-1.img" "read -P 0xcc 0 64k" "read -P 0xaa 64k $((M - 64 * K))" "read -P 0 $((M)) 1M" \
  "read -P 0xcc $((2 * M)) 1M" "read -P 0x33 $((16 * M)) 1M"
qio "$MNT/origin.img" "read -P 0xdd 0 2M" "read -P 0xde $((16 * M)) 64k"

log "restart (SIGTERM), everything still there"
stop_daemon_term "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
qio "$MNT/origin.img" "read -P 0xdd 0 2M" "read -P 0xde $((16 * M)) 64k" "read -P 0 $((63 * M)) 1M" \
  "read -P 0x22 $((8 * M + 6 * K)) 4k"
qio "$MNT/snap-1.img" "read -P 0xcc 0 64k" "read -P 0xaa 64k $((M - 64 * K))" "read -P 0 $((M)) 1M" \
  "read -P 0xcc $((2 * M)) 1M" "read -P 0x11 $((8 * M + 4 * K)) 1k" "read -P 0xcd $((8 * M + 5 * K)) 1k" \
  "read -P 0x33 $((16 * M)) 1M" "read -P 0x44 $((63 * M)) 1M"
qio "$MNT/snap-2.img" "read -P 0 0 2M" "read -P 0 $((16 * M)) 64k" "read -P 0x22 $((8 * M + 6 * K)) 4k"
stop_daemon "$MNT"
exit 0
