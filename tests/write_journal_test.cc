// The origin write journal (FORMAT.md §7) over an in-memory fault-injecting file: what Replay
// returns after a restart, a killed daemon (LiveCopy) or a power cut (DurableCopy, CrashCopy),
// and the bytes on disk.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "engine/crc32c.h"
#include "engine/le.h"
#include "engine/write_journal.h"
#include "tests/byte_diff.h"
#include "tests/fault_file.h"
#include "tests/journal_records.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {

constexpr uint64_t kRecords = WriteJournal::kRecordsStart;
constexpr uint64_t kCapacity = WriteJournal::kDefaultCapacity;

std::vector<uint8_t> Bytes(size_t len, uint8_t v) { return std::vector<uint8_t>(len, v); }

// Opens a journal over `f`, which stays owned by the test.
std::unique_ptr<WriteJournal> OpenOver(FaultFile* f, uint64_t capacity = kCapacity) {
  std::unique_ptr<WriteJournal> j;
  Status s = WriteJournal::Open(std::make_unique<SharedFile>(f), capacity, &j);
  INFO(s.message());
  REQUIRE(s.ok());
  return j;
}

// What a restarted holder replays from `f` (it reads the header, then the records).
std::vector<Record> ReplayFile(FaultFile* f) { return ReplayAll(*OpenOver(f)); }

// Record sizes on disk: a 64-byte header plus the data, padded to 512 bytes.
uint64_t OnDisk(uint64_t len) { return (64 + len + 511) / 512 * 512; }

// Rewrites bytes of `f` in place (durably: the test plays the disk, not the engine).
void Patch(FaultFile* f, uint64_t off, const std::vector<uint8_t>& bytes) {
  std::vector<uint8_t> c = f->Contents();
  REQUIRE(off + bytes.size() <= c.size());
  std::memcpy(&c[off], bytes.data(), bytes.size());
  f->SetContents(std::move(c));
}
std::vector<uint8_t> Le32(uint32_t v) {
  std::vector<uint8_t> b(4);
  le::Put32(b.data(), v);
  return b;
}
std::vector<uint8_t> Le64(uint64_t v) {
  std::vector<uint8_t> b(8);
  le::Put64(b.data(), v);
  return b;
}
// The record header CRC as FORMAT.md §7 defines it: bytes 0-39 with the state read as 0.
uint32_t RecordHeaderCrc(const uint8_t* h) {
  uint8_t copy[40];
  std::memcpy(copy, h, sizeof copy);
  std::memset(copy + 4, 0, 4);
  return Crc32c(copy, sizeof copy);
}

// A chosen power cut for FaultFile::CrashCopy: bit i says whether the i-th unsynced write
// reached the disk.
struct Keep {
  std::vector<int> bits;
  size_t next = 0;
  uint64_t operator()() { return next < bits.size() ? static_cast<uint64_t>(bits[next++]) : 1; }
};

}  // namespace

TEST_CASE("journal: Append before the first Reset refuses; after it, records replay in order") {
  FaultFile f("journal");
  auto j = OpenOver(&f);
  CHECK(j->generation() == 0);
  auto d = Bytes(100, 7);
  uint64_t pos = 0;
  CHECK(j->Append(0, d.size(), d.data(), &pos).err() == EINVAL);
  CHECK(f.writes == 0);  // refused without touching the file

  REQUIRE(j->Reset(true).ok());
  CHECK(j->generation() == 1);
  CHECK(j->Append(0, 0, d.data(), &pos).err() == EINVAL);  // 1 byte to 64 MiB
  const std::vector<Record> want = {
      {4096, Bytes(1, 0xa1)},            // one sector
      {123456789, Bytes(448, 0xa2)},     // 64 + 448: exactly one sector
      {7, Bytes(449, 0xa3)},             // one byte into a second sector
      {1ull << 40, Bytes(70000, 0xa4)},  // several sectors, offset past 32 bits
      {4096, Bytes(3, 0xa5)},            // the same offset again: order matters
  };
  uint64_t expect_pos = kRecords;
  for (const auto& r : want) {
    CHECK(AppendOk(*j, r) == expect_pos);
    expect_pos += OnDisk(r.data.size());
  }
  CHECK(j->used() == expect_pos - kRecords);
  CHECK(ReplayAll(*j) == want);
  // A killed daemon: the page cache survives, a new holder replays every record.
  auto live = f.LiveCopy();
  CHECK(ReplayFile(live.get()) == want);

  // Reopened, the journal again refuses appends until its records are dealt with.
  auto again = OpenOver(live.get());
  CHECK(again->generation() == 1);
  CHECK(again->Append(0, d.size(), d.data(), &pos).err() == EINVAL);
}

