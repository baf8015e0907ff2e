#!/usr/bin/env python3
"""dmcow.py: an independent reader of Linux dm-snapshot persistent COW stores.

Written from the kernel's layout (drivers/md/dm-snap-persistent.c), not from snapcowfs's
code, so that a test can check that a COW file snapcowfs wrote is one the kernel would load.

Layout (all little-endian):
  chunk 0         header: le32 magic 0x70416e53 ("SnAp"), le32 valid, le32 version (1),
                  le32 chunk_size in 512-byte sectors. The kernel ignores the rest of chunk 0.
  area a          a metadata chunk at chunk 1 + (E + 1) * a, E = chunk_bytes / 16, holding E
                  entries {le64 old_chunk, le64 new_chunk}; its E data chunks follow it.
  the table       ends at the first entry whose new_chunk is 0; areas are read in order until
                  one is not full (the kernel's read_exceptions/insert_exceptions).

Commands:
  dmcow.py info COW [--json]
  dmcow.py exceptions COW                        one "old_chunk new_chunk" line per entry
  dmcow.py check COW --origin-size BYTES         the strict checks below; exit 1 on any
  dmcow.py rebuild COW --origin ORIGIN --size BYTES --out FILE [--no-strict]
  dmcow.py selftest

Strict checks (the kernel's loader needs the first group; snapcowfs's design promises the rest):
  magic, version 1, valid 1, chunk size a power of two (4 KiB..1 GiB by snapcowfs's design),
  the next area exists whenever an area is full, every new_chunk is a data chunk (not 0, not a
  metadata chunk) inside the file, no new_chunk used twice, no old_chunk mapped twice, every
  old_chunk inside the origin, entries in allocation order (new_chunk strictly increasing),
  header bytes 16..511 zero.
"""

import argparse
import json
import os
import struct
import sys
import tempfile

MAGIC = 0x70416E53
SECTOR = 512
HEADER = struct.Struct("<IIII")
ENTRY = struct.Struct("<QQ")


class CowError(Exception):
    pass


class Cow:
    """A parsed store: header fields and the exception table in table order."""

    def __init__(self, path):
        self.path = path
        self.problems = []  # strict-check failures (strings)
        with open(path, "rb") as f:
            self._parse(f)

    def _read_at(self, f, off, n, what):
        f.seek(off)
        b = f.read(n)
        if len(b) != n:
            raise CowError(f"{self.path}: {what}: short read at offset {off} "
                           f"({len(b)} of {n} bytes; file is {self.file_size} bytes)")
        return b

    def _parse(self, f):
        self.file_size = os.fstat(f.fileno()).st_size
        hdr = self._read_at(f, 0, SECTOR, "header")
        self.magic, self.valid, self.version, self.chunk_sectors = HEADER.unpack_from(hdr)
        if self.magic != MAGIC:
            raise CowError(f"{self.path}: bad magic 0x{self.magic:08x} (want 0x{MAGIC:08x})")
        if self.version != 1:
            raise CowError(f"{self.path}: unsupported version {self.version}")
        cs = self.chunk_sectors
        if cs == 0 or cs & (cs - 1):
            raise CowError(f"{self.path}: chunk size {cs} sectors is not a power of two")
        self.chunk_bytes = cs * SECTOR
        if not (4096 <= self.chunk_bytes <= (1 << 30)):
            self.problems.append(f"chunk size {self.chunk_bytes} bytes outside 4 KiB..1 GiB")
        if self.valid not in (0, 1):
            self.problems.append(f"valid field is {self.valid}, not 0 or 1")
        if any(hdr[16:SECTOR]):
            self.problems.append("header bytes 16..511 are not zero")
        self.has_extension = any(self._read_at(f, SECTOR, min(SECTOR, self.chunk_bytes - SECTOR),
                                               "header chunk")) if self.chunk_bytes > SECTOR else False
        self.epa = self.chunk_bytes // ENTRY.size  # exceptions per area (E)
        self.exceptions = []  # (old_chunk, new_chunk) in table order
        self.areas_read = 0
        if not self.valid:
            return  # the kernel reads no exceptions of an invalid store
        area = 0
        while True:
            chunk = self.area_chunk(area)
            data = self._read_at(f, chunk * self.chunk_bytes, self.chunk_bytes,
                                 f"metadata area {area} (chunk {chunk})")
            self.areas_read += 1
            full = True
            for i in range(self.epa):
                old, new = ENTRY.unpack_from(data, i * ENTRY.size)
                if new == 0:
                    full = False
                    break
                self.exceptions.append((old, new))
            if not full:
                break
            area += 1

    def area_chunk(self, area):
        return 1 + (self.epa + 1) * area

    def is_metadata_chunk(self, chunk):
        return chunk == 0 or (chunk - 1) % (self.epa + 1) == 0

    def strict_problems(self, origin_size=None):
        p = list(self.problems)
        if self.valid != 1:
            p.append("store is invalid (valid = 0)")
        file_chunks = self.file_size // self.chunk_bytes
        seen_old, seen_new = {}, {}
        prev_new = 0
        origin_chunks = None
        if origin_size is not None:
            origin_chunks = (origin_size + self.chunk_bytes - 1) // self.chunk_bytes
        for idx, (old, new) in enumerate(self.exceptions):
            where = f"entry {idx} (area {idx // self.epa}) {old}->{new}"
            if self.is_metadata_chunk(new):
                p.append(f"{where}: new_chunk is a metadata chunk")
            if new >= file_chunks:
                p.append(f"{where}: new_chunk beyond the end of the file ({file_chunks} chunks)")
            if new in seen_new:
                p.append(f"{where}: new_chunk also used by entry {seen_new[new]}")
            if old in seen_old:
                p.append(f"{where}: old_chunk also mapped by entry {seen_old[old]}")
            if origin_chunks is not None and old >= origin_chunks:
                p.append(f"{where}: old_chunk beyond the origin ({origin_chunks} chunks)")
            if new <= prev_new:
                p.append(f"{where}: not in allocation order (previous new_chunk {prev_new})")
            seen_new.setdefault(new, idx)
            seen_old.setdefault(old, idx)
            prev_new = max(prev_new, new)
        return p

    def info(self):
        return {
            "path": self.path,
            "valid": self.valid,
            "version": self.version,
            "chunk_sectors": self.chunk_sectors,
            "chunk_bytes": self.chunk_bytes,
            "exceptions_per_area": self.epa,
            "exceptions": len(self.exceptions),
            "areas_read": self.areas_read,
            "file_size": self.file_size,
            "has_extension_block": self.has_extension,
        }


