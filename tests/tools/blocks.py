#!/usr/bin/env python3
"""blocks.py: write and check generation-tagged blocks in an image file.

Every block written carries {tag, block number, generation}, repeated over the whole block, so
a check tells apart: the expected data, an older generation (stale data: a snapshot that lost
its copy, an origin write that was lost), a newer one (a snapshot that saw a later origin
write), a block of another image or place, a torn block, and zeros. Generation 0 means "never
written": the block must be all zeros.

  blocks.py write FILE --tag T --gen G --blocks SPEC [--bs 4096] [--direct] [--fsync]
  blocks.py check FILE --tag T --gen G --blocks SPEC [--bs 4096] [--direct]
  blocks.py selftest

SPEC: comma-separated START[-END][/STEP] block ranges (END inclusive), e.g. "0-99,200-299/3".
"""

import argparse
import mmap
import os
import re
import sys

HDR = re.compile(rb"SNAPCOWBLK tag=(\S+) block=(\d+) gen=(\d+)\n")


def parse_blocks(spec):
    out = []
    for part in spec.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(\d+))?", part.strip())
        if not m:
            raise SystemExit(f"blocks.py: bad block spec '{part}'")
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        step = int(m.group(3)) if m.group(3) else 1
        out.extend(range(a, b + 1, step))
    return out


def block_bytes(tag, block, gen, bs):
    if gen == 0:
        return bytes(bs)
    unit = b"SNAPCOWBLK tag=%s block=%d gen=%d\n" % (tag.encode(), block, gen)
    return (unit * (bs // len(unit) + 1))[:bs]


def describe(data, bs):
    if not any(data):
        return "zeros"
    m = HDR.match(data)
    if not m:
        return "unrecognised data (first bytes %r)" % data[:24]
    tag, blk, gen = m.group(1).decode(), int(m.group(2)), int(m.group(3))
    if data != block_bytes(tag, blk, gen, bs):
        return f"a torn block starting as tag={tag} block={blk} gen={gen}"
    return f"tag={tag} block={blk} gen={gen}"


def open_file(path, write, direct):
    flags = os.O_RDWR if write else os.O_RDONLY
    if direct:
        flags |= os.O_DIRECT
    return os.open(path, flags)


def cmd_write(a):
    fd = open_file(a.file, True, a.direct)
    buf = mmap.mmap(-1, a.bs)  # page aligned, for O_DIRECT
    try:
        for b in parse_blocks(a.blocks):
            buf[:] = block_bytes(a.tag, b, a.gen, a.bs)
            n = os.pwritev(fd, [buf], b * a.bs)
            if n != a.bs:
                print(f"blocks.py: short write at block {b}: {n}", file=sys.stderr)
                return 1
        if a.fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return 0


def cmd_check(a):
    fd = open_file(a.file, False, a.direct)
    buf = mmap.mmap(-1, a.bs)
    bad = 0
    try:
        for b in parse_blocks(a.blocks):
            n = os.preadv(fd, [buf], b * a.bs)
            data = bytes(buf[:n])
            want = block_bytes(a.tag, b, a.gen, a.bs)
            if data == want:
                continue
            bad += 1
            if bad <= 10:
                got = describe(data, a.bs) if n == a.bs else f"a short read ({n} bytes)"
                m = HDR.match(data)
                why = ""
                if m and m.group(1).decode() == a.tag and int(m.group(2)) == b:
                    g = int(m.group(3))
                    why = " (STALE: older generation)" if g < a.gen else " (NEWER generation than allowed)"
                elif not any(data) and a.gen > 0:
                    why = " (data lost: zeros)"
                print(f"{a.file}: block {b}: expected tag={a.tag} gen={a.gen}, found {got}{why}",
                      file=sys.stderr)
    finally:
        os.close(fd)
    if bad:
        print(f"{a.file}: {bad} bad block(s)", file=sys.stderr)
        return 1
    return 0


def selftest():
    import tempfile
    with tempfile.NamedTemporaryFile() as f:
        f.truncate(64 * 4096)
        ns = argparse.Namespace(file=f.name, tag="origin", gen=1, blocks="0-9", bs=4096,
                                direct=False, fsync=True)
        assert cmd_write(ns) == 0 and cmd_check(ns) == 0
        ns2 = argparse.Namespace(**{**vars(ns), "gen": 2})
        assert cmd_check(ns2) == 1  # stale must fail
        ns0 = argparse.Namespace(**{**vars(ns), "gen": 0, "blocks": "10-63"})
        assert cmd_check(ns0) == 0
    assert parse_blocks("0-3,10-16/3,7") == [0, 1, 2, 3, 10, 13, 16, 7]
    print("blocks selftest: 1 passed, 0 failed")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("write", "check"):
        p = sub.add_parser(name)
        p.add_argument("file")
        p.add_argument("--tag", required=True)
        p.add_argument("--gen", type=int, required=True)
        p.add_argument("--blocks", required=True)
        p.add_argument("--bs", type=int, default=4096)
        p.add_argument("--direct", action="store_true")
        if name == "write":
            p.add_argument("--fsync", action="store_true")
    sub.add_parser("selftest")
    a = ap.parse_args()
    if a.cmd == "selftest":
        return selftest()
    return cmd_write(a) if a.cmd == "write" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