TEST_CASE("journal: the bytes on disk are those of FORMAT.md §7") {
  // CRC32C (Castagnoli) check value: the format's CRCs are this function.
  CHECK(Crc32c("123456789", 9) == 0xe3069283u);

  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  const Record r1{0x0102030405060708ull, Bytes(1000, 0x5a)};
  const Record r2{512, Bytes(3, 0xc3)};
  const uint64_t p1 = AppendOk(*j, r1), p2 = AppendOk(*j, r2);
  REQUIRE(p1 == 4096);
  REQUIRE(p2 == 4096 + 1536);  // 64 + 1000 bytes padded to 3 sectors

  const std::vector<uint8_t> c = f.Contents();
  REQUIRE(c.size() >= p2 + 512);
  // Header: "SCWJ", version 1, generation, CRC32C of bytes 0-15; zeros to byte 4096.
  CHECK(std::string(c.begin(), c.begin() + 4) == "SCWJ");
  CHECK(le::Get32(&c[0]) == 0x4a574353u);
  CHECK(le::Get32(&c[4]) == 1);
  CHECK(le::Get64(&c[8]) == 1);
  CHECK(le::Get32(&c[16]) == Crc32c(&c[0], 16));
  CHECK(std::all_of(c.begin() + 20, c.begin() + 4096, [](uint8_t b) { return b == 0; }));

  auto check_record = [&](uint64_t pos, const Record& r, uint32_t state, uint64_t seq) {
    const uint8_t* h = &c[pos];
    CHECK(std::string(h, h + 4) == "SCWR");
    CHECK(le::Get32(h) == 0x52574353u);
    CHECK(le::Get32(h + 4) == state);
    CHECK(le::Get64(h + 8) == 1);  // the header's generation
    CHECK(le::Get64(h + 16) == seq);
    CHECK(le::Get64(h + 24) == r.off);
    CHECK(le::Get32(h + 32) == r.data.size());
    CHECK(le::Get32(h + 36) == Crc32c(r.data.data(), r.data.size()));
    CHECK(le::Get32(h + 40) == RecordHeaderCrc(h));
    CHECK(std::all_of(h + 44, h + 64, [](uint8_t b) { return b == 0; }));
    CHECK(Diff(std::vector<uint8_t>(h + 64, h + 64 + r.data.size()), r.data) == "");
    CHECK(std::all_of(h + 64 + r.data.size(), h + OnDisk(r.data.size()),
                      [](uint8_t b) { return b == 0; }));
  };
  check_record(p1, r1, 1, 1);
  check_record(p2, r2, 1, 2);

  // Marking a record written is one 4-byte write of the state, outside the header CRC.
  const int before = f.writes;
  REQUIRE(j->MarkWritten(p1).ok());
  CHECK(f.writes == before + 1);
  const std::vector<uint8_t> after = f.Contents();
  CHECK(le::Get32(&after[p1 + 4]) == 2);
  std::vector<uint8_t> expect = c;
  le::Put32(&expect[p1 + 4], 2);
  CHECK(Diff(after, expect) == "");
  CHECK(le::Get32(&after[p1 + 40]) == RecordHeaderCrc(&after[p1]));

  // A new generation rewrites the header only.
  REQUIRE(j->Reset(false).ok());
  const std::vector<uint8_t> reset = f.Contents();
  CHECK(le::Get64(&reset[8]) == 2);
  CHECK(le::Get32(&reset[16]) == Crc32c(&reset[0], 16));
  CHECK(std::equal(reset.begin() + 20, reset.end(), after.begin() + 20));
}

