// Several threads mixing origin writes, snapshot reads and snapshot writes on overlapping
// chunks, checked against a reference model. Run under ThreadSanitizer in CI.
//
// Blocks are 4 KiB and chunks 16 KiB, so four owners share every chunk: thread t owns the
// origin blocks and the snapshot blocks with block % kThreads == t, writes only those, and
// knows exactly what they must hold. Readers check every block of the snapshot: one never
// written through the snapshot must still hold its value from before the snapshot.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "tests/block_tags.h"
#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {

constexpr uint64_t kBlock = kTagBlock;
constexpr uint64_t kBlocks = 256;
constexpr uint64_t kSize = kBlock * kBlocks;
constexpr int kThreads = 4;


}  // namespace

TEST_CASE("concurrent origin writes, snapshot reads and snapshot writes match the model") {
  const int threshold = GENERATE(2, 2048);
  EngineRig r(kSize, threshold);
  std::vector<uint8_t> buf(kBlock);
  for (uint64_t b = 0; b < kBlocks; ++b) {
    Fill(buf.data(), Tag(0, b, 0));
    REQUIRE(r.origin->Write(b * kBlock, kBlock, buf.data()).ok());
  }
  SnapshotConfig c;
  c.chunk_bytes = 16384;
  auto snap = r.Add(1, c);
  SnapshotConfig c2;
  c2.chunk_bytes = 4096;
  auto snap2 = r.Add(2, c2);

  // What the threads' own blocks must hold at the end.
  std::vector<uint64_t> origin_final(kBlocks), snap_final(kBlocks);
  std::vector<uint8_t> snap_written(kBlocks, 0);  // not vector<bool>: threads share words
  std::atomic<int> errors{0};
  std::atomic<bool> stop{false};

  auto worker = [&](int t) {
    std::mt19937_64 rng(1000 + t);
    std::vector<uint8_t> b(kBlock);
    for (int i = 0; i < 400; ++i) {
      uint64_t block = (rng() % (kBlocks / kThreads)) * kThreads + t;
      uint64_t gen = 1 + i;
      if (rng() % 3 == 0) {
        uint64_t tag = Tag(1, block, gen);
        Fill(b.data(), tag);
        if (!r.origin->WriteSnapshot(*snap, block * kBlock, kBlock, b.data()).ok()) ++errors;
        snap_final[block] = tag;
        snap_written[block] = 1;
      } else {
        uint64_t tag = Tag(0, block, gen);
        Fill(b.data(), tag);
        if (!r.origin->Write(block * kBlock, kBlock, b.data()).ok()) ++errors;
        origin_final[block] = tag;
      }
    }
  };
  // Readers: blocks of snap-2 are never written through it, so they hold the original tags.
  auto reader = [&](int t) {
    std::mt19937_64 rng(2000 + t);
    std::vector<uint8_t> b(4 * kBlock);
    while (!stop) {
      uint64_t block = rng() % (kBlocks - 4);
      if (!r.origin->ReadSnapshot(*snap2, block * kBlock, 4 * kBlock, b.data()).ok()) ++errors;
      for (uint64_t i = 0; i < 4; ++i)
        if (TagOf(&b[i * kBlock]) != Tag(0, block + i, 0)) ++errors;
    }
  };
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) ts.emplace_back(worker, t);
  std::thread rd1(reader, 0), rd2(reader, 1);
  for (auto& th : ts) th.join();
  stop = true;
  rd1.join();
  rd2.join();
  CHECK(errors == 0);

  std::vector<uint8_t> all(kSize);
  REQUIRE(r.origin->Read(0, kSize, all.data()).ok());
  for (uint64_t b = 0; b < kBlocks; ++b) {
    uint64_t want = origin_final[b] ? origin_final[b] : Tag(0, b, 0);
    INFO("origin block " << b);
    CHECK(TagOf(&all[b * kBlock]) == want);
  }
  REQUIRE(r.origin->ReadSnapshot(*snap, 0, kSize, all.data()).ok());
  for (uint64_t b = 0; b < kBlocks; ++b) {
    uint64_t want = snap_written[b] ? snap_final[b] : Tag(0, b, 0);
    INFO("snapshot 1 block " << b);
    CHECK(TagOf(&all[b * kBlock]) == want);
  }
  REQUIRE(r.origin->ReadSnapshot(*snap2, 0, kSize, all.data()).ok());
  for (uint64_t b = 0; b < kBlocks; ++b) CHECK(TagOf(&all[b * kBlock]) == Tag(0, b, 0));
  // And the same after reloading the stores from disk.
  std::shared_ptr<Snapshot> again;
  REQUIRE(r.Load(1, false, &again).ok());
  REQUIRE(r.origin->ReadSnapshot(*again, 0, kSize, all.data()).ok());
  for (uint64_t b = 0; b < kBlocks; ++b) {
    uint64_t want = snap_written[b] ? snap_final[b] : Tag(0, b, 0);
    CHECK(TagOf(&all[b * kBlock]) == want);
  }
  CHECK(r.origin->throttle().in_flight() == 0);
}
