// Deferred first writes to the origin (FORMAT.md §7, engine/deferred_writes.h), through an
// Origin with EnableDeferral over fault-injecting files: a first write is acknowledged once
// journalled, origin.img changes only once the copies are durable, origin I/O that overlaps
// a queued write waits for it, and a power cut or a killed daemon loses no snapshot data.
#include <catch2/catch.hpp>
#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "engine/journal_replay.h"
#include "engine/le.h"
#include "engine/write_journal.h"
#include "tests/block_tags.h"
#include "tests/byte_diff.h"
#include "tests/engine_rig.h"
#include "tests/temp_dir.h"

using namespace snapcow;
using namespace snapcow::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kSize = 1 << 20;
constexpr uint64_t kChunk = kDefaultChunkBytes;
// Never reached by a correct engine, however slow the machine: a thread held this long at a
// gate is waiting for something the test does not release until later.
constexpr std::chrono::milliseconds kLimit = 30s;
// How long a call that must stay blocked is given to return anyway. Too short can only let a
// broken engine pass, never fail a correct one.
constexpr std::chrono::milliseconds kStillBlocked = 300ms;

// Holds the threads that reach a FaultFile hook while it is closed. One held past kLimit is
// let go (and the gate stays open): a broken engine then fails timed_out() instead of
// hanging the test.
class Gate {
 public:
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> l(mu_);
    if (open_) return;
    ++held_;
    cv_.notify_all();
    if (!cv_.wait_for(l, kLimit, [&] { return open_; })) {
      timed_out_ = true;
      open_ = true;
      cv_.notify_all();
    }
    --held_;
  }
  // Waits (at most kLimit) until `n` threads are held.
  bool WaitHeld(int n) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, kLimit, [&] { return held_ >= n; });
  }
  int held() const {
    std::lock_guard<std::mutex> l(mu_);
    return held_;
  }
  bool timed_out() const {
    std::lock_guard<std::mutex> l(mu_);
    return timed_out_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int held_ = 0;
  bool timed_out_ = false;
};

std::vector<uint8_t> Slice(const std::vector<uint8_t>& v, uint64_t off, size_t len) {
  std::vector<uint8_t> out(len, 0);
  for (size_t i = 0; i < len && off + i < v.size(); ++i) out[i] = v[off + i];
  return out;
}
void Put(std::vector<uint8_t>& image, uint64_t off, const std::vector<uint8_t>& b) {
  std::copy(b.begin(), b.end(), image.begin() + static_cast<long>(off));
}
// Chunk 0 as it was, with `b` written at `at`.
std::vector<uint8_t> OldChunkWith(uint64_t at, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> v = Old(0, kChunk);
  Put(v, at, b);
  return v;
}

std::unique_ptr<WriteJournal> OpenJournal(FaultFile* f) {
  std::unique_ptr<WriteJournal> j;
  Status s = WriteJournal::Open(std::make_unique<SharedFile>(f), WriteJournal::kDefaultCapacity,
                                &j);
  INFO(s.message());
  REQUIRE(s.ok());
  return j;
}
// The records a new holder would replay from `f`, as (offset, data).
std::vector<std::pair<uint64_t, std::vector<uint8_t>>> Replayed(FaultFile* f) {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> out;
  auto j = OpenJournal(f);
  uint64_t n = 0;
  REQUIRE(j->Replay(
               [&](uint64_t off, size_t len, const void* data) {
                 const auto* p = static_cast<const uint8_t*>(data);
                 out.emplace_back(off, std::vector<uint8_t>(p, p + len));
                 return Status::OK();
               },
               &n)
              .ok());
  return out;
}

// An Origin over EngineRig's files whose first writes are deferred; snapshot 1's COW syncs
// (its commits) pass cow_gate.
struct Deferred {
  explicit Deferred(uint32_t cow_threshold = kDefaultCowThreshold) : r(kSize, cow_threshold) {
    auto old = Old(0, kSize);
    REQUIRE(r.origin->Write(0, kSize, old.data()).ok());  // no snapshot yet: written through
    REQUIRE(r.origin->Sync().ok());
  }
  // Hooks on origin_file must be set before: the applier thread starts here. The journal is
  // `journal` unless one is given (a mapped one, over a real file).
  void Start(std::unique_ptr<WriteJournal> j = nullptr) {
    if (!j) j = OpenJournal(&journal);
    REQUIRE(j->Reset(true).ok());
    r.origin->EnableDeferral(std::move(j));
    snap = r.Add(1);
    r.cows[1]->before_sync = [this](uint64_t, size_t) { cow_gate.Pass(); };
  }
  // The applier applies what is queued as the Origin goes: with the gates open, and while
  // EngineRig's COW files still exist.
  ~Deferred() {
    OpenGates();
    r.origin.reset();
  }
  void OpenGates() {
    cow_gate.Open();
    origin_gate.Open();
  }

  void Write(uint64_t off, const std::vector<uint8_t>& b) {
    Status s = r.origin->Write(off, b.size(), b.data());
    INFO(s.message());
    REQUIRE(s.ok());
  }

  Gate cow_gate, origin_gate;
  FaultFile journal{"journal"};
  EngineRig r;
  std::shared_ptr<Snapshot> snap;
};

// A call run on its own thread. If it has not been collected, the destructor opens the gates
// before waiting for it, so a failed REQUIRE never leaves the test hanging on a held thread.
class Background {
 public:
  Background(Deferred& d, std::function<Status()> fn)
      : d_(d), f_(std::async(std::launch::async, std::move(fn))) {}
  ~Background() {
    if (f_.valid()) {
      d_.OpenGates();
      f_.wait();
    }
  }
  bool ReturnsWithin(std::chrono::milliseconds t) {
    return f_.wait_for(t) == std::future_status::ready;
  }
  Status Get() {
    REQUIRE(ReturnsWithin(kLimit));
    return f_.get();
  }

 private:
  Deferred& d_;
  std::future<Status> f_;
};

