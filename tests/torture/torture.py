#!/usr/bin/env python3
"""torture.py: kill the snapcowfs daemon at random moments and at named crash points, and check
every block of every image against a reference model after each remount.

Every 4 KiB block written carries {image tag, block, generation} over its whole length (the
format of tests/tools/blocks.py), so a check tells stale, too-new, torn, misplaced and lost
blocks apart. The model keeps, per image and block, the SET of values the block may hold if the
daemon died right now:

  * a write adds its value to the set when it is issued and replaces the set by {value} when
    it is acknowledged: an acknowledged write is always there (SIGKILL loses no page-cache
    write), a write in flight at the kill is old or new;
  * a snapshot starts as the origin's sets when `create` started plus every origin write issued
    while `create` ran (the point in time lies somewhere in that interval), then follows its
    own writes;
  * a `create` in flight at the kill may or may not have made the snapshot; a `delete` in
    flight may or may not have removed it; a snapshot with --max-size may be Invalid;
    a transient snapshot is gone after the kill.

After a remount every block read must be in its set; the set then collapses to what was read.

  torture.py kill   [--cycles N] [--seed S]         SIGKILL at a random moment, N times
  torture.py points [--seed S] [--points a,b]       every point of engine/crash_point.h, at the
                                                    first pass and at a random later pass
  torture.py selftest [--seed S]                    the checker catches a block corrupted
                                                    behind the daemon's back

Options: --snapcowfs BIN --snapcowctl BIN (or $SNAPCOWFS / $SNAPCOWCTL), --blocks N (origin
size in 4 KiB blocks), --keep (keep the work directory). Needs root and /dev/fuse (exit 77
without /dev/fuse). On failure it prints the seed and the command line that replays it.
"""

import argparse
import json
import mmap
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BS = 4096
ZERO = ("", 0)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import blocks  # noqa: E402  (tests/tools/blocks.py: the tagged-block format)

HDR = blocks.HDR
CRASH_POINT_H = os.path.join(HERE, "..", "..", "engine", "crash_point.h")


class Failure(Exception):
    pass


def block_bytes(tag, block, gen):
    return blocks.block_bytes(tag, block, gen, BS)


def decode(data, block):
    """(tag, gen) of a block read back, or a string describing what is wrong with it."""
    if not any(data):
        return ZERO
    m = HDR.match(data)
    if not m:
        return "unrecognised bytes %r" % data[:32]
    tag, blk, gen = m.group(1).decode(), int(m.group(2)), int(m.group(3))
    if blk != block:
        return f"block {blk}'s data (tag={tag} gen={gen}) at block {block}"
    if data != block_bytes(tag, blk, gen):
        return f"a torn block starting as tag={tag} gen={gen}"
    return (tag, gen)


def fmt_vals(vals):
    return "{" + ", ".join("zeros" if v == ZERO else f"{v[0]}:{v[1]}" for v in sorted(vals)) + "}"


def crash_points():
    """The point names documented in engine/crash_point.h (the list after 'The points')."""
    names, on = [], False
    with open(CRASH_POINT_H) as f:
        for line in f:
            if "The points" in line:
                on = True
                continue
            if on:
                m = re.match(r"//   ([a-z][a-z-]+)\s{2,}\S", line)
                if m:
                    names.append(m.group(1))
                elif not line.startswith("//"):
                    break
    if not names:
        raise SystemExit(f"torture.py: no crash points found in {CRASH_POINT_H}")
    return names


class Image:
    def __init__(self, name, nblocks, allowed, cfg=None):
        self.name = name              # "origin" or "snap-N"
        self.nblocks = nblocks
        self.allowed = allowed        # list of sets of (tag, gen)
        self.cfg = cfg or {}          # snapshots: limited, transient, ro, chunk
        self.users = 0                # writers holding it (delete waits for 0)
        self.deleting = False
        self.maybe_deleted = False    # a delete was in flight at the kill
        self.invalid = False          # seen Invalid (allowed only with --max-size)

    @property
    def path_name(self):
        return self.name + ".img"


