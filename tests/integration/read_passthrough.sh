#!/usr/bin/env bash
# Read-only opens of origin.img through FUSE passthrough (--read-passthrough, and always with
# -o ro; fusefs/passthrough.h). Where the kernel offers passthrough: reads of a read-only
# open never reach the daemon (no READ request in its -d log) and return the origin's bytes,
# also after writes through a writable open and through mmap; a writable open waits for a
# live passthrough open to close and then fails with EBUSY, and succeeds once it is closed;
# snapshots are unaffected. Where the kernel does not offer it, the daemon says so once and
# every open works as without the option.
. "$(dirname "$0")/lib.sh"

IMG=$T/img
MNT=$T/mnt
LOG=$T/daemon.log
mkdir -p "$IMG"
head -c $((16 << 20)) /dev/urandom >"$IMG/origin.img"

# reads_of_origin: READ requests for origin.img (inode 2) the daemon has logged so far.
reads_of_origin() { grep -c 'opcode: READ (15), nodeid: 2,' "$LOG" || true; }
# write_patch BLOCK: $T/patch into origin.img at 64 KiB block BLOCK, O_DIRECT; dd's stderr
# goes to $T/dd.err.
write_patch() {
  timeout "$TO_SHORT" dd if="$T/patch" of="$MNT/origin.img" bs=64k seek="$1" oflag=direct \
    conv=notrunc status=none 2>"$T/dd.err"
}
# patched BASE SEEK OUT: OUT is BASE with the patch at SEEK (64 KiB blocks), what origin.img
# holds after write_patch SEEK. It is built here, not copied from IMAGEDIR: an acknowledged
# first write may still be in the write journal, not yet in origin.img (FORMAT.md section 7).
patched() {
  cp "$1" "$3.tmp" && dd if="$T/patch" of="$3.tmp" bs=64k seek="$2" conv=notrunc status=none &&
    mv "$3.tmp" "$3"
}
# same FILE_A FILE_B WHAT
same() { cmp -s "$1" "$2" || fail "$3: contents differ"; }
# read_bypasses EXPECTED WHAT: an O_DIRECT read of origin.img returns EXPECTED and sends the
# daemon no READ.
read_bypasses() {
  local n
  n=$(reads_of_origin)
  timeout "$TO_SHORT" dd if="$MNT/origin.img" of="$T/read" bs=64k iflag=direct status=none || fail "$2: read failed"
  same "$T/read" "$1" "$2"
  [ "$(reads_of_origin)" = "$n" ] || fail "$2: the read reached the daemon (no passthrough)"
}

start_daemon_fg "$IMG" "$MNT" "$LOG" -d --read-passthrough
ctl_ok snapshot create "$MNT" >/dev/null
cp "$IMG/origin.img" "$T/before.img"
# A writable open while none is read-only: new data through the daemon, COW into snap-1.
head -c $((1 << 20)) /dev/urandom >"$T/patch"
write_patch 16 || fail "writing the origin failed: $(cat "$T/dd.err")"
patched "$T/before.img" 16 "$T/after.img"

n0=$(reads_of_origin)
timeout "$TO_SHORT" dd if="$MNT/origin.img" of="$T/read-direct" bs=64k iflag=direct status=none ||
  fail "O_DIRECT read of origin.img failed"
timeout "$TO_SHORT" cat "$MNT/origin.img" >"$T/read-cached" || fail "buffered read of origin.img failed"
same "$T/read-direct" "$T/after.img" "O_DIRECT read of origin.img"
same "$T/read-cached" "$T/after.img" "buffered read of origin.img"
n1=$(reads_of_origin)

if grep -q 'read passthrough off' "$LOG"; then
  log "this kernel has no FUSE passthrough: $(grep 'read passthrough off' "$LOG" | head -n1)"
  [ "$n1" -gt "$n0" ] || fail "passthrough is off, yet no READ of origin.img reached the daemon"
  exec 3<"$MNT/origin.img"
  write_patch 64 || fail "a writable open failed next to a read-only one without passthrough: $(cat "$T/dd.err")"
  exec 3<&-
  stop_daemon "$MNT"
  log "fallback checked: reads went through the daemon"
  exit 0