// kill -9 now: what the page cache holds of every file survives.
struct Killed {
  explicit Killed(Deferred& d)
      : origin(d.r.origin_file->LiveCopy()),
        cow(d.r.cows.at(1)->LiveCopy()),
        journal(d.journal.LiveCopy()) {}
  std::unique_ptr<FaultFile> origin, cow, journal;
};

// The next holder after a kill: origin and snapshot 1 from the files left, then the journal
// replayed (ReplayJournal), synced and reset, as ImageDir::OpenJournal does.
struct NextHolder {
  explicit NextHolder(Killed& k)
      : o(std::make_unique<SharedFile>(k.origin.get()), kSize, kDefaultCowThreshold) {
    Status st = Snapshot::Load(1, std::make_unique<SharedFile>(k.cow.get()), kSize, &snap);
    INFO(st.message());
    REQUIRE(st.ok());
    {
      Origin::Quiesce q(&o);
      o.AddSnapshot(snap);
    }
    for (const auto& [off, data] : Replayed(k.journal.get())) replayed.push_back(off);
    auto j = OpenJournal(k.journal.get());
    uint64_t n = 0;
    st = ReplayJournal(*j, o, &n);
    INFO(st.message());
    REQUIRE(st.ok());
    REQUIRE(n == replayed.size());
    REQUIRE(o.Sync().ok());
    REQUIRE(j->Reset(true).ok());
  }
  std::vector<uint8_t> Read(uint64_t off = 0, size_t len = kSize) {
    std::vector<uint8_t> b(len);
    REQUIRE(o.Read(off, len, b.data()).ok());
    return b;
  }
  std::vector<uint8_t> ReadSnap(Snapshot& s) {
    std::vector<uint8_t> b(kSize);
    REQUIRE(o.ReadSnapshot(s, 0, kSize, b.data()).ok());
    return b;
  }

  Origin o;
  std::shared_ptr<Snapshot> snap;
  std::vector<uint64_t> replayed;  // offsets, in order
};

// Journal record fields (FORMAT.md §7) at `pos` of the journal file.
struct RecordView {
  uint32_t magic, state;
  uint64_t off;
  uint32_t len;
  std::vector<uint8_t> data;
};
RecordView RecordAt(FaultFile& journal, uint64_t pos) {
  const std::vector<uint8_t> c = journal.Contents();
  REQUIRE(c.size() >= pos + 64);
  const uint8_t* h = &c[pos];
  RecordView v{le::Get32(h), le::Get32(h + 4), le::Get64(h + 24), le::Get32(h + 32), {}};
  v.data = Slice(c, pos + 64, std::min<uint32_t>(v.len, 1 << 20));
  return v;
}
constexpr uint32_t kRecordMagic = 0x52574353;  // "SCWR"

}  // namespace

TEST_CASE("deferred: a first write returns before its copy commits, and reads wait for it") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto neu = Pattern(4096, 0xc1);
  const std::vector<uint8_t> want = OldChunkWith(4096, neu);

  d.cow_gate.Close();
  // With the commit held only a deferred write can return (else the gate times out).
  d.Write(4096, neu);
  CHECK_FALSE(d.cow_gate.timed_out());
  REQUIRE(d.cow_gate.WaitHeld(1));
  // Acknowledged and journalled; origin.img still holds the old bytes.
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  RecordView rec = RecordAt(d.journal, WriteJournal::kRecordsStart);
  CHECK(rec.magic == kRecordMagic);
  CHECK(rec.state == 1);
  CHECK(rec.off == 4096);
  CHECK(rec.len == 4096);
  CHECK(Diff(rec.data, neu) == "");
  // The snapshot reads the old data (from origin.img: its copy is not committed).
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  // A read of another range does not wait.
  std::vector<uint8_t> other(kChunk);
  {
    Background read_other(d, [&] { return r.origin->Read(kChunk, kChunk, other.data()); });
    REQUIRE(read_other.Get().ok());
    CHECK(Diff(other, Old(kChunk, kChunk)) == "");
  }
  // A read of the written range waits until origin.img has the new bytes.
  std::vector<uint8_t> got(kChunk);
  Background reader(d, [&] { return r.origin->Read(0, kChunk, got.data()); });
  CHECK_FALSE(reader.ReturnsWithin(kStillBlocked));
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  d.cow_gate.Open();
  REQUIRE(reader.Get().ok());
  CHECK(Diff(got, want) == "");
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  r.origin->ApplyDeferred();
  CHECK(RecordAt(d.journal, WriteJournal::kRecordsStart).state == 2);
  CHECK_FALSE(d.cow_gate.timed_out());
}