TEST_CASE("journal: records marked written are not replayed") {
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  const Record a{0, Bytes(10, 1)}, b{100, Bytes(600, 2)}, c{5000, Bytes(20, 3)};
  const uint64_t pa = AppendOk(*j, a);
  const uint64_t pb = AppendOk(*j, b);
  const uint64_t pc = AppendOk(*j, c);
  REQUIRE(j->MarkWritten(pb).ok());
  CHECK(ReplayAll(*j) == std::vector<Record>{a, c});
  REQUIRE(j->MarkWritten(pa).ok());
  REQUIRE(j->MarkWritten(pc).ok());
  CHECK(ReplayAll(*j).empty());
  // A marked record still links the chain: one appended after it replays.
  const Record d{9, Bytes(5, 4)};
  AppendOk(*j, d);
  CHECK(ReplayFile(f.LiveCopy().get()) == std::vector<Record>{d});
}

TEST_CASE("journal: replay stops at the first record that does not check") {
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  const std::vector<Record> recs = {
      {0, Bytes(100, 1)}, {512, Bytes(100, 2)}, {1024, Bytes(100, 3)}};
  std::vector<uint64_t> pos;
  for (const auto& r : recs) pos.push_back(AppendOk(*j, r));
  const std::vector<Record> first_only = {recs[0]};
  auto broken = f.LiveCopy();
  REQUIRE(ReplayFile(broken.get()) == recs);
  const uint64_t p = pos[1];

  SECTION("a corrupted data byte") {
    const uint8_t flipped = static_cast<uint8_t>(recs[1].data[50] ^ 0x40);
    Patch(broken.get(), p + 64 + 50, {flipped});
    CHECK(ReplayFile(broken.get()) == first_only);
  }
  SECTION("a corrupted header byte (the offset)") {
    Patch(broken.get(), p + 24, Le64(513));
    CHECK(ReplayFile(broken.get()) == first_only);
  }
  SECTION("a corrupted magic") {
    Patch(broken.get(), p, Le32(0x52574354));
    CHECK(ReplayFile(broken.get()) == first_only);
  }
  SECTION("a state that is neither 1 nor 2") {
    Patch(broken.get(), p + 4, Le32(3));
    CHECK(ReplayFile(broken.get()) == first_only);
  }
  SECTION("a wrong sequence, with a header CRC that checks") {
    std::vector<uint8_t> c = broken->Contents();
    le::Put64(&c[p + 16], 3);
    le::Put32(&c[p + 40], RecordHeaderCrc(&c[p]));
    broken->SetContents(c);
    CHECK(ReplayFile(broken.get()) == first_only);
  }
  SECTION("a length past the end of the file") {
    std::vector<uint8_t> c = broken->Contents();
    le::Put32(&c[pos[2] + 32], 100000);
    le::Put32(&c[pos[2] + 40], RecordHeaderCrc(&c[pos[2]]));
    broken->SetContents(c);
    CHECK(ReplayFile(broken.get()) == std::vector<Record>{recs[0], recs[1]});
  }
  SECTION("a torn record: its header reached the disk, its data did not") {
    std::vector<uint8_t> c = broken->Contents();
    std::fill(c.begin() + static_cast<long>(p + 64), c.begin() + static_cast<long>(p + 164), 0);
    broken->SetContents(c);
    CHECK(ReplayFile(broken.get()) == first_only);
  }
}

TEST_CASE("journal: a new generation kills the records of the older one") {
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  // Same sizes throughout, so an old record sits exactly where the next new one would.
  const Record o1{0, Bytes(100, 1)}, o2{512, Bytes(100, 2)}, o3{1024, Bytes(100, 3)};
  AppendOk(*j, o1);
  AppendOk(*j, o2);
  AppendOk(*j, o3);
  REQUIRE(j->Reset(false).ok());
  CHECK(j->generation() == 2);
  CHECK(j->used() == 0);
  CHECK(ReplayAll(*j).empty());
  CHECK(ReplayFile(f.LiveCopy().get()).empty());
  // The new record overwrites o1; o2 follows with sequence 2 but generation 1: the end.
  const Record n1{2048, Bytes(100, 9)};
  CHECK(AppendOk(*j, n1) == kRecords);
  CHECK(ReplayAll(*j) == std::vector<Record>{n1});
  CHECK(ReplayFile(f.LiveCopy().get()) == std::vector<Record>{n1});
}

