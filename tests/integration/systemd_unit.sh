#!/usr/bin/env bash
# packaging/systemd/snapcowfs@.service as systemd would run it, without systemd as PID 1: its
# ExecStart, KillSignal and ExecStopPost, read from the unit file (tests/tools/unit_exec.py)
# for an instance whose path needs escaping. Checks that the daemon reports READY=1 only once
# the mount is up; that the stop signal unmounts, exits 0 and leaves the origin and a
# snapshot's COW committed (synced on the way out, parsed offline, the same after a restart);
# that ExecStopPost clears the dead mount a crash leaves and never touches a live one; and
# that a directory without origin.img fails the start with one line.
. "$(dirname "$0")/lib.sh"

UNIT=$TESTS_DIR/../packaging/systemd/snapcowfs@.service
UX=("$PYTHON" "$TOOLS_DIR/unit_exec.py")
DMCOW=("$PYTHON" "$TOOLS_DIR/dmcow.py")
[ -f "$UNIT" ] || fail "no unit file at $UNIT"
command -v strace >/dev/null || fail "strace not found (Debian package strace)"

IMG=$T/vm-1 # the '-' becomes \x2d in the instance name
MiB=$((1 << 20))
SIZE=$((64 * MiB))
mkdir -p "$IMG"
truncate -s $SIZE "$IMG/origin.img"
INSTANCE=$(systemd-escape --path "$IMG") || fail "systemd-escape --path $IMG"
F=$(systemd-escape --unescape --path "$INSTANCE") || fail "systemd-escape --unescape $INSTANCE"
[ "$F" = "$IMG" ] || fail "instance $INSTANCE unescapes to '$F', not $IMG"
log "instance snapcowfs@$INSTANCE.service"

