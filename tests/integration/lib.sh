# Shared helpers for the integration tests. Source it first thing:
#   . "$(dirname "$0")/lib.sh"
#
# Every test gets its own temporary directory ($T) and an EXIT trap that, in this order,
# thaws and unmounts filesystems it mounted, detaches loop devices it attached, unmounts the
# snapcowfs mounts it made and kills the daemons it started. Everything a test starts goes
# through the helpers below so the trap knows about it.
#
# Environment (set by ctest; defaults for running a script by hand from a build tree):
#   SNAPCOWFS   path of the snapcowfs binary
#   SNAPCOWCTL  path of the snapcowctl binary
#   PYTHON      python3 interpreter
#   KEEP_TMP=1  keep $T after the test (for debugging)
#
# Exit status: 0 pass, 1 fail, 77 skip (only when /dev/fuse is absent).

set -u
set -o pipefail

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS_DIR=$TESTS_DIR/tools
TEST_NAME=$(basename "$0" .sh)${TEST_VARIANT:+-$TEST_VARIANT}
: "${SNAPCOWFS:=snapcowfs}"
: "${SNAPCOWCTL:=snapcowctl}"
: "${PYTHON:=python3}"

# Timeouts (seconds) around every client: a hang must fail the test, not block CI.
TO_SHORT=${TO_SHORT:-30}
TO_LONG=${TO_LONG:-300}

log() { printf '[%s] %s\n' "$TEST_NAME" "$*" >&2; }
fail() {
  printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}

# ---- preconditions --------------------------------------------------------------------------

if [ ! -c /dev/fuse ]; then
  log "SKIP: /dev/fuse is absent"
  exit 77
fi
[ "$(id -u)" = 0 ] || fail "must run as root (loop devices, mounts); CI runs as root"
for b in "$SNAPCOWFS" "$SNAPCOWCTL"; do
  command -v "$b" >/dev/null 2>&1 || fail "binary not found: $b (set SNAPCOWFS / SNAPCOWCTL)"
done

T=$(mktemp -d "/tmp/snapcow-${TEST_NAME}.XXXXXX")

# ---- bookkeeping for cleanup ----------------------------------------------------------------

_FROZEN=()   # fsfreeze'd mountpoints
_MOUNTS=()   # block-fs mountpoints (unmounted in reverse order)
_LOOPS=()    # loop devices
_FUSE=()     # snapcowfs mountpoints
_PIDS=()     # daemon pids
_BG=()       # background clients (killed first)
_ON_EXIT=()  # commands run last, once the daemons are gone (e.g. a kernel setting put back)

