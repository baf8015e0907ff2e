// ReplayJournal (engine/journal_replay.h): the records a killed daemon left are written into
// the origin in order, every snapshot keeps the old data, and the copies of many records
// share their commits instead of waiting for one each.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "engine/journal_replay.h"
#include "engine/write_journal.h"
#include "tests/byte_diff.h"
#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kSize = 4 << 20;
constexpr uint64_t kChunk = kDefaultChunkBytes;
constexpr int kRecords = 64;  // one first write to each of chunks 0..63
// Never reached by a correct engine: a thread held this long waits for the test itself.
constexpr auto kLimit = 30s;

struct Rig {
  Rig() : r(kSize) {
    auto old = Old(0, kSize);
    REQUIRE(r.origin->Write(0, kSize, old.data()).ok());
    s1 = r.Add(1);
    s2 = r.Add(2);
    Status s = WriteJournal::Open(std::make_unique<SharedFile>(&journal_file),
                                  WriteJournal::kDefaultCapacity, &journal);
    REQUIRE(s.ok());
    REQUIRE(journal->Reset(true).ok());
    want = old;
  }
  // Journals a write as the daemon would have, and what the origin must hold after it.
  void Record(uint64_t off, const std::vector<uint8_t>& data) {
    uint64_t pos = 0;
    REQUIRE(journal->Append(off, data.size(), data.data(), &pos).ok());
    std::copy(data.begin(), data.end(), want.begin() + static_cast<long>(off));
  }
  void RecordAll() {
    for (int c = 0; c < kRecords; ++c)
      Record(c * kChunk + 4096, Pattern(4096, static_cast<uint8_t>(0x80 + c)));
    // Later records over earlier ones, one of them inside chunk 0's first write.
    Record(4096 + 512, Pattern(1024, 0xe1));
    Record(4096, Pattern(2048, 0xe2));
  }
  std::vector<uint8_t> ReadOrigin() {
    std::vector<uint8_t> b(kSize);
    REQUIRE(r.origin->Read(0, kSize, b.data()).ok());
    return b;
  }
  std::vector<uint8_t> ReadSnap(Snapshot& s) {
    std::vector<uint8_t> b(kSize);
    REQUIRE(r.origin->ReadSnapshot(s, 0, kSize, b.data()).ok());
    return b;
  }

  EngineRig r;
  std::shared_ptr<Snapshot> s1, s2;
  FaultFile journal_file{"journal"};
  std::unique_ptr<WriteJournal> journal;
  std::vector<uint8_t> want;
};

}  // namespace

TEST_CASE("replay: records land in order, after every snapshot's copy") {
  Rig g;
  g.RecordAll();
  uint64_t n = 0;
  Status s = ReplayJournal(*g.journal, *g.r.origin, &n);
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(n == kRecords + 2);
  CHECK(Diff(g.ReadOrigin(), g.want) == "");
  CHECK(Diff(g.ReadSnap(*g.s1), Old(0, kSize)) == "");
  CHECK(Diff(g.ReadSnap(*g.s2), Old(0, kSize)) == "");
  // The copies are committed: a power cut now keeps them.
  for (uint32_t k : {1u, 2u}) {
    std::shared_ptr<Snapshot> loaded;
    REQUIRE(g.r.Load(k, true, &loaded).ok());
    int copied = 0;
    for (chunk_t c = 0; c < kRecords; ++c) {
      chunk_t nc;
      copied += loaded->table().LookupComplete(c, &nc);
    }
    CHECK(copied == kRecords);
  }
}

TEST_CASE("replay: the copies of many records run while a commit is in flight") {
  Rig g;
  g.RecordAll();
  // Hold snapshot 1's first commit. Copies made one record at a time would stop at the
  // first: the next record is only started once that commit is durable.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> syncs{0};
  g.r.cows[1]->before_sync = [&](uint64_t, size_t) {
    if (syncs++ == 0) released.wait_for(kLimit);
  };
  const int writes_before = g.r.cows[1]->writes;
  auto replay = std::async(std::launch::async, [&] {
    uint64_t n = 0;
    return ReplayJournal(*g.journal, *g.r.origin, &n);
  });
  bool overlapped = false;
  for (auto until = std::chrono::steady_clock::now() + kLimit;
       !overlapped && std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(1ms))
    overlapped = syncs > 0 && g.r.cows[1]->writes - writes_before >= 4;
  CHECK(overlapped);
  release.set_value();
  Status s = replay.get();
  INFO(s.message());
  REQUIRE(s.ok());
  CHECK(Diff(g.ReadOrigin(), g.want) == "");
  CHECK(Diff(g.ReadSnap(*g.s1), Old(0, kSize)) == "");
}

TEST_CASE("replay: an origin read error stops it before anything is written") {
  Rig g;
  g.RecordAll();
  // From the read of chunk 40's copy on, every origin read fails: a replay that wrote the
  // records one by one would have written 40 of them by then.
  g.r.origin_file->before_read = [&](uint64_t off, size_t) {
    if (off / kChunk == 40) g.r.origin_file->read_error = EIO;
  };
  uint64_t n = 0;
  CHECK_FALSE(ReplayJournal(*g.journal, *g.r.origin, &n).ok());
  g.r.origin_file->before_read = nullptr;
  g.r.origin_file->read_error = 0;
  CHECK(Diff(g.ReadOrigin(), Old(0, kSize)) == "");
  CHECK(g.s1->valid());
  CHECK(Diff(g.ReadSnap(*g.s1), Old(0, kSize)) == "");
}