unit_get() { "${UX[@]}" get "$UNIT" "$1" 2>"$T/ux.err" || fail "$1=: $(cat "$T/ux.err")"; }
TYPE=$(unit_get Type) || exit 1
[ "$TYPE" = notify ] || fail "this test models Type=notify; the unit has Type=$TYPE"
SIG=$(unit_get KillSignal) || exit 1
SIG=${SIG#SIG}

# unit_argv KEY [DIR]: PREFIX and ARGV from the unit's KEY= for the instance DIR (default $F).
unit_argv() {
  local items=()
  mapfile -d '' items < <("${UX[@]}" exec "$UNIT" "$1" "${2:-$F}" 2>"$T/ux.err")
  [ ${#items[@]} -ge 2 ] || fail "$1=: $(cat "$T/ux.err")"
  PREFIX=${items[0]}
  ARGV=("${items[@]:1}")
}

# The daemon from ExecStart, with the built binary in place of /usr/sbin/snapcowfs.
start_argv() {
  unit_argv ExecStart "$@"
  [ -z "$PREFIX" ] || fail "ExecStart= has prefix '$PREFIX': a failed start would be ignored"
  [ "${ARGV[0]}" = /usr/sbin/snapcowfs ] || fail "ExecStart= runs ${ARGV[0]}, not /usr/sbin/snapcowfs"
  ARGV[0]=$SNAPCOWFS
}

# Receives one sd_notify datagram and looks at the mount at that moment.
LISTENER='
import os, socket, sys
path, mnt = sys.argv[1:3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(30)
try:
    msg = s.recv(4096).decode().strip()
except socket.timeout:
    sys.exit("no notification within 30 s")
origin = os.path.exists(os.path.join(mnt, "origin.img"))
print(f"{msg} mounted={int(os.path.ismount(mnt))} origin={int(origin)}")
'

# unit_start: ExecStart as systemd runs it (foreground, NOTIFY_SOCKET set); returns once READY=1
# has arrived, which must find the mount up. Sets DAEMON_PID.
unit_start() {
  local listener rc i
  start_argv
  rm -f "$T/notify.sock"
  "$PYTHON" -c "$LISTENER" "$T/notify.sock" "$IMG" >"$T/notify.out" 2>&1 &
  listener=$!
  _BG+=("$listener")
  for ((i = 0; i < 100; i++)); do [ -S "$T/notify.sock" ] && break; sleep 0.1; done
  [ -S "$T/notify.sock" ] || fail "the notify listener did not bind $T/notify.sock"
  NOTIFY_SOCKET=$T/notify.sock "${ARGV[@]}" >>"$T/daemon.log" 2>&1 &
  DAEMON_PID=$!
  _PIDS+=("$DAEMON_PID")
  _FUSE+=("$IMG")
  wait "$listener" && rc=0 || rc=$?
  [ "$rc" = 0 ] || fail "no READY=1 from ${ARGV[*]}: $(cat "$T/notify.out")"
  [ "$(cat "$T/notify.out")" = "READY=1 mounted=1 origin=1" ] ||
    fail "at READY=1 the mount was not up: $(cat "$T/notify.out")"
}

# unit_stop: the unit's KillSignal to the daemon (KillMode=mixed); it must exit 0, unmounted.
# The stop path is traced: it must fdatasync origin.img before the daemon is gone.
unit_stop() {
  local tracer rc i t attached
  strace -f -qq -y -e trace=fsync,fdatasync -o "$T/stop.strace" -p "$DAEMON_PID" 2>"$T/strace.err" &
  tracer=$!
  _BG+=("$tracer")
  for ((i = 0; i < 100; i++)); do
    attached=1
    for t in /proc/"$DAEMON_PID"/task/*; do
      [ "$(awk '/^TracerPid:/ {print $2}' "$t/status" 2>/dev/null)" = "$tracer" ] || attached=0
    done
    [ "$attached" = 1 ] && break
    sleep 0.1
  done
  [ "$attached" = 1 ] || fail "strace did not attach to every thread of $DAEMON_PID: $(cat "$T/strace.err")"
  kill -s "$SIG" "$DAEMON_PID" || fail "kill -s $SIG $DAEMON_PID"
  for ((i = 0; i < 600; i++)); do alive "$DAEMON_PID" || break; sleep 0.1; done
  alive "$DAEMON_PID" && fail "the daemon still runs 60 s after SIG$SIG"
  wait "$DAEMON_PID" && rc=0 || rc=$?
  [ "$rc" = 0 ] || fail "the daemon exited $rc on SIG$SIG, expected 0"
  mountpoint -q "$IMG" && fail "$IMG is still mounted after the daemon exited"
  wait "$tracer" 2>/dev/null
  # The sync may show as one line, or (another thread syncing at the same time) as
  # "<unfinished ...>" and a later "<... fdatasync resumed>) = 0" of the same thread.
  awk -v f="<$IMG/origin.img>" '
    /^[0-9]+ +f(data)?sync\(/ && index($0, f ") = 0") { ok = 1 }
    /^[0-9]+ +f(data)?sync\(/ && index($0, f " <unfinished") { pend[$1] = 1 }
    /^[0-9]+ +<\.\.\. f(data)?sync resumed>\) += 0/ && pend[$1] { ok = 1 }
    END { exit !ok }' "$T/stop.strace" ||
    fail "the stop path did not sync origin.img: $(head -c 600 "$T/stop.strace")"
}

# unit_stop_post: ExecStopPost= (its "-" prefix only hides a failure from systemd: it must
# still succeed here).
unit_stop_post() {
  unit_argv ExecStopPost
  timeout "$TO_SHORT" "${ARGV[@]}" >"$T/stoppost.out" 2>&1 ||
    fail "ExecStopPost= exited $?: $(cat "$T/stoppost.out")"
}

# region FILE OFFSET_MIB: 4 MiB of FILE at OFFSET_MIB, to stdout.
region() { dd if="$1" bs=1M skip="$2" count=4 status=none; }
same_region() {
  cmp <(region "$1" "$2") "$3" >/dev/null || fail "$4: $1 at ${2} MiB differs from $(basename "$3")"
}

for x in a b c; do head -c $((4 * MiB)) /dev/urandom >"$T/$x.bin"; done
head -c $((4 * MiB)) /dev/zero >"$T/zero.bin"

log "start: READY=1 only once the mount is up"
unit_start

log "write A, snapshot, write B over it and C into the snapshot (no fsync), stop with SIG$SIG"
dd if="$T/a.bin" of="$IMG/origin.img" bs=1M conv=notrunc,fsync status=none || fail "write A"
S1=$(snap_create "$IMG") || exit 1
[ "$S1" = snap-1 ] || fail "expected snap-1, got $S1"
dd if="$T/b.bin" of="$IMG/origin.img" bs=1M conv=notrunc status=none || fail "write B"
dd if="$T/c.bin" of="$IMG/$S1.img" bs=1M seek=8 conv=notrunc status=none || fail "write C"
unit_stop

log "offline: snapshot listed, origin has B, snap-1.cow parses and rebuilds to A + C"
ctl_ok snapshot list "$IMG" | grep -qw "$S1" || fail "offline snapshot list does not show $S1: $(ctl snapshot list "$IMG")"
ctl_ok status "$IMG" | grep -qw "$S1" || fail "offline status does not show $S1: $(ctl status "$IMG")"
same_region "$IMG/origin.img" 0 "$T/b.bin" "origin after stop"
"${DMCOW[@]}" check "$IMG/$S1.cow" --origin-size $SIZE >"$T/check.out" 2>&1 ||
  fail "dmcow.py check $S1.cow: $(head -n 20 "$T/check.out")"
"${DMCOW[@]}" rebuild "$IMG/$S1.cow" --origin "$IMG/origin.img" --size $SIZE --out "$T/s1.rebuilt" \
  >"$T/rebuild.out" 2>&1 || fail "dmcow.py rebuild $S1.cow: $(head -n 20 "$T/rebuild.out")"
same_region "$T/s1.rebuilt" 0 "$T/a.bin" "$S1 rebuilt from its COW"
same_region "$T/s1.rebuilt" 4 "$T/zero.bin" "$S1 rebuilt from its COW"
same_region "$T/s1.rebuilt" 8 "$T/c.bin" "$S1 rebuilt from its COW"

log "ExecStopPost after a clean stop: nothing to do"
unit_stop_post
mountpoint -q "$IMG" && fail "ExecStopPost mounted something on $IMG"

log "restart: the same data through the mount"
unit_start
same_region "$IMG/origin.img" 0 "$T/b.bin" "origin after restart"
same_region "$IMG/$S1.img" 0 "$T/a.bin" "$S1 after restart"
same_region "$IMG/$S1.img" 8 "$T/c.bin" "$S1 after restart"

log "kill -9 leaves a dead mount; ExecStopPost clears it and the unit starts again"
kill -KILL "$DAEMON_PID"
wait_gone "$DAEMON_PID" 10 || fail "the daemon survived kill -9"
stat "$IMG" >/dev/null 2>&1 && fail "set-up: $IMG is still reachable after kill -9 of its daemon"
findmnt -n --mountpoint "$IMG" >/dev/null || fail "set-up: no dead mount on $IMG after kill -9"
unit_stop_post
findmnt -n --mountpoint "$IMG" >/dev/null && fail "ExecStopPost left the dead mount on $IMG"
unit_start
same_region "$IMG/$S1.img" 0 "$T/a.bin" "$S1 after kill -9 and restart"
unit_stop

log "ExecStopPost leaves a live mount alone (another daemon holding the directory)"
start_daemon_fg "$IMG" "$IMG" "$T/other.log"
unit_stop_post
mountpoint -q "$IMG" || fail "ExecStopPost unmounted a live snapcowfs mount"
same_region "$IMG/origin.img" 0 "$T/b.bin" "origin through the other daemon"
stop_daemon_term "$IMG"

log "a directory without origin.img: the start fails with one line, nothing mounted"
mkdir -p "$T/empty-dir"
start_argv "$T/empty-dir"
NOTIFY_SOCKET=$T/none.sock timeout "$TO_SHORT" "${ARGV[@]}" >"$T/empty.out" 2>&1 && fail "ExecStart succeeded without origin.img"
[ "$(grep -c . "$T/empty.out")" = 1 ] && grep -q "origin\.img" "$T/empty.out" ||
  fail "expected one line naming origin.img: $(cat "$T/empty.out")"
mountpoint -q "$T/empty-dir" && fail "$T/empty-dir is mounted after a failed start"
exit 0