fi

grep -q 'use FUSE passthrough' "$LOG" || fail "the daemon did not report passthrough: $(tail -n 5 "$LOG")"
[ "$n1" = "$n0" ] || fail "$((n1 - n0)) READ requests of origin.img reached the daemon through passthrough opens"

# mmap of a passthrough open sees the same bytes.
"$PYTHON" - "$MNT/origin.img" "$T/after.img" <<'PY' || fail "mmap of origin.img differs from the origin"
import mmap, sys
with open(sys.argv[1], "rb") as f, open(sys.argv[2], "rb") as g:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    sys.exit(0 if m[:] == g.read() else 1)
PY

# A live passthrough open: a writable open is refused with EBUSY and changes nothing.
exec 3<"$MNT/origin.img"
if write_patch 64; then
  fail "a writable open succeeded while a passthrough open was live"
fi
grep -q 'Device or resource busy' "$T/dd.err" || fail "a writable open next to a passthrough one failed with: $(cat "$T/dd.err")"
same "$IMG/origin.img" "$T/after.img" "origin.img after a refused writable open"
# ... and a read through the live descriptor still works.
head -c 4096 <&3 >"$T/head" && same "$T/head" <(head -c 4096 "$T/after.img") "read through a held passthrough open"
exec 3<&-
# Once it is closed (its release may arrive late: the daemon waits for it), writes work and
# later passthrough reads see them.
write_patch 64 || fail "a writable open after the passthrough open closed failed: $(cat "$T/dd.err")"
patched "$T/after.img" 64 "$T/after2.img"
read_bypasses "$T/after2.img" "passthrough read after a write"

# While a writable open lives, read-only opens are served by the daemon (the kernel keeps a
# passthrough backing file while parallel writes are in flight, and would then refuse the
# next writable open), and further writable opens work.
exec 4<>"$MNT/origin.img"
n=$(reads_of_origin)
timeout "$TO_SHORT" dd if="$MNT/origin.img" of="$T/read3" bs=64k iflag=direct status=none || fail "read next to a writer failed"
same "$T/read3" "$T/after2.img" "read-only open next to a writer"
[ "$(reads_of_origin)" -gt "$n" ] || fail "a read-only open next to a writable one was passthrough"
write_patch 128 || fail "a second writable open next to a writer failed: $(cat "$T/dd.err")"
exec 4<&-
patched "$T/after2.img" 128 "$T/after2.img"
read_bypasses "$T/after2.img" "passthrough read once the writers closed"

# The snapshot is still the origin before the first write, served by the daemon.
same "$MNT/snap-1.img" "$T/before.img" "snap-1.img"
stop_daemon "$MNT"

# --read-passthrough needs a second worker for the releases a writable open waits for.
"$SNAPCOWFS" -f --read-passthrough --threads 1 "$IMG" "$MNT" 2>"$T/threads.err" && fail "--threads 1 was accepted"
grep -q "needs --threads 2" "$T/threads.err" || fail "--threads 1: $(cat "$T/threads.err")"

# One worker through the request gate (fusefs/request_gate.h): a writable open that waits for
# a late release holds that worker, and the gate must let another one take the release.
: >"$LOG"
start_daemon_fg "$IMG" "$MNT" "$LOG" -d --read-passthrough --active-threads 1
exec 3<"$MNT/origin.img"
exec 3<&-
write_patch 192 || fail "with --active-threads 1, a writable open after a passthrough open closed failed: $(cat "$T/dd.err")"
patched "$T/after2.img" 192 "$T/after2.img"
read_bypasses "$T/after2.img" "passthrough read with --active-threads 1"
stop_daemon "$MNT"
same "$IMG/origin.img" "$T/after2.img" "origin.img after a clean unmount"

# -o ro: passthrough without the option.
: >"$LOG"
start_daemon_fg "$IMG" "$MNT" "$LOG" -d -o ro
read_bypasses "$T/after2.img" "origin.img on an ro mount"
same "$MNT/snap-1.img" "$T/before.img" "snap-1.img on an ro mount"
stop_daemon "$MNT"
