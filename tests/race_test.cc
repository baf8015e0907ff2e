// The two races the seeds are about: a snapshot read served from the origin while an origin
// write to the same chunk completes (seed 004), and throttled copies (seed 003). Also an
// origin write racing the invalidation of a snapshot (dm's __invalidate_snapshot).
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;
using namespace std::chrono_literals;

namespace {

// A gate a hook can block on until the test opens it. A thread held past kLimit (never, with
// a correct engine and test) goes on, so that a failed REQUIRE, which leaves the gate shut,
// ends the test instead of hanging it on a held thread.
struct Gate {
  static constexpr std::chrono::seconds kLimit{30};
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, reached = false;
  void Block() {
    std::unique_lock<std::mutex> l(mu);
    reached = true;
    cv.notify_all();
    cv.wait_for(l, kLimit, [&] { return open; });
  }
  bool WaitReached() {
    std::unique_lock<std::mutex> l(mu);
    return cv.wait_for(l, kLimit, [&] { return reached; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("a snapshot read racing an origin write never returns the new data (seed 004)") {
  EngineRig r(1 << 20);
  auto old_data = Pattern(16384, 0x01);
  REQUIRE(r.origin->Write(0, 16384, old_data.data()).ok());
  auto s = r.Add(1);

  Gate gate;
  static thread_local bool t_is_reader = false;
  r.origin_file->before_read = [&](uint64_t, size_t) {
    // The snapshot read is mapped to the origin and not yet served.
    if (t_is_reader) gate.Block();
  };
  std::vector<uint8_t> got(16384);
  std::thread reader([&] {
    t_is_reader = true;
    REQUIRE(r.origin->ReadSnapshot(*s, 0, 16384, got.data()).ok());
  });
  REQUIRE(gate.WaitReached());
  auto new_data = Pattern(16384, 0x02);
  auto writer = std::async(std::launch::async,
                           [&] { return r.origin->Write(0, 16384, new_data.data()).ok(); });
  // The writer must wait for the tracked read: it may not finish while the read is held.
  CHECK(writer.wait_for(300ms) == std::future_status::timeout);
  gate.Open();
  reader.join();
  CHECK(writer.get());
  CHECK(got == old_data);
  CHECK(r.ReadOrigin(0, 16384) == new_data);
  CHECK(r.ReadSnap(*s, 0, 16384) == old_data);
}

TEST_CASE("the throttle holds back copies but never writes that need no copy (seed 003)") {
  EngineRig r(1 << 20, /*cow_threshold=*/1);
  auto s = r.Add(1);
  auto d = Pattern(4096, 9);
  REQUIRE(r.origin->Write(5 * 16384, 4096, d.data()).ok());  // chunk 5 is copied already
  Gate gate;
  std::atomic<bool> armed{true};
  r.cows[1]->before_write = [&](uint64_t, size_t) {
    if (armed.exchange(false)) gate.Block();  // the first copy stalls in flight
  };
  auto first = std::async(std::launch::async, [&] { return r.origin->Write(0, 4096, d.data()).ok(); });
  REQUIRE(gate.WaitReached());
  CHECK(r.origin->throttle().in_flight() == 1);
  // No copy needed: goes straight through although the throttle is full.
  auto free_write =
      std::async(std::launch::async, [&] { return r.origin->Write(5 * 16384, 4096, d.data()).ok(); });
  CHECK(free_write.wait_for(10s) == std::future_status::ready);
  CHECK(free_write.get());
  // Needs a copy: waits for room.
  auto copy_write =
      std::async(std::launch::async, [&] { return r.origin->Write(9 * 16384, 4096, d.data()).ok(); });
  CHECK(copy_write.wait_for(300ms) == std::future_status::timeout);
  gate.Open();
  CHECK(first.get());
  CHECK(copy_write.get());
  CHECK(r.origin->throttle().in_flight() == 0);
  CHECK(r.ReadSnap(*s, 9 * 16384, 4096) == Pattern(4096, 0));
}

// dm writes the invalid header under the snapshot lock: no origin write can skip the snapshot
// before the header is on disk. Here the writer that sees it invalid waits for that header.
TEST_CASE("an origin write that skips an invalidated snapshot waits for its durable header") {
  EngineRig r(1 << 20);
  auto s = r.Add(1);
  FaultFile* cow = r.cows.at(1).get();
  Gate drop;
  cow->before_write = [&](uint64_t off, size_t) {
    // The invalidation's header write (the failed copy below is the only armed write before
    // it) goes through, once the test lets it.
    if (off == 0 && cow->write_error.load() != 0) {
      cow->write_error = 0;
      drop.Block();
    }
  };
  const uint64_t c5 = 5 * kDefaultChunkBytes;
  cow->write_error = EIO;
  auto failing = std::async(std::launch::async, [&] { return r.Fill(0, 4096, 0xaa).ok(); });
  REQUIRE(drop.WaitReached());
  REQUIRE_FALSE(s->valid());
  auto skipping = std::async(std::launch::async, [&] { return r.Fill(c5, 4096, 0xbb).ok(); });
  // A power cut now finds a store that says valid: chunk 5 must still be the old data.
  CHECK(skipping.wait_for(300ms) == std::future_status::timeout);
  CHECK(r.origin_file->Contents()[c5] == 0);
  drop.Open();
  CHECK(failing.get());  // a store failure invalidates the snapshot; the origin write goes on
  CHECK(skipping.get());
  CHECK(r.ReadOrigin(c5, 4096) == Pattern(4096, 0xbb));
  std::shared_ptr<Snapshot> after_power_cut;
  REQUIRE(r.Load(1, /*durable_only=*/true, &after_power_cut).ok());
  CHECK_FALSE(after_power_cut->valid());
}

TEST_CASE("an origin write whose copy fails on an invalidated store waits for its header") {
  EngineRig r(1 << 20);
  auto s = r.Add(1);
  FaultFile* cow = r.cows.at(1).get();
  Gate b_read, drop;
  static thread_local bool t_is_b = false;
  r.origin_file->before_read = [&](uint64_t, size_t) {
    if (t_is_b) b_read.Block();
  };
  cow->before_write = [&](uint64_t off, size_t) {
    if (off == 0 && cow->write_error.load() != 0) {  // the invalidation's header write
      cow->write_error = 0;
      drop.Block();
    }
  };
  const uint64_t c2 = 2 * kDefaultChunkBytes;
  // B has mapped its copy while the snapshot was valid and is held reading the old chunk.
  auto b = std::async(std::launch::async, [&] {
    t_is_b = true;
    return r.Fill(c2, 4096, 0xb4).ok();
  });
  REQUIRE(b_read.WaitReached());
  // A's copy fails on the store: A invalidates the snapshot, and its header write is held.
  cow->write_error = EIO;
  auto a = std::async(std::launch::async, [&] { return r.Fill(0, 4096, 0xa4).ok(); });
  REQUIRE(drop.WaitReached());
  REQUIRE_FALSE(s->valid());
  // B's copy now fails at once (the store is invalid); B must not write origin.img yet.
  b_read.Open();
  CHECK(b.wait_for(300ms) == std::future_status::timeout);
  CHECK(r.origin_file->Contents()[c2] == 0);
  drop.Open();
  CHECK(a.get());
  CHECK(b.get());
  CHECK(r.ReadOrigin(c2, 4096) == Pattern(4096, 0xb4));
}