TEST_CASE("deferred: with a mapped journal the origin gets the journalled bytes, not the "
          "writer's buffer as it is later") {
  // The applier writes a deferred write from its record in the journal's mapping: the writer
  // (a FUSE thread) reuses its buffer as soon as the write is acknowledged.
  TempDir dir;
  std::unique_ptr<File> f;
  Status st = OpenPosixFile(dir.path + "/journal", O_RDWR | O_CREAT, 0600, &f);
  INFO(st.message());
  REQUIRE(st.ok());
  std::unique_ptr<WriteJournal> j;
  REQUIRE(WriteJournal::Open(std::move(f), WriteJournal::kDefaultCapacity, &j).ok());
  Deferred d;
  d.Start(std::move(j));
  EngineRig& r = d.r;

  d.cow_gate.Close();
  std::vector<uint8_t> want = Old(0, kSize);
  std::vector<uint8_t> buf(4096);
  for (uint64_t i = 0; i < 8; ++i) {
    const uint64_t off = i * kChunk + 512 * i;  // 512-aligned: records of many sizes of pad
    const auto neu = Pattern(buf.size(), static_cast<uint8_t>(0x40 + i));
    std::copy(neu.begin(), neu.end(), buf.begin());
    d.Write(off, buf);
    std::fill(buf.begin(), buf.end(), 0xee);  // the writer reuses its buffer
    std::copy(neu.begin(), neu.end(), want.begin() + static_cast<ptrdiff_t>(off));
  }
  // All eight are queued behind the held commit: origin.img still has the old bytes.
  CHECK_FALSE(d.cow_gate.timed_out());
  CHECK(Diff(r.origin_file->Contents(), Old(0, kSize)) == "");
  d.cow_gate.Open();
  r.origin->ApplyDeferred();
  CHECK(Diff(r.origin_file->Contents(), want) == "");
  CHECK(Diff(r.ReadOrigin(0, kSize), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
}

TEST_CASE("deferred: a write whose fsync follows waits for its copy and skips the journal") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto neu = Pattern(4096, 0xc2);
  std::vector<uint8_t> want = Old(0, kChunk);
  Put(want, 4096, neu);
  auto records = [&] {
    const std::vector<uint8_t> c = d.journal.Contents();
    return c.size() >= WriteJournal::kRecordsStart + 64 &&
           le::Get32(&c[WriteJournal::kRecordsStart]) == kRecordMagic;
  };

  d.cow_gate.Close();
  Background writer(d, [&] {
    return r.origin->Write(4096, neu.size(), neu.data(), Origin::WriteHint::kSyncFollows);
  });
  CHECK_FALSE(writer.ReturnsWithin(kStillBlocked));  // held with its commit
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  d.cow_gate.Open();
  REQUIRE(writer.Get().ok());
  // Returned with origin.img written by the writer itself, and nothing journalled.
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), want) == "");
  CHECK_FALSE(records());
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  // The same first write without the hint is journalled.
  d.Write(kChunk + 4096, neu);
  CHECK(records());
  CHECK_FALSE(d.cow_gate.timed_out());
}

