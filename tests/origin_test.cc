// Copy-on-write semantics of the engine (DESIGN §4), over in-memory files.
#include <catch2/catch.hpp>

#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {
constexpr uint64_t kMiB = 1 << 20;

void Write(EngineRig& r, uint64_t off, size_t len, uint8_t v) { REQUIRE(r.Fill(off, len, v).ok()); }
void WriteSnap(EngineRig& r, Snapshot& s, uint64_t off, size_t len, uint8_t v) {
  auto b = Pattern(len, v);
  REQUIRE(r.origin->WriteSnapshot(s, off, len, b.data()).ok());
}
}  // namespace

TEST_CASE("origin writes preserve the old data in the snapshot") {
  EngineRig r(4 * kMiB);
  Write(r, 0, 4 * kMiB, 0x11);
  auto s = r.Add(1);
  Write(r, 5000, 3000, 0x22);  // inside chunk 0, unaligned
  CHECK(r.ReadOrigin(5000, 3000) == Pattern(3000, 0x22));
  CHECK(r.ReadSnap(*s, 0, 16384) == Pattern(16384, 0x11));
  CHECK(r.ReadOrigin(4999, 1) == Pattern(1, 0x11));
  // A second write to the same chunk copies nothing more.
  int writes = r.cows[1]->writes;
  Write(r, 0, 100, 0x33);
  CHECK(r.cows[1]->writes == writes);
  CHECK(r.ReadSnap(*s, 0, 100) == Pattern(100, 0x11));
  // dm counts the header and area 0 as allocated: 3 chunks of 32 sectors.
  CHECK(s->Info().StatusLine() == "96/" + std::to_string(s->Info().total_sectors) + " 64");
}

TEST_CASE("snapshots of different chunk sizes each keep their own point in time") {
  EngineRig r(2 * kMiB);
  Write(r, 0, 2 * kMiB, 0xa0);
  SnapshotConfig c4;
  c4.chunk_bytes = 4096;
  auto s1 = r.Add(1, c4);
  Write(r, 8192, 65536, 0xa1);
  SnapshotConfig c64;
  c64.chunk_bytes = 65536;
  auto s2 = r.Add(2, c64);
  Write(r, 0, 2 * kMiB, 0xa2);
  CHECK(r.ReadSnap(*s1, 0, 2 * kMiB) == Pattern(2 * kMiB, 0xa0));
  auto v2 = r.ReadSnap(*s2, 0, 2 * kMiB);
  auto want = Pattern(2 * kMiB, 0xa0);
  std::fill(want.begin() + 8192, want.begin() + 8192 + 65536, 0xa1);
  CHECK(v2 == want);
  CHECK(r.ReadOrigin(0, 2 * kMiB) == Pattern(2 * kMiB, 0xa2));
}

TEST_CASE("one origin read serves every snapshot that needs the chunk") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 1);
  for (uint32_t n = 1; n <= 16; ++n) r.Add(n);
  int before = r.origin_file->reads;
  Write(r, 0, 4096, 2);
  CHECK(r.origin_file->reads - before == 1);
  for (uint32_t n = 1; n <= 16; ++n)
    CHECK(r.ReadSnap(*r.origin->Find(n), 0, 16384) == Pattern(16384, 1));
}

TEST_CASE("snapshot writes go to the COW and never reach the origin") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 0x10);
  auto s = r.Add(1);
  WriteSnap(r, *s, 100, 50, 0x99);  // partial: copies the rest of the chunk first
  CHECK(r.ReadOrigin(0, kMiB) == Pattern(kMiB, 0x10));
  auto v = r.ReadSnap(*s, 0, 16384);
  auto want = Pattern(16384, 0x10);
  std::fill(want.begin() + 100, want.begin() + 150, 0x99);
  CHECK(v == want);
  // The origin may change afterwards: the snapshot's own data stays.
  Write(r, 0, 16384, 0x20);
  CHECK(r.ReadSnap(*s, 0, 16384) == want);
}

