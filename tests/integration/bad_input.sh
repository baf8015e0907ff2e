#!/usr/bin/env bash
# Bad input: each case must exit non-zero (where it cannot serve) with one clear message that
# names what is wrong; a corrupt COW file leaves that snapshot out and the rest served.
. "$(dirname "$0")/lib.sh"

IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG" "$MNT" "$T/empty"
truncate -s 16M "$IMG/origin.img"

log "missing IMAGEDIR"
expect_fail_msg "no such|not exist|does not exist" "$SNAPCOWFS" -f "$T/nonexistent" "$MNT"
grep -q "nonexistent" "$T/last.out" || fail "the message for a missing IMAGEDIR does not name it: $(cat "$T/last.out")"
mountpoint -q "$MNT" && fail "$MNT is mounted after a failed start"

log "IMAGEDIR without origin.img"
expect_fail_msg "origin\.img" "$SNAPCOWFS" -f "$T/empty" "$MNT"
mountpoint -q "$MNT" && fail "$MNT is mounted after a failed start"

log "IMAGEDIR that is a file"
expect_fail_msg "not a directory" "$SNAPCOWFS" -f "$IMG/origin.img" "$MNT"

log "missing MOUNTPOINT"
expect_fail_msg "no such|not exist|does not exist" "$SNAPCOWFS" -f "$IMG" "$T/no-such-mountpoint"
grep -q "no-such-mountpoint" "$T/last.out" || fail "the message for a missing MOUNTPOINT does not name it: $(cat "$T/last.out")"

log "unknown option and missing arguments"
expect_fail_msg "unrecogni|unknown|invalid|usage" "$SNAPCOWFS" --no-such-option "$IMG" "$MNT"
expect_fail_msg "usage|missing|required|argument" "$SNAPCOWFS" -f "$IMG"
expect_fail_msg "active-threads must be at most --threads \(4\)" "$SNAPCOWFS" -f --threads 4 --active-threads 5 "$IMG" "$MNT"
mountpoint -q "$MNT" && fail "snapcowfs mounted with --active-threads above --threads"
expect_fail_msg "poll-us must be at most 1000" "$SNAPCOWFS" -f --poll-us 1001 "$IMG" "$MNT"
mountpoint -q "$MNT" && fail "snapcowfs mounted with --poll-us 1001"
expect_fail_msg "unknown|invalid|usage" "$SNAPCOWCTL" frobnicate "$IMG"
grep -q frobnicate "$T/last.out" || fail "the message for an unknown command does not name it: $(cat "$T/last.out")"

log "a second daemon on the same IMAGEDIR names the first"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
FIRST=$DAEMON_PID
mkdir -p "$T/mnt2"
expect_fail_msg "$FIRST|$MNT" "$SNAPCOWFS" -f "$IMG" "$T/mnt2"
mountpoint -q "$T/mnt2" && fail "the second daemon mounted $T/mnt2"
alive "$FIRST" || fail "the first daemon died when a second one was started"
# A refused daemon must not disturb the holder's record: a third try still names the first,
# and snapcowctl still finds the daemon through the image directory.
expect_fail_msg "$FIRST|$MNT" "$SNAPCOWFS" -f "$IMG" "$T/mnt2"
ctl_ok snapshot list "$IMG" >/dev/null || exit 1
echo hello | dd of="$MNT/origin.img" conv=notrunc status=none 2>/dev/null || fail "the first mount stopped working"

log "snapshot names and chunk sizes are validated"
S1=$(snap_create "$MNT") || exit 1
for bad in snap-0 bogus snap-01 snap- snap-1x ../snap-1 snap--1 snap-99999999999; do
  expect_fail_msg "invalid|bad|not a .*name|expected snap" "$SNAPCOWCTL" snapshot delete "$MNT" "$bad"
  grep -qF -- "$bad" "$T/last.out" || fail "the message for snapshot name '$bad' does not name it: $(cat "$T/last.out")"
done
expect_fail_msg "snap-7.*(no such|not found|not exist|does not exist)" "$SNAPCOWCTL" snapshot delete "$MNT" snap-7
for cs in 3K 2K 2G 0 abc 4097 -4K; do
  expect_fail_msg "chunk.*(power of two|invalid|between|range|must)" "$SNAPCOWCTL" snapshot create --chunk-size "$cs" "$MNT"
done
expect_fail_msg "overflow.*(invalidate|keep)" "$SNAPCOWCTL" snapshot create --overflow sometimes "$MNT"
expect_fail_msg "max-size.*invalid|invalid.*max" "$SNAPCOWCTL" snapshot create --max-size lots "$MNT"
n=$(ls "$MNT" | grep -c '^snap-')
[ "$n" = 1 ] || fail "after refused creates $n snapshots are presented, expected 1: $(ls "$MNT")"
n=$(ls "$IMG" | grep -c '\.cow$')
[ "$n" = 1 ] || fail "refused creates left COW files behind: $(ls "$IMG")"

log "delete of an open snapshot is refused"
exec 3<"$MNT/$S1.img"
expect_fail_msg "open|busy|in use" "$SNAPCOWCTL" snapshot delete "$MNT" "$S1"
[ -f "$MNT/$S1.img" ] || fail "refused delete removed $S1.img"
[ -f "$IMG/$S1.cow" ] || fail "refused delete removed $S1.cow"
exec 3<&-
# RELEASE reaches the daemon asynchronously after close(): retry for a few seconds.
for ((i = 0; i < 50; i++)); do
  ctl snapshot delete "$MNT" "$S1" >/dev/null && break
  sleep 0.1
