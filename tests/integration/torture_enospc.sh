#!/usr/bin/env bash
# A real full filesystem under the image directory (a 12 MiB tmpfs holding an 8 MiB origin):
# COW writes hit ENOSPC. dm semantics: a snapshot whose COW cannot grow becomes Invalid (its
# reads fail with EIO, the header says so across a restart), a --overflow keep snapshot whose
# own write finds no room fails that write with ENOSPC and stays readable (Overflow); the
# origin keeps working and holds every write; `status` says all this; nothing hangs or crashes.
. "$(dirname "$0")/lib.sh"

IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG"
mount_fs -t tmpfs -o size=12M tmpfs "$IMG"
# The origin fully allocated: only the COW stores compete for the 4 MiB left.
dd if=/dev/urandom of="$IMG/origin.img" bs=1M count=8 status=none || fail "cannot fill origin.img"

# status_of SNAP: the dm status word of SNAP ("Invalid", "Overflow" or "<alloc>/<total>").
status_of() {
  ctl_ok status "$MNT" >"$T/status.out" || exit 1
  awk -v s="$1:" '$1 == s { print $5 }' "$T/status.out"
}

# write_origin GEN: 8 MiB of new data over the whole origin (O_DIRECT, fsync); must succeed.
write_origin() {
  dd if=/dev/urandom of="$T/origin.$1" bs=1M count=8 status=none
  timeout "$TO_LONG" dd if="$T/origin.$1" of="$MNT/origin.img" bs=256k oflag=direct conv=fsync,notrunc status=none 2>"$T/dd.err" ||
    fail "origin write $1 failed while a COW store was full (the origin must keep working): $(cat "$T/dd.err")"
  timeout "$TO_LONG" cmp "$T/origin.$1" "$MNT/origin.img" >"$T/cmp.out" 2>&1 ||
    fail "the origin does not hold write $1: $(cat "$T/cmp.out")"
}

start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"

log "an unlimited snapshot overflows the filesystem: it becomes Invalid, the origin goes on"
S1=$(snap_create --chunk-size 16K "$MNT") || exit 1
write_origin 1
st=$(status_of "$S1")
[ "$st" = Invalid ] || fail "$S1 after its COW hit ENOSPC: status '$st', expected Invalid ($(cat "$T/status.out"))"
grep -q "No space left\|ENOSPC\|full\|space" "$T/daemon.log" || log "note: the daemon log does not mention the ENOSPC"
timeout "$TO_SHORT" dd if="$MNT/$S1.img" of=/dev/null bs=64k count=1 status=none 2>"$T/dd.err" &&
  fail "reading the Invalid $S1 succeeded; expected EIO"
grep -q "Input/output error" "$T/dd.err" || fail "reading the Invalid $S1: expected EIO, got: $(cat "$T/dd.err")"
write_origin 2

log "Invalid is durable: still Invalid after a restart"
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
st=$(status_of "$S1")
[ "$st" = Invalid ] || fail "$S1 after a restart: status '$st', expected Invalid"
same_bytes "$T/origin.2" "$MNT/origin.img" "origin after restart"
for ((i = 0; i < 50; i++)); do ctl snapshot delete "$MNT" "$S1" >/dev/null && break; sleep 0.1; done
[ -e "$MNT/$S1.img" ] && fail "cannot delete the Invalid $S1: $(cat "$T/ctl.err")"

log "--overflow keep: the snapshot's own write that finds no room fails with ENOSPC; it stays readable"
S2=$(snap_create --chunk-size 4K --overflow keep "$MNT") || exit 1
dd if=/dev/urandom of="$T/snapdata" bs=1M count=8 status=none
timeout "$TO_LONG" dd if="$T/snapdata" of="$MNT/$S2.img" bs=64k oflag=direct conv=notrunc status=none 2>"$T/dd.err" &&
  fail "8 MiB of writes into $S2 succeeded with only ~4 MiB free"
grep -q "No space left" "$T/dd.err" || fail "the overflowing write to $S2 failed, but not with ENOSPC: $(cat "$T/dd.err")"
written=$(stat -c %s "$MNT/$S2.img")
st=$(status_of "$S2")
[ "$st" = Overflow ] || fail "$S2 after ENOSPC in keep mode: status '$st', expected Overflow ($(cat "$T/status.out"))"
# It stays readable: the first 1 MiB was written before the filesystem filled up.
timeout "$TO_SHORT" cmp -n 1048576 "$T/snapdata" "$MNT/$S2.img" >"$T/cmp.out" 2>&1 ||
  fail "$S2 (Overflow) does not read back its first acknowledged MiB: $(cat "$T/cmp.out")"
[ "$written" = $((8 << 20)) ] || fail "$S2 size changed to $written"
timeout "$TO_SHORT" dd if="$MNT/$S2.img" of=/dev/null bs=1M status=none 2>"$T/dd.err" ||
  fail "reading the overflowed $S2 failed: $(cat "$T/dd.err")"

log "the origin keeps working with an overflowed snapshot (dm: its copy failing invalidates it)"
write_origin 3
st=$(status_of "$S2")
case $st in Invalid | Overflow) ;; *) fail "$S2 after origin writes with no room: status '$st'" ;; esac

log "the daemon is alive and answers; restart once more, the origin holds the last write"
ctl_ok snapshot list "$MNT" >/dev/null || exit 1
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
same_bytes "$T/origin.3" "$MNT/origin.img" "origin after the final restart"
stop_daemon "$MNT"
exit 0
