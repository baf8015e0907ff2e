// Engine micro-benchmarks: origin-write mapping with 1, 4, 16 and 64 snapshots (first write,
// which copies, and steady state, which does not) and exception table lookups.
// Files live in /dev/shm (the engine's CPU path) unless SNAPCOW_BENCH_DIR names a real disk.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <random>

#include "engine/exception_table.h"
#include "engine/origin.h"
#include "engine/snapshot.h"

using namespace snapcow;

namespace {

constexpr uint64_t kOriginBytes = 256ull << 20;
constexpr uint32_t kChunk = 16384;

std::unique_ptr<File> ShmFile(const std::string& name) {
  const char* dir = std::getenv("SNAPCOW_BENCH_DIR");  // default tmpfs: the CPU path only
  std::string path = std::string(dir ? dir : "/dev/shm") + "/snapcow-bench-" +
                     std::to_string(::getpid()) + "-" + name;
  std::unique_ptr<File> f;
  Status s = OpenPosixFile(path, O_RDWR | O_CREAT | O_TRUNC, 0600, &f);
  if (!s.ok()) throw std::runtime_error(s.message());
  ::unlink(path.c_str());
  return f;
}

std::unique_ptr<Origin> MakeOrigin(int snapshots) {
  auto f = ShmFile("origin");
  const uint8_t z = 0;
  if (!f->WriteAt(kOriginBytes - 1, 1, &z).ok()) throw std::runtime_error("origin");
  auto o = std::make_unique<Origin>(std::move(f), kOriginBytes, kDefaultCowThreshold);
  for (int i = 1; i <= snapshots; ++i) {
    std::shared_ptr<Snapshot> s;
    SnapshotConfig c;
    c.chunk_bytes = kChunk;
    Status st = Snapshot::Create(i, c, kOriginBytes, 0, ShmFile("cow" + std::to_string(i)), &s);
    if (!st.ok()) throw std::runtime_error(st.message());
    Origin::Quiesce q(o.get());
    o->AddSnapshot(s);
  }
  return o;
}

// First writes: every 4 KiB write lands in a chunk no snapshot has copied yet.
void BM_OriginWriteFirst(benchmark::State& state) {
  auto o = MakeOrigin(static_cast<int>(state.range(0)));
  std::vector<uint8_t> buf(4096, 1);
  uint64_t chunk = 0;
  for (auto _ : state) {
    if (chunk * kChunk >= kOriginBytes) {
      state.PauseTiming();
      o = MakeOrigin(static_cast<int>(state.range(0)));
      chunk = 0;
      state.ResumeTiming();
    }
    Status s = o->Write(chunk++ * kChunk, buf.size(), buf.data());
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OriginWriteFirst)->Arg(0)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->UseRealTime();

// Steady state: all chunks already copied; each write only maps and writes through.
void BM_OriginWriteSteady(benchmark::State& state) {
  auto o = MakeOrigin(static_cast<int>(state.range(0)));
  std::vector<uint8_t> buf(4096, 1);
  const uint64_t chunks = 4096;  // 64 MiB worth, copied once up front
  for (uint64_t c = 0; c < chunks; ++c) (void)o->Write(c * kChunk, buf.size(), buf.data());
  std::mt19937_64 rng(1);
  for (auto _ : state) {
    Status s = o->Write((rng() % chunks) * kChunk + 4096, buf.size(), buf.data());
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OriginWriteSteady)->Arg(0)->Arg(1)->Arg(4)->Arg(16)->Arg(64)->UseRealTime();

// Lookups in a table of 1M exceptions, consecutive (runs) or scattered.
void BM_TableLookup(benchmark::State& state) {
  const bool scattered = state.range(0) != 0;
  const chunk_t chunks = 1ull << 24;
  ExceptionTable t(chunks);
  std::mt19937_64 rng(2);
  for (chunk_t i = 0; i < (1u << 20); ++i) {
    chunk_t c = scattered ? (i * 16 + rng() % 16) : i;
    t.LoadInsert(c, i + 2);
  }
  chunk_t dup;
  if (!t.FinishLoad(&dup)) throw std::runtime_error("dup");
  state.counters["bytes_per_exception"] = static_cast<double>(t.MemoryBytes()) / (1u << 20);
  for (auto _ : state) {
    chunk_t nc;
    bool hit = t.LookupComplete(rng() % (scattered ? chunks : (1u << 20)), &nc);
    benchmark::DoNotOptimize(hit);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TableLookup)->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
