// Power-cut test (LevelDB fault_injection_test): after any prefix of operations, and at
// random writes inside an operation, what is durable must reload into snapshots equal to a
// reference model: each snapshot is the origin at creation plus its own acknowledged writes;
// nothing is lost that was synced; no snapshot ever shows newer origin data.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "tests/block_tags.h"
#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {

constexpr uint64_t kBlock = kTagBlock;
constexpr uint64_t kBlocks = 192;  // 768 KiB origin
constexpr uint64_t kSize = kBlock * kBlocks;

// Writes are whole blocks here, so a torn block (two tags) is a failure too (BlockModel).
struct Model {
  std::vector<BlockModel> origin = std::vector<BlockModel>(kBlocks);
  std::map<uint32_t, std::vector<BlockModel>> snaps;
  void SyncAll() {
    for (auto& b : origin) b.Synced();
    for (auto& [n, v] : snaps)
      for (auto& b : v) b.Synced();
  }
};

struct Capture {
  std::unique_ptr<FaultFile> origin;
  std::map<uint32_t, std::unique_ptr<FaultFile>> cows;
};

Capture Take(EngineRig& r, const std::set<uint32_t>& live, std::mt19937_64& rng) {
  Capture c;
  c.origin = r.origin_file->CrashCopy(rng);
  for (uint32_t n : live) c.cows[n] = r.cows[n]->CrashCopy(rng);
  return c;
}

// Reloads a capture as a restarted daemon would and checks it against the model.
void Check(Capture& c, const Model& m, uint64_t seed, int step) {
  INFO("seed " << seed << " step " << step);
  FaultFile* of = c.origin.get();
  Origin o(std::make_unique<SharedFile>(of), kSize, 64);
  std::vector<uint8_t> buf(kSize);
  REQUIRE(o.Read(0, kSize, buf.data()).ok());
  for (uint64_t b = 0; b < kBlocks; ++b) {
    uint64_t t = TagOf(&buf[b * kBlock]);
    INFO("origin block " << b << " tag " << std::hex << t);
    REQUIRE(m.origin[b].Allows(t));
  }
  for (auto& [n, f] : c.cows) {
    std::shared_ptr<Snapshot> s;
    Status st = Snapshot::Load(n, f->LiveCopy(), kSize, &s);
    INFO("snapshot " << n << ": " << st.message());
    REQUIRE(st.ok());
    REQUIRE(s->valid());
    REQUIRE(o.ReadSnapshot(*s, 0, kSize, buf.data()).ok());
    for (uint64_t b = 0; b < kBlocks; ++b) {
      uint64_t t = TagOf(&buf[b * kBlock]);
      INFO("snapshot " << n << " block " << b << " tag " << std::hex << t);
      REQUIRE(m.snaps.at(n)[b].Allows(t));
    }
  }
}

void CheckInside(std::vector<Capture>& inside, const Model& m, uint64_t seed, int step) {
  for (auto& c : inside) Check(c, m, seed, step);
  inside.clear();
}

void RunSeed(uint64_t seed, int ops) {
  std::mt19937_64 rng(seed);
  EngineRig r(kSize);
  Model m;
  uint64_t gen = 1;
  std::vector<uint8_t> buf(16 * kBlock);
  // Start from a fully written, synced origin.
  for (uint64_t b = 0; b < kBlocks; ++b) {
    Fill(buf.data(), Tag(0, b, 0));
    REQUIRE(r.origin->Write(b * kBlock, kBlock, buf.data()).ok());
    m.origin[b].Wrote(Tag(0, b, 0));
  }
  REQUIRE(r.origin->Sync().ok());
  m.SyncAll();

  std::set<uint32_t> live;
  // Captured at a random write or sync inside the operation. Commits of different stores
  // run on the engine's pool threads, so the hook runs on several threads: hook_mu guards
  // these (and the rng while an operation runs).
  std::mutex hook_mu;
  std::vector<Capture> inside;
  int write_countdown = -1;
  auto hook = [&](uint64_t, size_t) {
    std::lock_guard<std::mutex> l(hook_mu);
    if (write_countdown > 0 && --write_countdown == 0) inside.push_back(Take(r, live, rng));
  };
  auto set_countdown = [&](int n) {
    std::lock_guard<std::mutex> l(hook_mu);
    write_countdown = n;
  };
  r.origin_file->before_write = hook;
  r.origin_file->before_sync = hook;
  const uint32_t chunk_sizes[] = {4096, 8192, 16384};
  uint32_t next_snap = 1;

  for (int step = 0; step < ops; ++step) {
    set_countdown(static_cast<int>(rng() % 6));  // 0: no capture inside this op
    int what = static_cast<int>(rng() % 100);
    if (what < 5 && live.size() < 4) {
      SnapshotConfig c;
      c.chunk_bytes = chunk_sizes[rng() % 3];
      uint32_t n = next_snap++;
      REQUIRE(r.origin->Sync().ok());  // as ImageDir::CreateSnapshot does under quiesce
      CheckInside(inside, m, seed, step);
      m.SyncAll();
      r.Add(n, c);
      r.cows[n]->before_write = hook;
      r.cows[n]->before_sync = hook;
      m.snaps[n] = std::vector<BlockModel>(kBlocks);
      for (uint64_t b = 0; b < kBlocks; ++b) {
        m.snaps[n][b].current = m.origin[b].current;
        m.snaps[n][b].Synced();
      }
      live.insert(n);
    } else if (what < 65 || live.empty()) {
      uint64_t first = rng() % kBlocks, count = 1 + rng() % std::min<uint64_t>(16, kBlocks - first);
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t t = Tag(0, first + i, gen);
        Fill(&buf[i * kBlock], t);
        m.origin[first + i].Wrote(t);
      }
      ++gen;
      REQUIRE(r.origin->Write(first * kBlock, count * kBlock, buf.data()).ok());
    } else if (what < 85) {
      auto it = live.begin();
      std::advance(it, static_cast<long>(rng() % live.size()));
      uint32_t n = *it;
      uint64_t first = rng() % kBlocks, count = 1 + rng() % std::min<uint64_t>(4, kBlocks - first);
      for (uint64_t i = 0; i < count; ++i) {
        uint64_t t = Tag(n, first + i, gen);
        Fill(&buf[i * kBlock], t);
        m.snaps[n][first + i].Wrote(t);
      }
      ++gen;
      REQUIRE(r.origin->WriteSnapshot(*r.origin->Find(n), first * kBlock, count * kBlock,
                                      buf.data())
                  .ok());
    } else {
      REQUIRE(r.origin->Sync().ok());
      CheckInside(inside, m, seed, step);  // taken before the sync took effect
      m.SyncAll();
    }
    set_countdown(-1);
    CheckInside(inside, m, seed, step);
    Capture after = Take(r, live, rng);
    Check(after, m, seed, step);
  }
}

}  // namespace

TEST_CASE("power cut after any prefix of operations reloads to the model") {
  const uint64_t base = GENERATE(1, 2, 3, 4, 5, 6, 7, 8);
  RunSeed(base, 150);
}