done
[ "$i" -lt 50 ] || fail "snapshot delete of $S1 still refused 5 s after its last fd was closed: $(cat "$T/ctl.err")"
[ ! -e "$IMG/$S1.cow" ] || fail "delete after close left $S1.cow"

log "a corrupt COW file is reported and left out; the origin and other snapshots are served"
printf 'ORIGIN-DATA-0123' | dd of="$MNT/origin.img" conv=notrunc status=none || fail "origin write"
S2=$(snap_create "$MNT") || exit 1
S3=$(snap_create "$MNT") || exit 1
S4=$(snap_create "$MNT") || exit 1
printf 'CHANGED-AFTER-SN' | dd of="$MNT/origin.img" conv=notrunc status=none || fail "origin write"
stop_daemon "$MNT"
printf 'XXXX' | dd of="$IMG/$S2.cow" conv=notrunc status=none                 # bad magic
printf '\x03\x00\x00\x00' | dd of="$IMG/$S3.cow" bs=1 seek=12 conv=notrunc status=none # chunk size 3 sectors
: >"$T/daemon2.log"
start_daemon_fg "$IMG" "$MNT" "$T/daemon2.log"
sleep 0.5
grep -q "$S2.cow" "$T/daemon2.log" || fail "the daemon did not name the corrupt $S2.cow: $(cat "$T/daemon2.log")"
grep -q "$S3.cow" "$T/daemon2.log" || fail "the daemon did not name $S3.cow (chunk size of 3 sectors): $(cat "$T/daemon2.log")"
[ ! -e "$MNT/$S2.img" ] || fail "the corrupt $S2 is presented"
[ ! -e "$MNT/$S3.img" ] || fail "$S3 with a bad chunk size is presented"
[ -f "$MNT/$S4.img" ] || fail "the intact $S4 is not presented: $(ls "$MNT")"
[ "$(head -c 16 "$MNT/$S4.img")" = ORIGIN-DATA-0123 ] || fail "$S4 does not show its data: $(head -c 16 "$MNT/$S4.img" | od -c | head -n 2)"
[ "$(head -c 16 "$MNT/origin.img")" = CHANGED-AFTER-SN ] || fail "the origin does not show its data"
printf 'WRITE-AFTER-LOAD' | dd of="$MNT/origin.img" conv=notrunc status=none || fail "origin write with a corrupt COW present"
[ "$(head -c 16 "$MNT/$S4.img")" = ORIGIN-DATA-0123 ] || fail "$S4 changed after an origin write"
[ -f "$IMG/$S2.cow" ] || fail "the daemon removed the corrupt $S2.cow (it must leave it for the user)"
stop_daemon "$MNT"
grep -q "$S2 marked stale" "$T/daemon2.log" || fail "the daemon did not mark the left-out $S2 stale: $(cat "$T/daemon2.log")"

log "a left-out snapshot that loads again later is Invalid: the origin was written without it"
printf 'SnAp' | dd of="$IMG/$S2.cow" conv=notrunc status=none   # the failure went away
: >"$T/daemon2b.log"
start_daemon_fg "$IMG" "$MNT" "$T/daemon2b.log"
sleep 0.5
[ -f "$MNT/$S2.img" ] || fail "$S2 with its magic back is not presented: $(cat "$T/daemon2b.log")"
ctl status "$MNT" >"$T/status.out" || fail "status: $(cat "$T/status.out")"
grep "^$S2" "$T/status.out" | grep -q Invalid || fail "the stale $S2 is not Invalid: $(cat "$T/status.out")"
if head -c 16 "$MNT/$S2.img" >/dev/null 2>&1; then fail "reading the stale $S2 did not fail"; fi
stop_daemon "$MNT"

log "a truncated COW file is reported too"
truncate -s 1000 "$IMG/$S4.cow"
: >"$T/daemon3.log"
start_daemon_fg "$IMG" "$MNT" "$T/daemon3.log"
sleep 0.5
grep -q "$S4.cow" "$T/daemon3.log" || fail "the daemon did not name the truncated $S4.cow: $(cat "$T/daemon3.log")"
[ ! -e "$MNT/$S4.img" ] || fail "the truncated $S4 is presented"
[ "$(head -c 16 "$MNT/origin.img")" = WRITE-AFTER-LOAD ] || fail "the origin does not show its data"

log "snapcowctl on a served IMAGEDIR goes to the daemon (or names it)"
out=$(timeout "$TO_SHORT" "$SNAPCOWCTL" snapshot create "$IMG" 2>&1) && rc=0 || rc=$?
if [ "$rc" = 0 ]; then
  name=$(printf '%s' "$out" | tr -d '[:space:]')
  [ -f "$MNT/$name.img" ] || fail "snapcowctl snapshot create on the served IMAGEDIR printed '$out' but $name is not served"
else
  printf '%s' "$out" | grep -Eq "$DAEMON_PID|$MNT" ||
    fail "snapcowctl on a served IMAGEDIR failed without naming the daemon that holds it: $out"
fi
stop_daemon "$MNT"
exit 0