TEST_CASE("deferred: overlapping origin I/O keeps its order") {
  Deferred d;
  EngineRig& r = d.r;
  // Only the applier's write of the first write (offset 0) is held at origin_gate.
  r.origin_file->before_write = [&d](uint64_t off, size_t) {
    if (off == 0) d.origin_gate.Pass();
  };
  d.Start();
  std::vector<uint8_t> want = Old(0, kSize);
  const auto first = Pattern(8192, 0xc1);
  Put(want, 0, first);

  SECTION("a second write waits until the first is in origin.img") {
    d.origin_gate.Close();
    d.Write(0, first);
    // Held right before writing origin.img: the copy has committed.
    REQUIRE(d.origin_gate.WaitHeld(1));
    const auto second = Pattern(8192, 0xc2);
    Put(want, 4096, second);
    Background w2(d, [&] { return r.origin->Write(4096, second.size(), second.data()); });
    CHECK_FALSE(w2.ReturnsWithin(kStillBlocked));
    d.origin_gate.Open();
    REQUIRE(w2.Get().ok());
  }
  SECTION("a discard waits until the write is in origin.img") {
    d.origin_gate.Close();
    d.Write(0, first);
    REQUIRE(d.origin_gate.WaitHeld(1));
    Put(want, 4096, Pattern(8192, 0));
    Background discard(d, [&] { return r.origin->Discard(4096, 8192); });
    CHECK_FALSE(discard.ReturnsWithin(kStillBlocked));
    d.origin_gate.Open();
    REQUIRE(discard.Get().ok());
  }
  SECTION("writes to a chunk whose copy is held end in the order they were acknowledged") {
    d.cow_gate.Close();
    d.Write(0, first);
    REQUIRE(d.cow_gate.WaitHeld(1));
    // Same chunk, no overlap: joins the held copy and is deferred too.
    const auto third = Pattern(4096, 0xc3);
    Put(want, 12288, third);
    d.Write(12288, third);
    CHECK_FALSE(d.cow_gate.timed_out());
    const auto second = Pattern(4096, 0xc2);
    Put(want, 4096, second);
    Background w2(d, [&] { return r.origin->Write(4096, second.size(), second.data()); });
    d.cow_gate.Open();
    REQUIRE(w2.Get().ok());
  }
  CHECK(Diff(r.ReadOrigin(0, kSize), want) == "");
  r.origin->ApplyDeferred();
  CHECK(Diff(r.origin_file->Contents(), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
  CHECK_FALSE(d.origin_gate.timed_out());
  CHECK_FALSE(d.cow_gate.timed_out());
}

TEST_CASE("deferred: I/O held behind a queued write goes on once that write is applied") {
  // Each waiter is woken for the last queued write it overlaps, not at every write applied:
  // it must still be woken for that one, whether writes queued after it remain or not.
  Deferred d;
  EngineRig& r = d.r;
  Gate last_gate;  // holds the applier's write of the third write
  r.origin_file->before_write = [&](uint64_t off, size_t) {
    if (off == 0) d.origin_gate.Pass();
    if (off == 4 * kChunk) last_gate.Pass();
  };
  d.Start();
  const auto w1 = Pattern(4096, 0xd1), w2 = Pattern(4096, 0xd2), w3 = Pattern(4096, 0xd3);
  d.origin_gate.Close();
  last_gate.Close();
  d.Write(0, w1);
  REQUIRE(d.origin_gate.WaitHeld(1));  // w1's copy committed; w1 not yet in origin.img
  d.Write(2 * kChunk, w2);

  std::vector<uint8_t> got(8192);
  SECTION("a write queued after it is still held") {
    d.Write(4 * kChunk, w3);
    // Over w2 and the old data after it: waits for w2 only.
    Background reader(d, [&] { return r.origin->Read(2 * kChunk, got.size(), got.data()); });
    CHECK_FALSE(reader.ReturnsWithin(kStillBlocked));
    d.origin_gate.Open();
    REQUIRE(last_gate.WaitHeld(1));  // w1 and w2 applied, w3 held
    REQUIRE(reader.Get().ok());
    CHECK(last_gate.held() == 1);
  }
  SECTION("it waits for the last write queued") {
    Background reader(d, [&] { return r.origin->Read(2 * kChunk, got.size(), got.data()); });
    CHECK_FALSE(reader.ReturnsWithin(kStillBlocked));
    d.origin_gate.Open();
    REQUIRE(reader.Get().ok());
  }
  std::vector<uint8_t> want = Old(2 * kChunk, got.size());
  Put(want, 0, w2);
  CHECK(Diff(got, want) == "");
  CHECK(Diff(Slice(r.origin_file->Contents(), 2 * kChunk, 4096), w2) == "");
  last_gate.Open();
  r.origin->ApplyDeferred();
  CHECK_FALSE(d.origin_gate.timed_out());
  CHECK_FALSE(last_gate.timed_out());
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
}

TEST_CASE("deferred: a snapshot read served from origin.img ends before the write lands") {
  // Seed 004 with the write deferred: the writer returns at once, the applier must wait.
  Deferred d;
  EngineRig& r = d.r;
  static thread_local bool t_is_reader = false;
  r.origin_file->before_read = [&d](uint64_t, size_t) {
    if (t_is_reader) d.origin_gate.Pass();  // mapped to the origin, not yet read
  };
  d.Start();
  d.origin_gate.Close();
  std::vector<uint8_t> got(kChunk);
  Background reader(d, [&] {
    t_is_reader = true;
    return r.origin->ReadSnapshot(*d.snap, 0, kChunk, got.data());
  });
  REQUIRE(d.origin_gate.WaitHeld(1));
  const auto neu = Pattern(4096, 0x9e);
  d.Write(4096, neu);  // deferred: returns although the read is in flight
  Background apply(d, [&] {
    r.origin->ApplyDeferred();
    return Status::OK();
  });
  CHECK_FALSE(apply.ReturnsWithin(kStillBlocked));
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  d.origin_gate.Open();
  REQUIRE(reader.Get().ok());
  CHECK(Diff(got, Old(0, kChunk)) == "");
  REQUIRE(apply.Get().ok());
  std::vector<uint8_t> want = Old(0, kChunk);
  Put(want, 4096, neu);
  CHECK(Diff(r.ReadOrigin(0, kChunk), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  CHECK_FALSE(d.origin_gate.timed_out());
}

TEST_CASE("deferred: Sync drains the queue, then leaves no live record in the journal") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  std::vector<uint8_t> want = Old(0, kSize);
  const auto a = Pattern(4096, 0xd1), b = Pattern(8192, 0xd2);
  Put(want, 0, a);
  Put(want, 3 * kChunk, b);
  REQUIRE(le::Get64(&d.journal.DurableCopy()->Contents()[8]) == 1);

  d.cow_gate.Close();
  d.Write(0, a);
  d.Write(3 * kChunk, b);
  REQUIRE(d.cow_gate.WaitHeld(1));
  const int held = d.cow_gate.held();
  Background sync(d, [&] { return r.origin->Sync(); });
  // Sync waits for the queue before it syncs anything: no second thread at the COW's sync.
  CHECK_FALSE(sync.ReturnsWithin(kStillBlocked));
  CHECK(d.cow_gate.held() == held);
  d.cow_gate.Open();
  Status s = sync.Get();
  INFO(s.message());
  REQUIRE(s.ok());

  // origin.img is durable with both writes.
  CHECK(Diff(r.origin_file->DurableCopy()->Contents(), want) == "");
  // The journal: a new generation, durably, and nothing a power cut could replay ...
  auto cut = d.journal.DurableCopy();
  std::vector<uint8_t> c = cut->Contents();
  CHECK(le::Get64(&c[8]) == 2);
  CHECK(Replayed(cut.get()).empty());
  // ... even if the records had not been marked written: their generation is over.
  int records = 0;
  for (uint64_t pos = WriteJournal::kRecordsStart;
       pos + 64 <= c.size() && le::Get32(&c[pos]) == kRecordMagic;
       pos += (64 + le::Get32(&c[pos + 32]) + 511) / 512 * 512) {
    le::Put32(&c[pos + 4], 1);
    ++records;
  }
  CHECK(records == 2);
  cut->SetContents(c);
  CHECK(Replayed(cut.get()).empty());
  CHECK(Replayed(d.journal.LiveCopy().get()).empty());
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
}

TEST_CASE("deferred: after a killed daemon the journal replays what origin.img lacks") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto applied = Pattern(4096, 0xe1), held = Pattern(4096, 0xe2);
  d.Write(2 * kChunk, applied);
  r.origin->ApplyDeferred();  // in origin.img, its record marked written
  d.cow_gate.Close();
  d.Write(0, held);
  REQUIRE(d.cow_gate.WaitHeld(1));  // the applier waits for the copy: nothing moves now

  Killed k(d);
  CHECK(Diff(Slice(k.origin->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  CHECK(Diff(Slice(k.origin->Contents(), 2 * kChunk, 4096), applied) == "");
  std::vector<uint8_t> want = Old(0, kSize);
  Put(want, 2 * kChunk, applied);
  Put(want, 0, held);
  {
    NextHolder next(k);
    CHECK(next.replayed == std::vector<uint64_t>{0});  // the applied write is marked: not again
    CHECK(Diff(next.Read(), want) == "");
    CHECK(Diff(next.ReadSnap(*next.snap), Old(0, kSize)) == "");
    // Durably so.
    CHECK(Diff(k.origin->DurableCopy()->Contents(), want) == "");
    std::shared_ptr<Snapshot> reloaded;
    REQUIRE(Snapshot::Load(1, k.cow->DurableCopy(), kSize, &reloaded).ok());
    CHECK(Diff(next.ReadSnap(*reloaded), Old(0, kSize)) == "");
    CHECK(Replayed(k.journal.get()).empty());
  }
  d.cow_gate.Open();
  r.origin->ApplyDeferred();
  CHECK(Diff(r.ReadOrigin(0, kSize), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
}

TEST_CASE("deferred: after an I/O error in the applier, a killed daemon keeps a later write") {
  // The first write's record stays live (state 1) behind a second write to the same bytes,
  // acknowledged after it: the replay must not put the older bytes back over the newer.
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto older = Pattern(4096, 0xb1), newer = Pattern(4096, 0xb2);
  d.cow_gate.Close();
  d.Write(0, older);
  REQUIRE(d.cow_gate.WaitHeld(1));
  SECTION("writing origin.img failed") { r.origin_file->write_error = EIO; }
  SECTION("marking the record written failed") { d.journal.write_error = EIO; }
  d.cow_gate.Open();
  r.origin->ApplyDeferred();
  r.origin_file->write_error = 0;
  d.journal.write_error = 0;
  d.Write(0, newer);
  r.origin->ApplyDeferred();
  REQUIRE(Diff(r.ReadOrigin(0, 4096), newer) == "");

  Killed k(d);
  NextHolder next(k);
  INFO("replayed records at " << ::Catch::Detail::stringify(next.replayed));
  CHECK(Diff(next.Read(0, 4096), newer) == "");
  CHECK(Diff(next.ReadSnap(*next.snap), Old(0, kSize)) == "");
}

TEST_CASE("deferred: an origin write error after the acknowledgement is reported by one Sync") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  d.cow_gate.Close();
  d.Write(0, Pattern(4096, 0xf1));
  REQUIRE(d.cow_gate.WaitHeld(1));
  r.origin_file->write_error = EIO;
  d.cow_gate.Open();
  r.origin->ApplyDeferred();  // the applier has tried
  r.origin_file->write_error = 0;

  SECTION("straight away") {}
  SECTION("after a snapshot create, whose origin sync is not the writer's fsync") {
    Origin* o = r.origin.get();
    Origin::Quiesce q(o);
    CHECK(o->SyncOrigin().ok());
  }
  Status first = r.origin->Sync();
  CHECK(first.err() == EIO);
  Status second = r.origin->Sync();
  INFO(second.message());
  CHECK(second.ok());
  // Writes go on.
  const auto later = Pattern(4096, 0xf2);
  d.Write(kChunk, later);
  CHECK(r.origin->Sync().ok());
  CHECK(Diff(r.ReadOrigin(kChunk, 4096), later) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, 2 * kChunk), Old(0, 2 * kChunk)) == "");
}

TEST_CASE("deferred: I/O waiting on a failed write's range goes on after the next Sync") {
  // The write fails in origin.img while a Sync drains: its range stays held until a durable
  // Reset kills its record. A reader and a writer of the range, asleep since the failure,
  // must go on once that Sync ends, without any other write coming to wake them: at once if
  // the Sync killed the record, else once one of them has killed it.
  std::atomic<bool> fail_next{false};
  Deferred d;
  EngineRig& r = d.r;
  // Only the applier's write fails; the Sync is held in its origin sync (after the drain,
  // before the record is known dead).
  r.origin_file->before_write = [&](uint64_t, size_t) {
    r.origin_file->write_error = fail_next.exchange(false) ? EIO : 0;
  };
  r.origin_file->before_sync = [&d](uint64_t, size_t) { d.origin_gate.Pass(); };
  d.Start();
  d.cow_gate.Close();
  d.origin_gate.Close();
  d.Write(0, Pattern(4096, 0x61));
  REQUIRE(d.cow_gate.WaitHeld(1));
  fail_next = true;
  Background sync(d, [&] { return r.origin->Sync(); });
  CHECK_FALSE(sync.ReturnsWithin(kStillBlocked));  // draining: the write is queued
  std::vector<uint8_t> got(4096);
  Background reader(d, [&] { return r.origin->Read(0, 4096, got.data()); });
  const auto later = Pattern(4096, 0x62);
  Background writer(d, [&] { return r.origin->Write(0, later.size(), later.data()); });
  CHECK_FALSE(reader.ReturnsWithin(kStillBlocked));
  d.cow_gate.Open();  // the write fails; the Sync goes on to its origin sync
  REQUIRE(d.origin_gate.WaitHeld(1));
  // The record is not dead yet: they wait (and go back to sleep after the failure's wake-up).
  CHECK_FALSE(reader.ReturnsWithin(kStillBlocked));
  CHECK_FALSE(writer.ReturnsWithin(0ms));
  SECTION("the Sync succeeds") {}
  SECTION("the Sync fails") { r.origin_file->sync_error = EIO; }
  d.origin_gate.Open();
  CHECK(sync.Get().err() == EIO);  // the failed write (and the failed sync), reported
  r.origin_file->sync_error = 0;

  const bool reader_back = reader.ReturnsWithin(kLimit);
  const bool writer_back = writer.ReturnsWithin(reader_back ? kLimit : 0ms);
  CHECK(reader_back);
  CHECK(writer_back);
  if (!reader_back || !writer_back) {
    // Wake them, so that the test ends: a good Sync kills the record, an applied write wakes.
    CHECK(r.origin->Sync().ok());
    d.Write(2 * kChunk, Pattern(4096, 0x63));
  }
  CHECK(reader.Get().ok());
  CHECK(writer.Get().ok());
  CHECK(Diff(r.ReadOrigin(0, 4096), later) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  CHECK(r.origin->Sync().ok());
  CHECK_FALSE(d.origin_gate.timed_out());
}

TEST_CASE("deferred: a snapshot created while writes are queued contains them") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto neu = Pattern(4096, 0xa7);
  std::vector<uint8_t> want = Old(0, kSize);
  Put(want, 4096, neu);
  d.cow_gate.Close();
  d.Write(4096, neu);
  REQUIRE(d.cow_gate.WaitHeld(1));

  std::shared_ptr<Snapshot> s2;
  // EngineRig::Add: Snapshot::Create, then Quiesce + AddSnapshot.
  Background add(d, [&] {
    s2 = r.Add(2);
    return Status::OK();
  });
  if (add.ReturnsWithin(kStillBlocked)) {
    // Created while the write is still queued (origin.img still old): it must read it anyway.
    REQUIRE(add.Get().ok());
    CHECK(Diff(r.ReadSnap(*s2, 0, kSize), want) == "");
    d.cow_gate.Open();
  } else {
    d.cow_gate.Open();
    REQUIRE(add.Get().ok());
  }
  CHECK(Diff(r.ReadSnap(*s2, 0, kSize), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
  // And keeps it when the origin changes again.
  d.Write(0, Pattern(kChunk, 0xa8));
  CHECK(Diff(r.ReadSnap(*s2, 0, kSize), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
  CHECK(Diff(r.ReadOrigin(0, kChunk), Pattern(kChunk, 0xa8)) == "");
}

// ---- power cuts at random moments -------------------------------------------------------------

namespace {

constexpr uint64_t kBlock = kTagBlock;
constexpr uint64_t kBlocks = 128;  // 512 KiB origin
constexpr uint64_t kCrashSize = kBlock * kBlocks;


struct Model {
  std::vector<BlockModel> origin = std::vector<BlockModel>(kBlocks);
  // A snapshot is the origin at its creation, for ever (no snapshot writes here).
  std::map<uint32_t, std::vector<uint64_t>> snaps;
  void SyncAll() {
    for (auto& b : origin) b.Synced();
  }
};

struct Files {
  FaultFile* origin = nullptr;
  FaultFile* journal = nullptr;
  std::map<uint32_t, FaultFile*> cows;
};

struct Capture {
  const char* kind = "";
  std::unique_ptr<FaultFile> origin, journal;
  std::map<uint32_t, std::unique_ptr<FaultFile>> cows;
};

// origin.img first: every byte in it was written after the copies it needed were durable,
// so the journal and COW files, taken later, can only be further on (as at one instant).
// "strict": every origin write reached the disk, no unsynced COW write did (the worst case
// for the snapshots). "random": any subset of the unsynced writes of each file.
template <typename Rng>
Capture Take(const Files& f, bool strict, Rng& rng) {
  Capture c;
  c.kind = strict ? "strict" : "random";
  c.origin = strict ? f.origin->LiveCopy() : f.origin->CrashCopy(rng);
  c.journal = strict ? f.journal->LiveCopy() : f.journal->CrashCopy(rng);
  for (const auto& [n, cow] : f.cows) c.cows[n] = strict ? cow->DurableCopy() : cow->CrashCopy(rng);
  return c;
}

// Restarts from a capture as ImageDir::Open would (load the snapshots, replay the journal
// through Origin::Write) and checks the snapshots and the origin before and after the replay.
void Check(Capture& c, const Model& m, uint64_t seed, int step) {
  INFO("seed " << seed << " step " << step << " capture " << c.kind);
  Origin o(std::make_unique<SharedFile>(c.origin.get()), kCrashSize, 64);
  std::map<uint32_t, std::shared_ptr<Snapshot>> snaps;
  for (auto& [n, f] : c.cows) {
    std::shared_ptr<Snapshot> s;
    Status st = Snapshot::Load(n, std::make_unique<SharedFile>(f.get()), kCrashSize, &s);
    INFO("snapshot " << n << ": " << st.message());
    REQUIRE(st.ok());
    REQUIRE(s->valid());
    Origin::Quiesce q(&o);
    o.AddSnapshot(s);
    snaps[n] = s;
  }
  std::vector<uint8_t> buf(kCrashSize);
  // One assertion per image: the first block that is wrong, if any.
  auto check_images = [&](const char* when) {
    INFO(when);
    REQUIRE(o.Read(0, kCrashSize, buf.data()).ok());
    uint64_t b = 0;
    while (b < kBlocks && m.origin[b].Allows(TagOf(&buf[b * kBlock]))) ++b;
    if (b < kBlocks) {
      INFO("origin block " << b << " tag " << std::hex << TagOf(&buf[b * kBlock]));
      FAIL("the origin holds a value never written there since the last sync");
    }
    for (const auto& [n, s] : snaps) {
      REQUIRE(o.ReadSnapshot(*s, 0, kCrashSize, buf.data()).ok());
      const std::vector<uint64_t>& want = m.snaps.at(n);
      b = 0;
      while (b < kBlocks && TagOf(&buf[b * kBlock]) == want[b]) ++b;
      if (b < kBlocks) {
        INFO("snapshot " << n << " block " << b << " tag " << std::hex << TagOf(&buf[b * kBlock])
                         << " want " << want[b]);
        FAIL("the snapshot does not read the origin as it was at its creation");
      }
    }
  };
  check_images("before the replay");
  auto j = OpenJournal(c.journal.get());
  uint64_t replayed = 0;
  Status st = j->Replay(
      [&](uint64_t off, size_t len, const void* data) { return o.Write(off, len, data); },
      &replayed);
  INFO(st.message());
  REQUIRE(st.ok());
  check_images("after the replay");
}

void RunSeed(uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  // Captures are taken at a random hook call of any file, on whichever thread makes it (the
  // writer, the applier, the commit pool): hook_mu guards what the hooks use. All of it
  // outlives the Origin, whose applier may call a hook as it goes.
  std::mutex hook_mu;
  Files files;
  std::mt19937_64 hook_rng(seed * 7919);
  std::vector<Capture> inside;
  int countdown = -1;
  FaultFile journal("journal");
  EngineRig r(kCrashSize);
  // Before EngineRig's COW files go: the applier may still be waiting for their commits.
  struct DrainFirst {
    EngineRig& r;
    ~DrainFirst() { r.origin.reset(); }
  } drain_first{r};
  Model m;
  std::vector<uint8_t> buf(8 * kBlock);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    Fill(buf.data(), Tag(0, b, 0));
    REQUIRE(r.origin->Write(b * kBlock, kBlock, buf.data()).ok());
    m.origin[b].Wrote(Tag(0, b, 0));
  }
  REQUIRE(r.origin->Sync().ok());
  m.SyncAll();

  auto hook = [&](uint64_t, size_t) {
    std::lock_guard<std::mutex> l(hook_mu);
    if (countdown > 0 && --countdown == 0)
      inside.push_back(Take(files, hook_rng() % 2 == 0, hook_rng));
  };
  auto set_countdown = [&](int n) {
    std::lock_guard<std::mutex> l(hook_mu);
    countdown = n;
  };
  auto check_inside = [&](int step) {
    std::vector<Capture> taken;
    {
      std::lock_guard<std::mutex> l(hook_mu);
      taken.swap(inside);
    }
    for (auto& c : taken) Check(c, m, seed, step);
  };
  files.origin = r.origin_file;
  files.journal = &journal;
  r.origin_file->before_write = hook;
  r.origin_file->before_sync = hook;
  journal.before_write = hook;
  journal.before_sync = hook;
  {
    auto j = OpenJournal(&journal);
    REQUIRE(j->Reset(true).ok());
    r.origin->EnableDeferral(std::move(j));
  }

  const uint32_t chunk_sizes[] = {4096, 8192, 16384};
  uint32_t next_snap = 1;
  auto add_snapshot = [&](uint32_t chunk_bytes) {
    // As ImageDir::CreateSnapshot: the origin synced, then the point in time.
    REQUIRE(r.origin->Sync().ok());
    check_inside(-1);
    m.SyncAll();
    const uint32_t n = next_snap++;
    SnapshotConfig c;
    c.chunk_bytes = chunk_bytes;
    // Not under hook_mu: writers call hooks holding the write gate that Add takes. Nothing
    // touches the new COW file before the next write.
    r.Add(n, c);
    r.cows[n]->before_write = hook;
    r.cows[n]->before_sync = hook;
    {
      std::lock_guard<std::mutex> l(hook_mu);
      files.cows[n] = r.cows[n].get();
    }
    auto& want = m.snaps[n];
    for (const auto& b : m.origin) want.push_back(b.current);
  };
  add_snapshot(4096);
  add_snapshot(16384);

  uint64_t gen = 1;
  for (int step = 0; step < ops; ++step) {
    set_countdown(static_cast<int>(rng() % 8));  // 0: no capture inside this step
    const int what = static_cast<int>(rng() % 100);
    if (what < 4 && files.cows.size() < 4) {
      add_snapshot(chunk_sizes[rng() % 3]);
    } else if (what < 70) {
      const uint64_t first = rng() % kBlocks;
      const uint64_t count = 1 + rng() % std::min<uint64_t>(8, kBlocks - first);
      for (uint64_t i = 0; i < count; ++i) {
        const uint64_t t = Tag(0, first + i, gen);
        Fill(&buf[i * kBlock], t);
        m.origin[first + i].Wrote(t);
      }
      ++gen;
      Status s = r.origin->Write(first * kBlock, count * kBlock, buf.data());
      INFO(s.message());
      REQUIRE(s.ok());
    } else if (what < 80) {
      REQUIRE(r.origin->Sync().ok());
      check_inside(step);  // taken before the sync took effect
      m.SyncAll();
    } else if (what < 90) {
      // Reads see every acknowledged write, queued or not.
      const uint64_t first = rng() % kBlocks;
      const uint64_t count = 1 + rng() % std::min<uint64_t>(8, kBlocks - first);
      REQUIRE(r.origin->Read(first * kBlock, count * kBlock, buf.data()).ok());
      for (uint64_t i = 0; i < count; ++i) {
        INFO("step " << step << " origin block " << first + i);
        REQUIRE(TagOf(&buf[i * kBlock]) == m.origin[first + i].current);
      }
    } else {
      auto snap = r.origin->Find(1 + static_cast<uint32_t>(rng() % files.cows.size()));
      REQUIRE(snap != nullptr);
      std::vector<uint8_t> all(kCrashSize);
      REQUIRE(r.origin->ReadSnapshot(*snap, 0, kCrashSize, all.data()).ok());
      for (uint64_t b = 0; b < kBlocks; ++b) {
        INFO("step " << step << " snapshot " << snap->number() << " block " << b);
        REQUIRE(TagOf(&all[b * kBlock]) == m.snaps.at(snap->number())[b]);
      }
    }
    set_countdown(-1);
    check_inside(step);
    Capture after;
    {
      std::lock_guard<std::mutex> l(hook_mu);
      after = Take(files, step % 2 == 0, hook_rng);
    }
    Check(after, m, seed, step);
  }
  REQUIRE(r.origin->Sync().ok());
  check_inside(ops);
}

}  // namespace

TEST_CASE("deferred: a power cut at any moment never shows a snapshot new origin data") {
  const uint64_t seed = GENERATE(1, 2, 3, 4, 5);
  RunSeed(seed, 100);
}

TEST_CASE("deferred: a write whose copy failed on an invalidated store waits for its header") {
  Deferred d;
  Gate b_read, drop;
  // Only the copier reads chunk 2 (B's copy).
  d.r.origin_file->before_read = [&](uint64_t off, size_t) {
    if (off == 2 * kChunk) b_read.Pass();
  };
  d.Start();
  EngineRig& r = d.r;
  FaultFile* cow = r.cows.at(1).get();
  cow->before_write = [&](uint64_t off, size_t) {
    if (off == 0 && cow->write_error.load() != 0) {  // the invalidation's header write
      cow->write_error = 0;
      drop.Pass();
    }
  };
  const auto a_data = Pattern(4096, 0xa3), b_data = Pattern(4096, 0xb3);
  // B is acknowledged; the copier mapped its copy while the snapshot was valid and is held
  // reading the old chunk.
  b_read.Close();
  d.Write(2 * kChunk, b_data);
  REQUIRE(b_read.WaitHeld(1));
  // A (copied by its writer) fails on the store: it invalidates the snapshot, and its header
  // write is held.
  drop.Close();
  cow->write_error = EIO;
  Background a(d, [&] {
    return r.origin->Write(0, 4096, a_data.data(), Origin::WriteHint::kSyncFollows);
  });
  REQUIRE(drop.WaitHeld(1));
  REQUIRE_FALSE(d.snap->valid());
  // B's copy now fails at once (the store is invalid).
  b_read.Open();
  // The applier must not write B while the store still says valid on disk.
  std::this_thread::sleep_for(kStillBlocked);
  CHECK(Diff(Slice(r.origin_file->Contents(), 2 * kChunk, 4096), Old(2 * kChunk, 4096)) == "");
  drop.Open();
  REQUIRE(a.Get().ok());
  r.origin->ApplyDeferred();
  CHECK(Diff(Slice(r.origin_file->Contents(), 2 * kChunk, 4096), b_data) == "");
  CHECK_FALSE(drop.timed_out());
  CHECK_FALSE(b_read.timed_out());
  std::shared_ptr<Snapshot> after_power_cut;
  REQUIRE(r.Load(1, /*durable_only=*/true, &after_power_cut).ok());
  CHECK_FALSE(after_power_cut->valid());
}

TEST_CASE("deferred: a first write returns before its copy is made, and so does one joining it") {
  Deferred d;
  Gate copy_read;
  // Reads of chunk 0 by any thread but this one (its snapshot reads pass): the copier's.
  static thread_local bool t_test = false;
  t_test = true;
  d.r.origin_file->before_read = [&](uint64_t off, size_t len) {
    if (off == 0 && len == kChunk && !t_test) copy_read.Pass();
  };
  d.Start();
  EngineRig& r = d.r;
  const auto a_data = Pattern(4096, 0xa4), b_data = Pattern(4096, 0xb4);
  std::vector<uint8_t> want = Old(0, kChunk);
  Put(want, 4096, a_data);
  Put(want, 8192, b_data);

  copy_read.Close();
  // A writer that made its own copy would be held at the gate (and time out).
  d.Write(4096, a_data);
  REQUIRE(copy_read.WaitHeld(1));
  CHECK(d.cow_gate.held() == 0);
  // B joins A's copy (same chunk, other bytes): that copy can now fail only by invalidating
  // the snapshot, so B is acknowledged too, without waiting for it.
  d.Write(8192, b_data);
  CHECK(copy_read.held() == 1);
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), Old(0, kChunk)) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  CHECK(RecordAt(d.journal, WriteJournal::kRecordsStart).off == 4096);
  copy_read.Open();
  r.origin->ApplyDeferred();
  CHECK_FALSE(copy_read.timed_out());
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), want) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kChunk), Old(0, kChunk)) == "");
  CHECK(d.snap->valid());
  // The copy is committed: a power cut now keeps it.
  std::shared_ptr<Snapshot> after_power_cut;
  REQUIRE(r.Load(1, /*durable_only=*/true, &after_power_cut).ok());
  REQUIRE(after_power_cut->valid());
  std::vector<uint8_t> got(kChunk);
  REQUIRE(r.origin->ReadSnapshot(*after_power_cut, 0, kChunk, got.data()).ok());
  CHECK(Diff(got, Old(0, kChunk)) == "");
}