class PendingCreate:
    def __init__(self, base, cfg):
        self.base = base
        self.extras = {}
        self.cfg = cfg


class Model:
    def __init__(self, nblocks):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.nblocks = nblocks
        self.gen = 0
        self.images = {"origin": Image("origin", nblocks, [{ZERO} for _ in range(nblocks)])}
        self.pending = []             # creates in progress
        self.maybe_created = None     # cfg of a create in flight at the kill
        self.max_number = 0

    def next_gen(self):
        self.gen += 1
        return self.gen

    def snapshots(self):
        return [i for i in self.images.values() if i.name != "origin"]


class Daemon:
    def __init__(self, h, env_extra=None):
        self.h = h
        env = dict(os.environ)
        env.pop("SNAPCOW_CRASH_POINT", None)
        if env_extra:
            env.update(env_extra)
        self.log = open(h.daemon_log, "ab")
        self.log.write(b"--- start %r\n" % (env_extra,))
        self.log.flush()
        self.p = subprocess.Popen([h.snapcowfs, "-f", h.imgdir, h.mnt], stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.p.poll() is not None:
                raise Failure(f"snapcowfs exited {self.p.returncode} before mounting "
                              f"(log: {self.tail()})")
            if mounted(h.mnt) and os.path.exists(os.path.join(h.mnt, "origin.img")):
                return
            time.sleep(0.02)
        raise Failure("snapcowfs did not mount within 15 s")

    def tail(self):
        try:
            with open(self.h.daemon_log, "rb") as f:
                return f.read()[-1500:].decode(errors="replace")
        except OSError:
            return "?"

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.alive():
            self.p.send_signal(signal.SIGKILL)

    def wait_dead(self, timeout=20):
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"snapcowfs pid {self.p.pid} still alive {timeout} s after SIGKILL")
        self.log.close()
        lazy_unmount(self.h.mnt)

    def stop_clean(self):
        r = subprocess.run(["fusermount3", "-u", self.h.mnt], timeout=30,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Failure(f"fusermount3 -u: {r.stderr.strip()}")
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            raise Failure("snapcowfs did not exit within 30 s of fusermount3 -u")
        self.log.close()
        if rc != 0:
            raise Failure(f"snapcowfs exited {rc} after a clean unmount: {self.tail()}")


def mounted(mnt):
    """From /proc/self/mountinfo: os.path.ismount says False for a dead FUSE mount (ENOTCONN)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == mnt for line in f)


def lazy_unmount(mnt):
    for _ in range(50):
        if not mounted(mnt):
            return
        subprocess.run(["fusermount3", "-u", "-z", mnt], timeout=30, capture_output=True)
        if not mounted(mnt):
            return
        time.sleep(0.1)
    raise Failure(f"{mnt} is still mounted after fusermount3 -u -z")


class Harness:
    def __init__(self, a):
        self.a = a
        self.snapcowfs = a.snapcowfs
        self.snapcowctl = a.snapcowctl
        self.work = tempfile.mkdtemp(prefix="snapcow-torture.")
        self.imgdir = os.path.join(self.work, "img")
        self.mnt = os.path.join(self.work, "mnt")
        self.daemon_log = os.path.join(self.work, "daemon.log")
        os.makedirs(self.imgdir)
        os.makedirs(self.mnt)
        with open(os.path.join(self.imgdir, "origin.img"), "wb") as f:
            f.truncate(a.blocks * BS)
        self.model = Model(a.blocks)
        self.daemon = None
        self.stats = {"cycles": 0, "kills_in_flight_writes": 0, "creates": 0, "deletes": 0,
                      "writes": 0, "blocks_checked": 0, "points": 0, "ambiguous_creates": 0,
                      "ambiguous_deletes": 0}
        self.stop = threading.Event()
        self.errors = []

    # ---- snapcowctl -------------------------------------------------------------------------

    def ctl(self, *args, timeout=60):
        try:
            r = subprocess.run([self.snapcowctl, *args], capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"snapcowctl {' '.join(args)} hung ({timeout} s)")
        return r.returncode, r.stdout, r.stderr

    def daemon_dead(self):
        """After an error: did the daemon die (give a dying process 3 s to be reaped)?"""
        for _ in range(300):
            if self.daemon is None or not self.daemon.alive():
                return True
            time.sleep(0.01)
        return False

    # ---- workload ---------------------------------------------------------------------------

    def writer(self, wid, nworkers, rng):
        m = self.model
        lo = m.nblocks * wid // nworkers
        hi = m.nblocks * (wid + 1) // nworkers
        buf = mmap.mmap(-1, 8 * BS)
        while not self.stop.is_set():
            r = rng.random()
            with m.lock:
                snaps = [s for s in m.snapshots() if not s.deleting and not s.invalid]
                writable = [s for s in snaps if not s.cfg.get("ro")]
                if r < 0.55 or not snaps:
                    img = m.images["origin"]
                    op = "write"
                elif r < 0.80 and writable:
                    img = rng.choice(writable)
                    op = "write"
                else:
                    img = rng.choice(snaps + [m.images["origin"]])
                    op = "read" if r < 0.95 else "fsync"
                img.users += 1
            try:
                if not self.do_op(img, op, lo, hi, rng, buf):
                    return
            finally:
                with m.lock:
                    img.users -= 1
                    m.cond.notify_all()

    def do_op(self, img, op, lo, hi, rng, buf):
        """One operation; False when the daemon is gone (the worker stops)."""
        m = self.model
        path = os.path.join(self.mnt, img.path_name)
        direct = rng.random() < 0.5
        n = 1 if op != "write" else rng.choice([1, 1, 1, 2, 4, 8])
        start = rng.randrange(lo, max(lo + 1, hi - n + 1))
        n = min(n, hi - start)
        try:
            fd = os.open(path, (os.O_RDWR if op == "write" else os.O_RDONLY) |
                         (os.O_DIRECT if direct else 0))
        except OSError as e:
            if self.stop.is_set() or self.daemon_dead():
                return False
            raise Failure(f"open {img.path_name}: {e}")
        try:
            if op == "fsync":
                os.fsync(fd)
            elif op == "read":
                got = os.preadv(fd, [memoryview(buf)[:BS]], start * BS)
                if got != BS:
                    raise Failure(f"{img.name}: short read at block {start}: {got}")
                v = decode(bytes(buf[:BS]), start)
                with m.lock:
                    ok = v in img.allowed[start] or img.invalid
                    want = fmt_vals(img.allowed[start])
                if not ok:
                    raise Failure(f"live read of {img.name} block {start}: found {v}, "
                                  f"model allows {want}")
            else:
                tag = "o" if img.name == "origin" else "s" + img.name[5:]
                with m.lock:
                    gen = m.next_gen()
                    vals = [(tag, gen)] * n
                    for i in range(n):
                        img.allowed[start + i].add((tag, gen))
                        if img.name == "origin":
                            for pc in m.pending:
                                pc.extras.setdefault(start + i, set()).add((tag, gen))
                for i in range(n):
                    buf[i * BS:(i + 1) * BS] = block_bytes(tag, start + i, gen)
                ok = True
                try:
                    w = os.pwritev(fd, [memoryview(buf)[:n * BS]], start * BS)
                    ok = w == n * BS
                except OSError as e:
                    if self.stop.is_set() or self.daemon_dead():
                        return False
                    if not img.cfg.get("limited"):
                        raise Failure(f"write to {img.name} blocks {start}+{n}: {e}")
                    ok = False  # overflow / invalid: the write stays "old or new"
                if ok:
                    with m.lock:
                        for i in range(n):
                            img.allowed[start + i] = {vals[i]}
                        self.stats["writes"] += 1
                if rng.random() < 0.1:
                    os.fsync(fd)
        except OSError as e:
            if self.stop.is_set() or self.daemon_dead():
                return False
            if img.cfg.get("limited") and e.errno in (5, 28):
                return True
            raise Failure(f"{op} on {img.name}: {e}")
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
        return True

    def controller(self, rng, crash_mode):
        m = self.model
        while not self.stop.is_set():
            time.sleep(rng.uniform(0.0, 0.15 if crash_mode else 0.3))
            if self.stop.is_set():
                return
            with m.lock:
                snaps = [s for s in m.snapshots() if not s.deleting]
            limit = 3 if crash_mode else 4
            want_delete = len(snaps) >= limit or (snaps and rng.random() < 0.3)
            if crash_mode:
                # Invalid or full snapshots first: room for new ones that will overflow again.
                bad = [s for s in snaps if s.invalid or s.cfg.get("limited")]
                if bad and rng.random() < 0.6:
                    want_delete = True
            if want_delete and snaps:
                cand = [s for s in snaps if s.invalid] or snaps
                if not self.delete(rng.choice(cand)):
                    return
            else:
                if not self.create(rng, crash_mode):
                    return

    def snap_cfg(self, rng, crash_mode):
        chunk = rng.choice([4096, 16384, 16384, 65536])
        cfg = {"chunk": chunk, "limited": False, "transient": False, "ro": False,
               "overflow": "invalidate"}
        r = rng.random()
        # Armed at a header point, half the snapshots are small so that they overflow and get
        # invalidated; armed elsewhere, small stores would stop every copy soon and a later
        # pass of a copy point might never come.
        header_point = str(getattr(self, "cycle", "")).startswith("header")
        if crash_mode and header_point and r < 0.5 or not crash_mode and r < 0.15:
            cfg["limited"] = True
            cfg["chunk"] = 4096
            cfg["max"] = 4096 * rng.choice([4, 6, 8])
            cfg["overflow"] = "invalidate" if crash_mode or rng.random() < 0.5 else "keep"
        elif rng.random() < 0.1:
            cfg["transient"] = True
        elif rng.random() < 0.1:
            cfg["ro"] = True
        return cfg

    def create(self, rng, crash_mode):
        m = self.model
        cfg = self.snap_cfg(rng, crash_mode)
        args = ["snapshot", "create", "--chunk-size", str(cfg["chunk"])]
        if cfg["limited"]:
            args += ["--max-size", str(cfg["max"]), "--overflow", cfg["overflow"]]
        if cfg["transient"]:
            args.append("--transient")
        if cfg["ro"]:
            args.append("--read-only")
        with m.lock:
            pc = PendingCreate([set(s) for s in m.images["origin"].allowed], cfg)
            m.pending.append(pc)
        rc, out, err = self.ctl(*args, self.mnt)
        with m.lock:
            m.pending.remove(pc)
            if rc == 0:
                name = out.strip()
                if not re.fullmatch(r"snap-[1-9][0-9]*", name):
                    raise Failure(f"snapshot create printed {out!r}")
                num = int(name[5:])
                if num <= m.max_number:
                    raise Failure(f"snapshot create reused number {num} (max so far {m.max_number})")
                m.max_number = num
                allowed = [pc.base[b] | pc.extras.get(b, set()) for b in range(m.nblocks)]
                m.images[name] = Image(name, m.nblocks, allowed, cfg)
                self.stats["creates"] += 1
                return True
        if self.stop.is_set() or self.daemon_dead():
            with m.lock:
                m.maybe_created = pc
            return False
        raise Failure(f"snapshot create {' '.join(args)} failed ({rc}): {err.strip()}")

    def delete(self, snap):
        m = self.model
        with m.lock:
            snap.deleting = True
            while snap.users:
                m.cond.wait(1)
        deadline = time.time() + 20
        while True:
            rc, out, err = self.ctl("snapshot", "delete", self.mnt, snap.name)
            if rc == 0:
                with m.lock:
                    del m.images[snap.name]
                self.stats["deletes"] += 1
                return True
            if self.stop.is_set() or self.daemon_dead():
                with m.lock:
                    snap.maybe_deleted = True
                return False
            if "open" in err and time.time() < deadline:  # RELEASE is asynchronous
                time.sleep(0.05)
                continue
            raise Failure(f"snapshot delete {snap.name} failed ({rc}): {err.strip()}")

    def run_workload(self, rng, crash_mode, kill_after=None, max_seconds=30):
        """Runs writers and the controller until the daemon dies (or kill_after seconds,
        then SIGKILL). Returns True if the daemon died."""
        self.stop.clear()
        self.errors = []
        nworkers = 3
        threads = []

        def guard(fn, *args):
            try:
                fn(*args)
            except Failure as e:
                self.errors.append(str(e))
                self.stop.set()
            except Exception as e:  # noqa: BLE001 - any surprise fails the run
                self.errors.append(f"{type(e).__name__}: {e}")
                self.stop.set()

        for w in range(nworkers):
            threads.append(threading.Thread(target=guard, args=(
                self.writer, w, nworkers, random.Random(rng.random()))))
        threads.append(threading.Thread(target=guard, args=(
            self.controller, random.Random(rng.random()), crash_mode)))
        for t in threads:
            t.start()
        t0 = time.time()
        died = False
        while time.time() - t0 < max_seconds and not self.errors:
            if kill_after is not None and time.time() - t0 >= kill_after:
                self.daemon.kill()
            if not self.daemon.alive():
                died = True
                break
            time.sleep(0.005)
        self.stop.set()
        if died:
            self.daemon.wait_dead()
        for t in threads:
            t.join(60)
            if t.is_alive():
                raise Failure("a workload thread hung for 60 s after the daemon died "
                              "(a request that never returned?)")
        if self.errors:
            raise Failure("; ".join(self.errors))
        return died

    # ---- check after a remount ----------------------------------------------------------------

    def check(self):
        m = self.model
        present = set()
        for f in os.listdir(self.mnt):
            mm = re.fullmatch(r"(snap-[1-9][0-9]*)\.img", f)
            if mm:
                present.add(mm.group(1))
            elif f != "origin.img":
                raise Failure(f"unexpected file {f} in the mount")
        rc, out, err = self.ctl("status", "--json", self.mnt)
        if rc != 0:
            raise Failure(f"snapcowctl status failed: {err.strip()}")
        status = {s["name"]: s for s in json.loads(out)}
        if set(status) != present:
            raise Failure(f"status lists {sorted(status)}, the mount shows {sorted(present)}")
        known = {s.name for s in m.snapshots()}
        for name in sorted(known):
            img = m.images[name]
            if name not in present:
                if img.maybe_deleted or img.cfg.get("transient"):
                    self.stats["ambiguous_deletes"] += img.maybe_deleted
                    del m.images[name]
                    continue
                raise Failure(f"{name} (created and acknowledged) is gone after the crash")
            if img.cfg.get("transient"):
                raise Failure(f"transient {name} is still there after the daemon died")
            img.maybe_deleted = False
            img.deleting = False
        extra = present - known
        if extra:
            pc = m.maybe_created
            if pc is None or len(extra) > 1:
                raise Failure(f"unexpected snapshot(s) {sorted(extra)} after the crash "
                              f"(no create was in flight)")
            name = extra.pop()
            num = int(name[5:])
            if num <= m.max_number:
                raise Failure(f"{name} appeared after the crash with a reused number")
            if pc.cfg.get("transient"):
                raise Failure(f"transient {name} (create in flight) is there after the kill")
            m.max_number = num
            allowed = [pc.base[b] | pc.extras.get(b, set()) for b in range(m.nblocks)]
            m.images[name] = Image(name, m.nblocks, allowed, pc.cfg)
            self.stats["ambiguous_creates"] += 1
        m.maybe_created = None
        # The imagedir holds only what it should (no half-made snapshot left behind).
        for f in os.listdir(self.imgdir):
            if f.startswith(".") or f == "origin.img":
                continue
            if not re.fullmatch(r"snap-[1-9][0-9]*\.cow", f):
                raise Failure(f"stray file {f} in the image directory after the crash")
        for name, img in sorted(m.images.items()):
            if name != "origin":
                st = status[name]
                if not st["valid"]:
                    if not img.cfg.get("limited"):
                        raise Failure(f"{name} (no --max-size) is Invalid after the crash: {st}")
                    img.invalid = True
                    continue
                if st["overflowed"] and not img.cfg.get("limited"):
                    raise Failure(f"{name} (no --max-size) is Overflow after the crash")
                if st["size"] != m.nblocks * BS:
                    raise Failure(f"{name}: size {st['size']}, expected {m.nblocks * BS}")
            self.check_image(img)

    def check_image(self, img):
        path = os.path.join(self.mnt, img.path_name)
        with open(path, "rb", buffering=0) as f:
            data = f.read()
        if len(data) != img.nblocks * BS:
            raise Failure(f"{img.name}: read {len(data)} bytes, expected {img.nblocks * BS}")
        bad = []
        for b in range(img.nblocks):
            v = decode(data[b * BS:(b + 1) * BS], b)
            if v in img.allowed[b]:
                img.allowed[b] = {v}
            else:
                bad.append(f"{img.name} block {b}: found {v if isinstance(v, str) else fmt_vals([v])}"
                           f", model allows {fmt_vals(img.allowed[b])}")
        self.stats["blocks_checked"] += img.nblocks
        if bad:
            raise Failure(f"{len(bad)} bad block(s) in {img.name}:\n  " + "\n  ".join(bad[:12]))

    # ---- modes --------------------------------------------------------------------------------

    def mode_kill(self, rng):
        for cycle in range(self.a.cycles):
            self.cycle = cycle
            self.daemon = Daemon(self)
            self.check()
            kill_after = rng.uniform(0.02, self.a.max_cycle_seconds)
            died = self.run_workload(rng, False, kill_after=kill_after,
                                     max_seconds=self.a.max_cycle_seconds + 30)
            if not died:
                raise Failure("the daemon did not die after SIGKILL")
            self.stats["cycles"] += 1
            if (cycle + 1) % 25 == 0:
                print(f"torture: {cycle + 1}/{self.a.cycles} kill cycles, "
                      f"{self.stats['writes']} writes, {self.stats['creates']} creates, "
                      f"{self.stats['deletes']} deletes", flush=True)

    def mode_points(self, rng):
        points = self.a.points.split(",") if self.a.points else crash_points()
        runs = []
        for p in points:
            later = rng.randint(2, 4) if p.startswith(("header", "create", "delete")) \
                else rng.randint(2, 200)
            runs += [(p, 1), (p, later)]
        for p, k in runs:
            self.cycle = f"{p}:{k}"
            self.daemon = Daemon(self)
            self.check()
            self.daemon.stop_clean()
            self.daemon = Daemon(self, {"SNAPCOW_CRASH_POINT": f"{p}:{k}"})
            died = self.run_workload(rng, True, kill_after=None, max_seconds=self.a.point_seconds)
            if not died:
                raise Failure(f"crash point {p}:{k} was not reached in {self.a.point_seconds} s")
            if self.daemon.p.returncode != -signal.SIGKILL:
                raise Failure(f"armed with {p}:{k}, the daemon exited with "
                              f"{self.daemon.p.returncode}, not by SIGKILL: {self.daemon.tail()}")
            self.stats["points"] += 1
            print(f"torture: crash point {p}:{k}: the daemon died there; checking", flush=True)
        self.cycle = "final"

    def mode_selftest(self, rng):
        """The checker must bite: after a few kill cycles, overwrite one acknowledged origin
        block behind the daemon's back with a generation nobody wrote; the check must name it."""
        self.a.cycles = 3
        self.mode_kill(rng)
        m = self.model
        origin = m.images["origin"]
        b = next(b for b in range(m.nblocks) if len(origin.allowed[b]) == 1 and
                 next(iter(origin.allowed[b])) != ZERO)
        tag, gen = next(iter(origin.allowed[b]))
        with open(os.path.join(self.imgdir, "origin.img"), "r+b") as f:
            f.seek(b * BS)
            f.write(block_bytes(tag, b, gen + 100000))
        self.daemon = Daemon(self)
        try:
            self.check()
        except Failure as e:
            if f"origin block {b}:" not in str(e):
                raise Failure(f"selftest: the check failed, but not on origin block {b}: {e}")
            print(f"torture: selftest: the corrupted origin block {b} was caught", flush=True)
        else:
            raise Failure(f"selftest: origin block {b} was corrupted and the check passed")
        self.cycle = "selftest-final"

    def run(self):
        rng = random.Random(self.a.seed)
        self.cycle = None
        try:
            if self.a.mode == "selftest":
                self.mode_selftest(rng)
                self.daemon.stop_clean()
                self.daemon = None
                return
            if self.a.mode == "kill":
                self.mode_kill(rng)
            else:
                self.mode_points(rng)
            self.daemon = Daemon(self)
            self.check()
            self.daemon.stop_clean()
            self.daemon = None
        finally:
            if self.daemon is not None:
                self.daemon.kill()
                try:
                    self.daemon.wait_dead()
                except Failure:
                    pass
            lazy_unmount(self.mnt)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["kill", "points", "selftest"])
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--blocks", type=int, default=2048, help="origin size in 4 KiB blocks")
    ap.add_argument("--max-cycle-seconds", type=float, default=0.8,
                    help="the kill comes at a random moment up to this long into a cycle")
    ap.add_argument("--point-seconds", type=float, default=30)
    ap.add_argument("--points", default="", help="comma-separated crash points (default: all)")
    ap.add_argument("--snapcowfs", default=os.environ.get("SNAPCOWFS", "snapcowfs"))
    ap.add_argument("--snapcowctl", default=os.environ.get("SNAPCOWCTL", "snapcowctl"))
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if not os.path.exists("/dev/fuse"):
        print("torture.py: SKIP: /dev/fuse is absent", file=sys.stderr)
        return 77
    if os.geteuid() != 0:
        print("torture.py: must run as root (CI does)", file=sys.stderr)
        return 1
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1 << 32)
    print(f"torture: mode={a.mode} seed={a.seed}", flush=True)
    h = Harness(a)
    t0 = time.time()
    ok = False
    try:
        h.run()
        ok = True
    except (Failure, OSError, subprocess.SubprocessError) as e:
        if not isinstance(e, Failure):
            traceback.print_exc()
        print(f"torture: FAIL (mode={a.mode} seed={a.seed} cycle={h.cycle}): {e}", file=sys.stderr)
        print(f"torture: replay: {sys.argv[0]} {a.mode} --seed {a.seed}"
              + (f" --cycles {a.cycles}" if a.mode == "kill" else "")
              + f" --blocks {a.blocks}", file=sys.stderr)
        try:
            with open(h.daemon_log, "rb") as f:
                print("torture: daemon log tail:\n" + f.read()[-3000:].decode(errors="replace"),
                      file=sys.stderr)
        except OSError:
            pass
    finally:
        if a.keep or not ok:
            print(f"torture: work directory kept: {h.work}", file=sys.stderr)
        else:
            shutil.rmtree(h.work, ignore_errors=True)
    s = h.stats
    print(f"torture: {'PASS' if ok else 'FAIL'} mode={a.mode} seed={a.seed} "
          f"kill_cycles={s['cycles']} crash_points={s['points']} writes={s['writes']} "
          f"creates={s['creates']} deletes={s['deletes']} "
          f"ambiguous_creates={s['ambiguous_creates']} ambiguous_deletes={s['ambiguous_deletes']} "
          f"blocks_checked={s['blocks_checked']} "
          f"in {time.time() - t0:.0f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