TEST_CASE("journal: a durable Reset survives a power cut; Settle makes a lazy one durable") {
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  CHECK(OpenOver(f.DurableCopy().get())->generation() == 1);
  AppendOk(*j, {0, Bytes(10, 1)});
  REQUIRE(j->Reset(true).ok());
  CHECK(OpenOver(f.DurableCopy().get())->generation() == 2);
  // The records of generation 2 were never synced: a power cut loses them, nothing else.
  AppendOk(*j, {0, Bytes(10, 2)});
  auto cut = f.DurableCopy();
  CHECK(OpenOver(cut.get())->generation() == 2);
  CHECK(ReplayFile(cut.get()).empty());

  SECTION("Settle after a lazy Reset makes the new generation durable") {
    REQUIRE(j->Reset(false).ok());
    CHECK(j->generation() == 3);
    CHECK(OpenOver(f.LiveCopy().get())->generation() == 3);
    const int syncs = f.syncs;
    REQUIRE(j->Settle().ok());
    CHECK(f.syncs > syncs);
    CHECK(OpenOver(f.DurableCopy().get())->generation() == 4);
  }
  SECTION("Settle on a journal that is empty with its header synced does nothing") {
    REQUIRE(j->Reset(true).ok());
    const int syncs = f.syncs, writes = f.writes;
    const uint64_t gen = j->generation();
    REQUIRE(j->Settle().ok());
    CHECK(f.syncs == syncs);
    CHECK(f.writes == writes);
    CHECK(j->generation() == gen);
  }
  SECTION("Settle with records starts a new generation, durably") {
    const uint64_t gen = j->generation();
    REQUIRE(j->Settle().ok());
    CHECK(j->used() == 0);
    auto after = f.DurableCopy();
    CHECK(OpenOver(after.get())->generation() == gen + 1);
    CHECK(ReplayFile(after.get()).empty());
  }
}

TEST_CASE("journal: past its capacity Append gives ENOSPC until the next Reset") {
  FaultFile f("journal");
  auto j = OpenOver(&f, /*capacity=*/2048);
  REQUIRE(j->Reset(true).ok());
  const auto d = Bytes(1000, 1);  // 1536 bytes on disk
  uint64_t pos = 0;
  REQUIRE(j->Append(0, d.size(), d.data(), &pos).ok());
  CHECK(j->Append(0, d.size(), d.data(), &pos).err() == ENOSPC);
  const auto small = Bytes(400, 2);  // 512 bytes on disk: exactly fills it
  CHECK(j->Append(4096, small.size(), small.data(), &pos).ok());
  CHECK(j->used() == 2048);
  CHECK(j->Append(0, 1, small.data(), &pos).err() == ENOSPC);
  CHECK(ReplayAll(*j) == std::vector<Record>{{0, d}, {4096, small}});
  REQUIRE(j->Reset(false).ok());
  CHECK(j->Append(0, d.size(), d.data(), &pos).ok());
}

TEST_CASE("journal: the first Reset after Open deallocates the records of a lost header") {
  // A holder reached generation 2 lazily and appended; the power cut kept its records but not
  // the header, which is back at generation 1.
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());  // generation 1, durable
  const Record a1{0, Bytes(100, 0xa1)}, a2{512, Bytes(100, 0xa2)};
  AppendOk(*j, a1);
  AppendOk(*j, a2);
  REQUIRE(j->Reset(false).ok());  // generation 2, header not synced
  const std::vector<Record> lost = {{1000, Bytes(100, 0xb1)}, {2000, Bytes(100, 0xb2)},
                                    {3000, Bytes(100, 0xb3)}};
  for (const auto& r : lost) AppendOk(*j, r);
  // Unsynced since the first Reset: a1, a2, the header, b1, b2, b3. Drop only the header.
  Keep keep{{1, 1, 0, 1, 1, 1}};
  auto cut = f.CrashCopy(keep);
  REQUIRE(keep.next == 6);  // every unsynced write was chosen by hand
  {
    const std::vector<uint8_t> c = cut->Contents();
    REQUIRE(le::Get64(&c[8]) == 1);
    REQUIRE(le::Get64(&c[kRecords + 8]) == 2);
  }

  auto reopened = OpenOver(cut.get());
  CHECK(reopened->generation() == 1);
  CHECK(ReplayAll(*reopened).empty());  // generation 2 records under a generation 1 header
  REQUIRE(reopened->Reset(false).ok());  // even a lazy one: the first after Open
  CHECK(reopened->generation() == 2);
  // Generation 2 again, but the records of the lost generation 2 must stay dead ...
  CHECK(ReplayAll(*reopened).empty());
  // ... after a power cut now (the deallocation and the header are durable) ...
  auto cut2 = cut->DurableCopy();
  CHECK(OpenOver(cut2.get())->generation() == 2);
  CHECK(ReplayFile(cut2.get()).empty());
  // ... and behind a new record that does not cover them.
  const Record n1{42, Bytes(100, 0xc1)};
  AppendOk(*reopened, n1);
  CHECK(ReplayAll(*reopened) == std::vector<Record>{n1});
  CHECK(ReplayFile(cut->LiveCopy().get()) == std::vector<Record>{n1});
}