// Seed 003: dm ends a copy's count in kcopyd's callback, once the data is in the COW and
// before the commit. A deferred write's copy used to stay counted until its origin write, so
// with a threshold of 1 the second first write below waited for the first one's commit.
TEST_CASE("deferred: a copy leaves the throttle once its data is in the store, not its commit") {
  Deferred d(/*cow_threshold=*/1);
  d.Start();
  EngineRig& r = d.r;
  const auto a_data = Pattern(4096, 0xa7), b_data = Pattern(4096, 0xb7);

  d.cow_gate.Close();  // the commits of snapshot 1
  d.Write(0, a_data);
  REQUIRE(d.cow_gate.WaitHeld(1));  // A's copy is written, its commit held
  CHECK(r.origin->throttle().in_flight() == 0);
  // B needs a copy of another chunk: it may start one, and is acknowledged with A's commit
  // still held.
  Background b(d, [&] { return r.origin->Write(2 * kChunk, b_data.size(), b_data.data()); });
  CHECK(b.ReturnsWithin(kLimit / 2));
  CHECK_FALSE(d.cow_gate.timed_out());
  CHECK(b.Get().ok());
  // Neither has reached origin.img: no commit is durable yet.
  CHECK(Diff(r.origin_file->Contents(), Old(0, kSize)) == "");

  d.cow_gate.Open();
  r.origin->ApplyDeferred();
  CHECK(r.origin->throttle().in_flight() == 0);
  CHECK(Diff(r.ReadOrigin(0, 4096), a_data) == "");
  CHECK(Diff(r.ReadOrigin(2 * kChunk, 4096), b_data) == "");
  CHECK(Diff(r.ReadSnap(*d.snap, 0, kSize), Old(0, kSize)) == "");
  CHECK(d.snap->valid());
}