TEST_CASE("a snapshot write covering a whole chunk skips the copy") {
  EngineRig r(kMiB);
  auto s = r.Add(1);
  r.origin_file->read_error = EIO;  // the origin cannot even be read
  WriteSnap(r, *s, 16384, 16384, 0x42);
  CHECK(r.ReadSnap(*s, 16384, 16384) == Pattern(16384, 0x42));
  auto b = Pattern(10, 1);
  CHECK(r.origin->WriteSnapshot(*s, 40000, 10, b.data()).err() == EIO);
  CHECK(s->valid() == false);  // a failed copy on a snapshot write invalidates it
}

TEST_CASE("a full COW invalidates the snapshot; the origin keeps working") {
  EngineRig r(kMiB);
  SnapshotConfig c;
  c.chunk_bytes = 4096;
  c.max_cow_bytes = 6 * 4096;  // header, area 0, four data chunks
  auto s = r.Add(1, c);
  Write(r, 0, 4 * 4096, 1);
  CHECK(s->valid());
  Write(r, 8 * 4096, 4096, 2);  // needs a fifth chunk
  CHECK_FALSE(s->valid());
  CHECK(s->Info().StatusLine() == "Invalid");
  std::vector<uint8_t> b(10);
  CHECK(r.origin->ReadSnapshot(*s, 0, 10, b.data()).err() == EIO);
  Write(r, 100 * 4096, 4096, 3);
  CHECK(r.ReadOrigin(100 * 4096, 4096) == Pattern(4096, 3));
  // The header on disk says invalid too.
  std::shared_ptr<Snapshot> again;
  REQUIRE(r.Load(1, true, &again).ok());
  CHECK_FALSE(again->valid());
}

TEST_CASE("keep mode: a full COW stops snapshot writes with ENOSPC, reads go on") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 7);
  SnapshotConfig c;
  c.chunk_bytes = 4096;
  c.max_cow_bytes = 4 * 4096;
  c.overflow = OverflowMode::kKeep;
  auto s = r.Add(1, c);
  WriteSnap(r, *s, 0, 4096, 8);
  WriteSnap(r, *s, 4096, 4096, 9);
  auto b = Pattern(4096, 10);
  CHECK(r.origin->WriteSnapshot(*s, 8192, 4096, b.data()).err() == ENOSPC);
  CHECK(s->Info().StatusLine() == "Overflow");
  CHECK(r.ReadSnap(*s, 0, 4096) == Pattern(4096, 8));
  CHECK(r.ReadSnap(*s, 8192, 4096) == Pattern(4096, 7));
  CHECK(r.origin->WriteSnapshot(*s, 0, 4096, b.data()).err() == ENOSPC);
}

TEST_CASE("a COW write error invalidates only that snapshot") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 1);
  auto s1 = r.Add(1);
  auto s2 = r.Add(2);
  r.cows[1]->write_error = EIO;
  Write(r, 0, 4096, 2);
  CHECK_FALSE(s1->valid());
  CHECK(s2->valid());
  CHECK(r.ReadSnap(*s2, 0, 4096) == Pattern(4096, 1));
  CHECK(r.ReadOrigin(0, 4096) == Pattern(4096, 2));
}

TEST_CASE("an origin read error fails the origin write and changes nothing else") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 1);
  auto s = r.Add(1);
  r.origin_file->read_error = EIO;
  auto b = Pattern(4096, 2);
  CHECK(r.origin->Write(0, 4096, b.data()).err() == EIO);
  r.origin_file->read_error = 0;
  CHECK(s->valid());
  CHECK(r.ReadOrigin(0, 4096) == Pattern(4096, 1));
  Write(r, 0, 4096, 3);
  CHECK(r.ReadSnap(*s, 0, 4096) == Pattern(4096, 1));
}

TEST_CASE("discard on the origin preserves the snapshot first") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 5);
  auto s = r.Add(1);
  REQUIRE(r.origin->Discard(0, 65536).ok());
  CHECK(r.ReadOrigin(0, 65536) == Pattern(65536, 0));
  CHECK(r.ReadSnap(*s, 0, 65536) == Pattern(65536, 5));
}

