// The FUSE workers' request gate (fusefs/request_gate.h), driven by plain threads standing in
// for libfuse's workers: at most `active` of them through while none blocks, more while some
// are stuck on one request, back to `active` once they finish, everyone through once opened.
// Nothing here asserts a time: the waits are for states, with generous bounds that only turn
// a hang into a failure.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fusefs/request_gate.h"

using snapcow::fusefs::RequestGate;
using namespace std::chrono_literals;

namespace {

// Polls `cond` for up to 30 s.
template <class F>
bool Eventually(F cond) {
  for (int i = 0; i < 30000; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return cond();
}

// A worker loop: pass the gate, "take a request" (count it, keep the slot for a moment or
// until released), repeat until told to stop.
struct Fleet {
  explicit Fleet(RequestGate* g) : gate(g) {}
  ~Fleet() { Stop(); }

  void Start(unsigned n) {
    for (unsigned i = 0; i < n; ++i)
      threads.emplace_back([this] {
        RequestGate::Worker* w = gate->Join();
        while (!stop.load()) {
          if (!gate->Next(w, 10ms)) continue;
          gate->Took(w, !stop.load());
          if (stop.load()) break;
          const int now = ++inside;
          int seen = most.load();
          while (now > seen && !most.compare_exchange_weak(seen, now)) {
          }
          ++requests;
          {
            std::unique_lock<std::mutex> l(mu);
            if (block.load()) {
              ++blocked;
              cv.wait(l, [this] { return !block.load(); });
              --blocked;
            }
          }
          --inside;
          std::this_thread::yield();
        }
      });
  }
  void Release() {
    std::lock_guard<std::mutex> l(mu);
    block.store(false);
    cv.notify_all();
  }
  void Stop() {
    stop.store(true);
    Release();
    gate->Open();
    for (auto& t : threads) t.join();
    threads.clear();
  }

  RequestGate* gate;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  std::atomic<bool> block{false};  // requests taken while set stay in "processing"
  std::atomic<int> inside{0}, most{0}, blocked{0};
  std::atomic<long> requests{0};
  std::mutex mu;
  std::condition_variable cv;
};

}  // namespace

TEST_CASE("request gate: no more than `active` workers through while none is stuck") {
  RequestGate gate(2, 8, 500ms);  // a stall time no request here comes near
  Fleet f(&gate);
  f.Start(8);
  REQUIRE(Eventually([&] { return f.requests.load() > 20000; }));
  CHECK(f.most.load() <= 2);
  CHECK(gate.through() <= 2);
  CHECK(gate.limit() == 2);
}

TEST_CASE("request gate: workers stuck on a request let others through, and the limit comes "
          "back once they finish") {
  // A stall time far above a scheduling delay: with 2 ms, a worker merely preempted while
  // through (tsan, a loaded 2-CPU machine) counted as stuck and let a third through, and the
  // last check failed (2026-12-07).
  RequestGate gate(2, 6, 50ms);
  Fleet f(&gate);
  f.block.store(true);
  f.Start(6);
  // Every worker ends up stuck: each stuck pair lets the next through, up to all six.
  REQUIRE(Eventually([&] { return f.blocked.load() == 6; }));
  CHECK(gate.limit() == 6);
  const long before = f.requests.load();
  f.Release();
  REQUIRE(Eventually([&] { return f.requests.load() > before + 20000; }));
  // Nobody stuck any more: back to two through at once.
  REQUIRE(Eventually([&] { return gate.limit() == 2 && gate.through() <= 2; }));
  f.most.store(0);
  const long mark = f.requests.load();
  REQUIRE(Eventually([&] { return f.requests.load() > mark + 20000; }));
  CHECK(f.most.load() <= 2);
}

TEST_CASE("request gate: at most `max` through however many are stuck") {
  RequestGate gate(1, 3, 2ms);
  Fleet f(&gate);
  f.block.store(true);
  f.Start(5);
  REQUIRE(Eventually([&] { return f.blocked.load() == 3; }));
  // Give the monitor many stall times to let a fourth through, which it must not.
  std::this_thread::sleep_for(100ms);
  CHECK(f.blocked.load() == 3);
  CHECK(gate.limit() == 3);
}

TEST_CASE("request gate: once opened, parked workers pass at once") {
  RequestGate gate(1, 1, 2ms);
  RequestGate::Worker* holder = gate.Join();
  REQUIRE(gate.Next(holder, 10ms));
  gate.Took(holder, true);
  RequestGate::Worker* other = gate.Join();
  CHECK_FALSE(gate.Next(other, 20ms));  // the one slot is held, and max is 1
  std::atomic<bool> passed{false};
  std::thread t([&] {
    while (!gate.Next(other, 10s)) {
    }
    passed.store(true);
  });
  gate.Open();
  REQUIRE(Eventually([&] { return passed.load(); }));
  t.join();
}

TEST_CASE("request gate: the monitor opens the gate once the session has ended") {
  std::atomic<bool> ended{false};
  RequestGate gate(1, 1, 2ms, [&] { return ended.load(); });
  RequestGate::Worker* holder = gate.Join();
  REQUIRE(gate.Next(holder, 10ms));
  gate.Took(holder, false);  // back from read() without a request: nobody reads now
  RequestGate::Worker* other = gate.Join();
  std::atomic<bool> passed{false};
  // Parked with a wait far longer than the test: only the monitor can let it through.
  std::thread t([&] {
    (void)gate.Next(other, 600s);
    passed.store(true);
  });
  std::this_thread::sleep_for(50ms);
  CHECK_FALSE(passed.load());
  ended.store(true);
  REQUIRE(Eventually([&] { return passed.load(); }));
  t.join();
}