TEST_CASE("journal: a missing, short or bad header is generation 0 with no records") {
  // A journal with two live records in generation 1, then its header damaged.
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  AppendOk(*j, {0, Bytes(10, 1)});
  AppendOk(*j, {512, Bytes(10, 2)});
  auto good = f.LiveCopy();
  REQUIRE(ReplayFile(good.get()).size() == 2);

  SECTION("missing") {
    FaultFile empty("journal");
    auto e = OpenOver(&empty);
    CHECK(e->generation() == 0);
    CHECK(ReplayAll(*e).empty());
    REQUIRE(e->Reset(true).ok());
    CHECK(e->generation() == 1);
  }
  SECTION("short") {
    std::vector<uint8_t> c = good->Contents();
    c.resize(12);
    FaultFile short_file("journal");
    short_file.SetContents(c);
    auto s = OpenOver(&short_file);
    CHECK(s->generation() == 0);
    CHECK(ReplayAll(*s).empty());
  }
  SECTION("bad CRC") {
    Patch(good.get(), 16, Le32(le::Get32(&good->Contents()[16]) ^ 1));
    auto b = OpenOver(good.get());
    CHECK(b->generation() == 0);
    CHECK(ReplayAll(*b).empty());
  }
  SECTION("bad magic, CRC recomputed") {
    std::vector<uint8_t> c = good->Contents();
    le::Put32(&c[0], 0x4a574354);
    le::Put32(&c[16], Crc32c(&c[0], 16));
    good->SetContents(c);
    auto b = OpenOver(good.get());
    CHECK(b->generation() == 0);
    CHECK(ReplayAll(*b).empty());
  }
  SECTION("unknown version, CRC recomputed") {
    std::vector<uint8_t> c = good->Contents();
    le::Put32(&c[4], 2);
    le::Put32(&c[16], Crc32c(&c[0], 16));
    good->SetContents(c);
    auto b = OpenOver(good.get());
    CHECK(b->generation() == 0);
    CHECK(ReplayAll(*b).empty());
  }
}

TEST_CASE("journal: a Reset whose sync failed leaves later appends replayable") {
  // DeferredWrites keeps deferring after Sync() reported a failed Settle: the records it
  // appends next must still be found by the next holder after a kill (the page cache keeps
  // both the header write that was not synced and the records).
  FaultFile f("journal");
  auto j = OpenOver(&f);
  REQUIRE(j->Reset(true).ok());
  AppendOk(*j, {0, Bytes(10, 1)});
  f.sync_error = EIO;
  CHECK(j->Reset(true).err() == EIO);
  f.sync_error = 0;
  const Record after{4096, Bytes(10, 2)};
  uint64_t pos = 0;
  if (j->Append(after.off, after.data.size(), after.data.data(), &pos).ok()) {
    auto killed = f.LiveCopy();
    auto next = OpenOver(killed.get());
    INFO("generation in memory " << j->generation() << ", in the header on disk "
                                 << next->generation());
    const std::vector<Record> replayed = ReplayAll(*next);
    // Replaying the record before it again is harmless (its write was applied); losing
    // `after` is not.
    REQUIRE_FALSE(replayed.empty());
    CHECK(replayed.back() == after);
  }
}
