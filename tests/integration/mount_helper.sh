#!/usr/bin/env bash
# Through mount(8) and mount.fuse3, as an fstab line does it: mount.fuse3 runs
# `snapcowfs IMAGEDIR MOUNTPOINT -o OPTS` with the options mount(8) passes on (rw, atime
# policies, dev, suid ...; nofail, _netdev, x-* and the like filtered out). The built daemon is
# named in the source as "BINARY#IMAGEDIR" (type fuse); the package job (scripts/test.sh
# package) does the same with the installed /usr/sbin/snapcowfs and type fuse.snapcowfs.
# mount must return only once the mount is up; umount stops the daemon.
. "$(dirname "$0")/lib.sh"

command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || fail "mount.fuse3 not found (Debian package fuse3)"
IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG" "$MNT"
truncate -s 64M "$IMG/origin.img"
head -c 1M /dev/urandom >"$T/a.bin"
head -c 1M /dev/urandom >"$T/b.bin"

# holder_pid: the daemon recorded in the lock file.
holder_pid() { grep -o '^pid=[0-9]*' "$IMG/.snapcowfs.lock" | cut -d= -f2; }

# mounted_now: the mount is up the moment mount(8) returned (no waiting).
mounted_now() {
  local what
  what=$(findmnt -n -o FSTYPE,SOURCE --mountpoint "$MNT") || fail "$1: $MNT is not mounted when mount returned"
  [ "$(echo $what)" = "fuse.snapcowfs $IMG" ] || fail "$1: $MNT is '$what', expected fuse.snapcowfs from $IMG"
  [ -e "$MNT/origin.img" ] || fail "$1: no origin.img in $MNT when mount returned"
  DAEMON_PID=$(holder_pid) || fail "$1: no daemon recorded in $IMG/.snapcowfs.lock"
  _PIDS+=("$DAEMON_PID")
  _FUSE+=("$MNT")
}

# unmount: umount(8) ends the daemon, which then releases the image directory.
unmount() {
  timeout "$TO_SHORT" umount "$MNT" || fail "umount $MNT failed"
  wait_gone "$DAEMON_PID" 30 || fail "snapcowfs (pid $DAEMON_PID) still runs 30 s after umount"
}

log "mount -t fuse with the options an fstab line passes on (atime policies included)"
timeout "$TO_SHORT" mount -t fuse -o allow_other,relatime,nodiratime,noatime "$SNAPCOWFS#$IMG" "$MNT" \
  >"$T/mount.out" 2>&1 || fail "mount -t fuse $SNAPCOWFS#$IMG failed: $(cat "$T/mount.out")"
mounted_now "mount -t fuse"
dd if="$T/a.bin" of="$MNT/origin.img" bs=1M conv=notrunc,fsync status=none || fail "write A"
S1=$(snap_create "$MNT") || exit 1
dd if="$T/b.bin" of="$MNT/origin.img" bs=1M conv=notrunc,fsync status=none || fail "write B"
same_bytes <(head -c 1M "$MNT/$S1.img") "$T/a.bin" "$S1 after the origin was overwritten"
same_bytes <(head -c 1M "$MNT/origin.img") "$T/b.bin" "origin after write B"
unmount

log "an fstab line (mount -T FSTAB MOUNTPOINT), with options only mount(8) and mount.fuse3 know"
echo "$SNAPCOWFS#$IMG $MNT fuse defaults,allow_other,relatime,nofail,_netdev,x-systemd.automount,comment=t 0 0" >"$T/fstab"
timeout "$TO_SHORT" mount -T "$T/fstab" "$MNT" >"$T/mount.out" 2>&1 ||
  fail "mount -T $T/fstab $MNT failed: $(cat "$T/mount.out")"
mounted_now "fstab"
ctl_ok snapshot list "$MNT" | grep -qw "$S1" || fail "$S1 not listed after the fstab mount"
same_bytes <(head -c 1M "$MNT/$S1.img") "$T/a.bin" "$S1 after the fstab mount"
unmount

log "bad -o options: a message naming the option, nothing mounted"
expect_fail_msg "max_read=4096 is not supported" mount -t fuse -o max_read=4096 "$SNAPCOWFS#$IMG" "$MNT"
# one_line_error PREFIX: what the failed command printed is one line, starting with PREFIX.
one_line_error() {
  [ "$(wc -l <"$T/last.out")" = 1 ] && head -n 1 "$T/last.out" | grep -q "^$1" ||
    fail "expected one error line starting '$1', got: $(cat "$T/last.out")"
}
one_line_error "snapcowfs: -o max_read=4096 is not supported"
mountpoint -q "$MNT" && fail "$MNT is mounted after mount -o max_read=4096 failed"
expect_fail_msg "no_such_option" mount -t fuse -o no_such_option "$SNAPCOWFS#$IMG" "$MNT"
one_line_error "snapcowfs: cannot start a FUSE session: unknown option(s): \`-o no_such_option'"
mountpoint -q "$MNT" && fail "$MNT is mounted after mount -o no_such_option failed"
exit 0