_cleanup() {
  local rc=$? i
  set +e
  for p in "${_BG[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${_BG[@]}"; do wait_gone "$p" 10 || kill -KILL "$p" 2>/dev/null; done
  for ((i = ${#_FROZEN[@]} - 1; i >= 0; i--)); do fsfreeze -u "${_FROZEN[i]}" 2>/dev/null; done
  for ((i = ${#_MOUNTS[@]} - 1; i >= 0; i--)); do
    mountpoint -q "${_MOUNTS[i]}" && { timeout 20 umount "${_MOUNTS[i]}" || umount -l "${_MOUNTS[i]}"; }
  done 2>/dev/null
  for ((i = ${#_LOOPS[@]} - 1; i >= 0; i--)); do
    [ -n "${_LOOPS[i]}" ] && losetup "${_LOOPS[i]}" >/dev/null 2>&1 && timeout 20 losetup -d "${_LOOPS[i]}"
  done 2>/dev/null
  # Loop devices that still point into $T (e.g. a test died between losetup and recording).
  losetup -a 2>/dev/null | grep -F "$T/" | cut -d: -f1 | while read -r d; do losetup -d "$d"; done
  for ((i = ${#_FUSE[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${_FUSE[i]}" 2>/dev/null; then
      timeout 20 fusermount3 -u "${_FUSE[i]}" 2>/dev/null || fusermount3 -u -z "${_FUSE[i]}" 2>/dev/null
    fi
  done
  for p in "${_PIDS[@]}"; do
    if alive "$p"; then
      kill -TERM "$p" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do alive "$p" || break; sleep 0.5; done
      alive "$p" && kill -KILL "$p" 2>/dev/null
    fi
  done
  for c in "${_ON_EXIT[@]}"; do eval "$c"; done
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    log "exit status $rc; daemon logs follow (if any)"
    for f in "$T"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 40 "$f" >&2; }; done
  fi
  if [ "${KEEP_TMP:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "${KEEP_TMP_ON_FAIL:-0}" = 1 ]; }; then
    log "kept $T"
  else
    for ((i = ${#_FUSE[@]} - 1; i >= 0; i--)); do mountpoint -q "${_FUSE[i]}" 2>/dev/null && fusermount3 -u -z "${_FUSE[i]}"; done 2>/dev/null
    rm -rf "$T"
  fi
  if [ "$rc" = 0 ]; then log "PASS"; fi
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# ---- snapcowfs ------------------------------------------------------------------------------

# wait_mounted MNT [PID]: until MNT is a snapcowfs mount showing origin.img (10 s at most).
wait_mounted() {
  local mnt=$1 pid=${2:-} i
  for ((i = 0; i < 100; i++)); do
    if mountpoint -q "$mnt" && [ -e "$mnt/origin.img" ]; then return 0; fi
    if [ -n "$pid" ] && ! alive "$pid"; then
      fail "snapcowfs (pid $pid) exited before $mnt was mounted"
    fi
    sleep 0.1
  done
  fail "$mnt did not become a snapcowfs mount with origin.img within 10 s"
}

# daemon_pid_of IMAGEDIR MNT: the pid of the daemon serving MNT (daemonized mode): the
# snapcowfs process whose argv names MNT, else the pid recorded in the lock file.
daemon_pid_of() {
  local img=$1 mnt=$2 p
  for p in $(pgrep -x "$(basename "$SNAPCOWFS")" 2>/dev/null; pgrep -f "$SNAPCOWFS" 2>/dev/null); do
    tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | grep -qxF "$mnt" && { echo "$p"; return 0; }
  done
  p=$(grep -o 'pid=[0-9]*' "$img/.snapcowfs.lock" 2>/dev/null | head -n1 | cut -d= -f2)
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null && { echo "$p"; return 0; }
  return 1
}

# start_daemon IMAGEDIR MNT [extra args...]: daemonized mode (no -f); sets DAEMON_PID.
start_daemon() {
  local img=$1 mnt=$2
  shift 2
  mkdir -p "$mnt"
  _FUSE+=("$mnt")
  timeout "$TO_SHORT" "$SNAPCOWFS" "$@" "$img" "$mnt" >"$T/daemon-start.out" 2>&1 ||
    fail "snapcowfs $* $img $mnt exited $?: $(cat "$T/daemon-start.out")"
  wait_mounted "$mnt"
  DAEMON_PID=$(daemon_pid_of "$img" "$mnt") || fail "no snapcowfs process found serving $mnt"
  _PIDS+=("$DAEMON_PID")
}

# start_daemon_fg IMAGEDIR MNT LOGFILE [extra args...]: -f in the background; sets DAEMON_PID.
start_daemon_fg() {
  local img=$1 mnt=$2 logf=$3
  shift 3
  mkdir -p "$mnt"
  _FUSE+=("$mnt")
  "$SNAPCOWFS" -f "$@" "$img" "$mnt" >>"$logf" 2>&1 &
  DAEMON_PID=$!
  _PIDS+=("$DAEMON_PID")
  wait_mounted "$mnt" "$DAEMON_PID"
}

# alive PID: the process exists and is not a zombie.
alive() {
  kill -0 "$1" 2>/dev/null && [ "$(ps -o stat= -p "$1" 2>/dev/null | cut -c1)" != Z ]
}

# wait_gone PID [SECONDS]: until the process has exited (a zombie child of ours is reaped).
wait_gone() {
  local pid=$1 secs=${2:-20} i
  for ((i = 0; i < secs * 10; i++)); do
    if ! alive "$pid"; then wait "$pid" 2>/dev/null; return 0; fi
    sleep 0.1
  done
  return 1
}

# stop_daemon MNT [PID]: fusermount3 -u, then the daemon must exit by itself.
stop_daemon() {
  local mnt=$1 pid=${2:-$DAEMON_PID}
  timeout "$TO_SHORT" fusermount3 -u "$mnt" || fail "fusermount3 -u $mnt failed"
  wait_gone "$pid" 30 || fail "snapcowfs (pid $pid) still running 30 s after fusermount3 -u $mnt"
  wait "$pid" 2>/dev/null || true
}

# stop_daemon_term MNT [PID]: SIGTERM must unmount and exit.
stop_daemon_term() {
  local mnt=$1 pid=${2:-$DAEMON_PID}
  kill -TERM "$pid" || fail "cannot signal snapcowfs pid $pid"
  wait_gone "$pid" 30 || fail "snapcowfs (pid $pid) still running 30 s after SIGTERM"
  wait "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do mountpoint -q "$mnt" || return 0; sleep 0.1; done
  fail "$mnt still mounted after the daemon exited on SIGTERM"
}

# ctl ARGS...: snapcowctl under a timeout; stdout to stdout, stderr kept in $T/ctl.err.
ctl() {
  timeout "$TO_LONG" "$SNAPCOWCTL" "$@" 2>"$T/ctl.err"
}

# ctl_ok ARGS...: snapcowctl that must succeed; prints its stdout.
ctl_ok() {
  local out rc
  out=$(ctl "$@") && rc=0 || rc=$?
  [ "$rc" = 0 ] || fail "snapcowctl $* exited $rc: $(cat "$T/ctl.err") $out"
  printf '%s' "$out"
}

# snap_create ARGS... : `snapshot create` that must succeed and print snap-N; prints it.
snap_create() {
  local out
  out=$(ctl_ok snapshot create "$@") || exit 1
  out=$(printf '%s' "$out" | tr -d '[:space:]')
  [[ "$out" =~ ^snap-[1-9][0-9]*$ ]] || fail "snapshot create $* printed '$out', expected snap-N"
  printf '%s' "$out"
}

# ---- loop devices and filesystems ----------------------------------------------------------

# loop_attach [losetup options...] FILE: attaches a free loop device; sets LOOPDEV.
# (Not called in $(...): the cleanup list must be kept in this shell.)
loop_attach() {
  LOOPDEV=$(timeout "$TO_SHORT" losetup -f --show "$@") || fail "losetup $* failed"
  _LOOPS+=("$LOOPDEV")
}

loop_detach() {
  timeout "$TO_SHORT" losetup -d "$1" || fail "losetup -d $1 failed or hung"
  # Detach is asynchronous while the device is still referenced; wait a little.
  local i
  for ((i = 0; i < 50; i++)); do losetup "$1" >/dev/null 2>&1 || return 0; sleep 0.1; done
}

# mount_fs [mount options...] DEV DIR
mount_fs() {
  local dir=${*: -1}
  mkdir -p "$dir"
  timeout "$TO_SHORT" mount "$@" || fail "mount $* failed"
  _MOUNTS+=("$dir")
}

umount_fs() {
  timeout "$TO_LONG" umount "$1" || fail "umount $1 failed or hung"
}

freeze() { timeout "$TO_SHORT" fsfreeze -f "$1" || fail "fsfreeze -f $1 failed"; _FROZEN+=("$1"); }
thaw() { timeout "$TO_SHORT" fsfreeze -u "$1" || fail "fsfreeze -u $1 failed"; unset '_FROZEN[-1]'; }

# ---- assertions -----------------------------------------------------------------------------

# expect_fail_msg REGEX CMD...: CMD must exit non-zero (not by timeout) and print REGEX
# (grep -Ei) on stdout or stderr. The output is kept in $T/last.out.
expect_fail_msg() {
  local re=$1 rc
  shift
  timeout "$TO_SHORT" "$@" >"$T/last.out" 2>&1 && rc=0 || rc=$?
  [ "$rc" != 0 ] || fail "expected failure, but '$*' succeeded: $(cat "$T/last.out")"
  [ "$rc" != 124 ] || fail "'$*' hung (killed after ${TO_SHORT}s)"
  grep -Eiq -- "$re" "$T/last.out" ||
    fail "'$*' exited $rc but its message does not match /$re/: $(cat "$T/last.out")"
  [ "$(grep -c . "$T/last.out")" -ge 1 ] || fail "'$*' printed nothing"
}

# same_bytes A B WHAT: byte-for-byte equality, with the first difference on failure.
same_bytes() {
  cmp "$1" "$2" >"$T/cmp.out" 2>&1 || fail "$3: $(head -c 300 "$T/cmp.out")"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