TEST_CASE("a reloaded store gives the same snapshot") {
  EngineRig r(kMiB);
  Write(r, 0, kMiB, 1);
  auto s = r.Add(1);
  for (int i = 0; i < 40; ++i) Write(r, (i * 7919) % (kMiB - 4096), 4096, static_cast<uint8_t>(i));
  WriteSnap(r, *s, 500000, 3000, 0xee);
  auto before = r.ReadSnap(*s, 0, kMiB);
  std::shared_ptr<Snapshot> again;
  REQUIRE(r.Load(1, false, &again).ok());
  CHECK(r.ReadSnap(*again, 0, kMiB) == before);
  CHECK(again->Info().sectors_allocated == s->Info().sectors_allocated);
}

TEST_CASE("runs of consecutive exceptions are merged") {
  ExceptionTable t(1 << 20);
  for (chunk_t c = 0; c < 4096; ++c) {
    chunk_t nc;
    std::shared_ptr<PendingException> pe;
    REQUIRE(t.MapForWrite(c, &nc, &pe) == ExceptionTable::Found::kCreated);
    t.CompletePending(c, 100 + c);
  }
  CHECK(t.RunCount() == 16);  // runs stop at 256-chunk groups
  chunk_t nc = 0;
  REQUIRE(t.LookupComplete(4095, &nc));
  CHECK(nc == 100 + 4095);
  CHECK_FALSE(t.LookupComplete(4096, &nc));
  // Loading merges too, in any order, and spots duplicates.
  ExceptionTable l(1 << 20);
  for (chunk_t c = 512; c-- > 0;) l.LoadInsert(c, 10 + c);
  chunk_t dup;
  REQUIRE(l.FinishLoad(&dup));
  CHECK(l.RunCount() == 2);
  ExceptionTable d(1 << 20);
  d.LoadInsert(5, 10);
  d.LoadInsert(5, 11);
  CHECK_FALSE(d.FinishLoad(&dup));
  CHECK(dup == 5);
}

TEST_CASE("entries loaded in allocation order become runs as they arrive") {
  ExceptionTable t(1 << 20);
  for (chunk_t c = 0; c < 512; ++c) t.LoadInsert(c, 10 + c);
  CHECK(t.RunCount() == 2);  // before FinishLoad: one run per 256-chunk group
  t.LoadInsert(1000, 2000);
  t.LoadInsert(1001, 2002);  // the new chunk does not continue the run
  CHECK(t.RunCount() == 4);
  chunk_t dup = 0;
  REQUIRE(t.FinishLoad(&dup));
  chunk_t nc = 0;
  REQUIRE(t.LookupComplete(255, &nc));
  CHECK(nc == 265);
  REQUIRE(t.LookupComplete(256, &nc));
  CHECK(nc == 266);
  REQUIRE(t.LookupComplete(1001, &nc));
  CHECK(nc == 2002);
  CHECK_FALSE(t.LookupComplete(512, &nc));
  // A chunk that repeats inside a run built on the fly is still a duplicate.
  ExceptionTable d(1 << 20);
  d.LoadInsert(5, 10);
  d.LoadInsert(6, 11);
  d.LoadInsert(7, 12);
  d.LoadInsert(6, 20);
  CHECK_FALSE(d.FinishLoad(&dup));
  CHECK(dup == 6);
}

TEST_CASE("one origin write copying many chunks pays one group commit per store") {
  EngineRig r(4 * kMiB);
  Write(r, 0, 4 * kMiB, 1);
  r.Add(1);
  r.Add(2);
  int s1 = r.cows[1]->syncs, s2 = r.cows[2]->syncs;
  Write(r, 0, kMiB, 2);  // 64 chunks of 16 KiB in each snapshot
  CHECK(r.cows[1]->syncs - s1 == 2);  // data flush, area flush
  CHECK(r.cows[2]->syncs - s2 == 2);
  CHECK(r.ReadSnap(*r.origin->Find(1), 0, kMiB) == Pattern(kMiB, 1));
  CHECK(r.ReadSnap(*r.origin->Find(2), 0, kMiB) == Pattern(kMiB, 1));
}