def rebuild(cow, origin_path, size, out_path):
    """Writes the snapshot image: per chunk, the COW copy if mapped, else the origin's bytes."""
    table = dict(cow.exceptions)
    cb = cow.chunk_bytes
    with open(origin_path, "rb") as org, open(cow.path, "rb") as cf, open(out_path, "wb") as out:
        nchunks = (size + cb - 1) // cb
        for c in range(nchunks):
            n = min(cb, size - c * cb)
            if c in table:
                cf.seek(table[c] * cb)
                data = cf.read(n)
                if len(data) != n:
                    raise CowError(f"{cow.path}: data chunk {table[c]} (for old_chunk {c}) is "
                                   f"short: {len(data)} of {n} bytes")
            else:
                org.seek(c * cb)
                data = org.read(n)
                data += b"\0" * (n - len(data))  # origin shorter than the snapshot
            out.write(data)


def build_store(path, chunk_bytes, exceptions, valid=1):
    """Writes a store by hand (for selftest): header, areas, data chunks."""
    epa = chunk_bytes // 16
    with open(path, "wb") as f:
        f.write(HEADER.pack(MAGIC, valid, 1, chunk_bytes // SECTOR))
        f.truncate(chunk_bytes)
        nareas = len(exceptions) // epa + 1
        for a in range(nareas):
            ents = exceptions[a * epa:(a + 1) * epa]
            blob = b"".join(ENTRY.pack(o, n) for o, n in ents).ljust(chunk_bytes, b"\0")
            f.seek((1 + (epa + 1) * a) * chunk_bytes)
            f.write(blob)
        for old, new in exceptions:
            f.seek(new * chunk_bytes)
            f.write(bytes([old & 0xFF]) * chunk_bytes)


def selftest():
    cb = 4096
    epa = cb // 16
    # The 16-byte header of a fresh 4 KiB-chunk store.
    assert HEADER.pack(MAGIC, 1, 1, 8).hex(" ") == "53 6e 41 70 01 00 00 00 01 00 00 00 08 00 00 00"
    with tempfile.TemporaryDirectory() as d:
        # 300 exceptions: entries 0..255 in area 0 (chunk 1), 256.. in area 1 (chunk 258).
        exc = []
        new = 2
        for old in range(300):
            exc.append((old * 3, new))
            new += 1
            if (new - 1) % (epa + 1) == 0:
                new += 1  # skip the metadata chunk
        assert exc[255][1] == 257 and exc[256][1] == 259, exc[254:258]
        cow_path = os.path.join(d, "s.cow")
        build_store(cow_path, cb, exc)
        c = Cow(cow_path)
        assert c.exceptions == exc, "parsed table differs"
        assert c.area_chunk(0) == 1 and c.area_chunk(1) == 258
        assert c.areas_read == 2
        assert c.strict_problems(origin_size=900 * cb) == [], c.strict_problems(900 * cb)
        # Rebuild: chunks 0,3,6.. from the COW (byte old&0xff), others from the origin (0xEE).
        org = os.path.join(d, "o.img")
        with open(org, "wb") as f:
            f.write(b"\xee" * (900 * cb))
        out = os.path.join(d, "r.img")
        rebuild(c, org, 900 * cb - 100, out)
        with open(out, "rb") as f:
            img = f.read()
        assert len(img) == 900 * cb - 100
        for ch in (0, 1, 3, 297, 299, 897, 898):
            want = bytes([ch & 0xFF]) if ch % 3 == 0 and ch < 900 else b"\xee"
            assert img[ch * cb:ch * cb + 1] == want, (ch, img[ch * cb:ch * cb + 1])
        # Exactly E entries: area 0 full, area 1 must exist and be read (empty).
        build_store(cow_path, cb, exc[:epa])
        c = Cow(cow_path)
        assert len(c.exceptions) == epa and c.areas_read == 2
        # A full area with no next area: truncated.
        with open(cow_path, "r+b") as f:
            f.truncate(258 * cb)
        try:
            Cow(cow_path)
            raise AssertionError("truncated store accepted")
        except CowError as e:
            assert "metadata area 1" in str(e), e
        # Strict checks catch a metadata chunk used as data, and duplicates.
        build_store(cow_path, cb, [(5, 2), (6, 258)])
        assert any("metadata chunk" in p for p in Cow(cow_path).strict_problems(100 * cb))
        build_store(cow_path, cb, [(5, 2), (5, 3)])
        assert any("old_chunk also mapped" in p for p in Cow(cow_path).strict_problems(100 * cb))
        build_store(cow_path, cb, [(5, 3), (6, 2)])
        assert any("allocation order" in p for p in Cow(cow_path).strict_problems(100 * cb))
        # Bad magic; invalid store reads no exceptions.
        build_store(cow_path, cb, [(5, 2)], valid=0)
        c = Cow(cow_path)
        assert c.exceptions == [] and c.strict_problems()
        with open(cow_path, "r+b") as f:
            f.write(b"XXXX")
        try:
            Cow(cow_path)
            raise AssertionError("bad magic accepted")
        except CowError as e:
            assert "bad magic" in str(e)
    print("dmcow selftest: 1 passed, 0 failed")


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("info")
    p.add_argument("cow")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("exceptions")
    p.add_argument("cow")
    p = sub.add_parser("check")
    p.add_argument("cow")
    p.add_argument("--origin-size", type=int)
    p = sub.add_parser("rebuild")
    p.add_argument("cow")
    p.add_argument("--origin", required=True)
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-strict", action="store_true")
    sub.add_parser("selftest")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "selftest":
            selftest()
            return 0
        cow = Cow(a.cow)
        if a.cmd == "info":
            i = cow.info()
            print(json.dumps(i) if a.json else "\n".join(f"{k}: {v}" for k, v in i.items()))
        elif a.cmd == "exceptions":
            for o, n in cow.exceptions:
                print(o, n)
        elif a.cmd == "check":
            probs = cow.strict_problems(a.origin_size)
            for pr in probs:
                print(f"{a.cow}: {pr}", file=sys.stderr)
            if probs:
                return 1
            print(f"{a.cow}: ok, {len(cow.exceptions)} exceptions in {cow.areas_read} areas")
        elif a.cmd == "rebuild":
            if not a.no_strict:
                probs = cow.strict_problems(a.size)
                for pr in probs:
                    print(f"{a.cow}: {pr}", file=sys.stderr)
                if probs:
                    return 1
            elif not cow.valid:
                print(f"{a.cow}: store is invalid", file=sys.stderr)
                return 1
            rebuild(cow, a.origin, a.size, a.out)
        return 0
    except CowError as e:
        print(f"dmcow: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