TEST_CASE("deferred: an origin read error on an acknowledged write's copy invalidates the "
          "snapshot, and the write lands") {
  Deferred d;
  d.Start();
  EngineRig& r = d.r;
  const auto neu = Pattern(4096, 0xc5);
  const std::vector<uint8_t> want = OldChunkWith(4096, neu);
  r.origin_file->read_error = EIO;
  d.Write(4096, neu);  // acknowledged: the copy comes later
  r.origin->ApplyDeferred();
  r.origin_file->read_error = 0;
  // As dm-snapshot does with a failed copy: the snapshot goes, the origin write does not.
  CHECK_FALSE(d.snap->valid());
  CHECK(Diff(Slice(r.origin_file->Contents(), 0, kChunk), want) == "");
  CHECK(Diff(r.ReadOrigin(0, kChunk), want) == "");
  std::vector<uint8_t> b(4096);
  CHECK(r.origin->ReadSnapshot(*d.snap, 0, 4096, b.data()).err() == EIO);
  Status synced = r.origin->Sync();
  INFO(synced.message());
  CHECK(synced.ok());
  std::shared_ptr<Snapshot> after_power_cut;
  REQUIRE(r.Load(1, /*durable_only=*/true, &after_power_cut).ok());
  CHECK_FALSE(after_power_cut->valid());
}
