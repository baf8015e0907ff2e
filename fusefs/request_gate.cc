#include "fusefs/request_gate.h"

#include <pthread.h>

#include <algorithm>

namespace snapcow::fusefs {
namespace {

// How often the sleeping monitor asks whether the session has ended.
constexpr std::chrono::milliseconds kEndedCheck(250);

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct RequestGate::Worker {
  // When the worker took the request it is busy with (steady clock, ns); 0 between requests.
  // Written by its thread, read by the monitor.
  std::atomic<int64_t> busy_since{0};
  bool holds = false;  // it has a slot; under the gate's mu_
};

RequestGate::RequestGate(unsigned active, unsigned max, std::chrono::microseconds stall,
                         std::function<bool()> ended)
    : active_(std::max(1u, active)),
      max_(std::max(active_, max)),
      stall_(stall),
      ended_(std::move(ended)),
      limit_(active_) {
  monitor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "snapcow-gate");
    Monitor();
  });
}

RequestGate::~RequestGate() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
    tick_.SignalAll();
  }
  monitor_.join();
}

RequestGate::Worker* RequestGate::Join() {
  MutexLock l(&mu_);
  workers_.push_back(std::make_unique<Worker>());
  return workers_.back().get();
}

bool RequestGate::Next(Worker* w, std::chrono::milliseconds wait) {
  w->busy_since.store(0);
  MutexLock l(&mu_);
  if (open_) return Reading();
  if (w->holds) {
    if (through_ <= limit_) return Reading();
    // The limit fell (a stalled worker finished): this one steps back.
    w->holds = false;
    --through_;
  }
  while (!open_ && through_ >= limit_)
    if (!slot_.WaitFor(&mu_, wait)) return false;
  if (open_) return Reading();
  ++through_;
  w->holds = true;
  return Reading();
}

bool RequestGate::Reading() {
  reading_.fetch_add(1);
  return true;
}

void RequestGate::Took(Worker* w, bool request) {
  if (request) w->busy_since.store(NowNs());
  // The last one out of read(): if the monitor sleeps, it must now watch for a stall.
  if (reading_.fetch_sub(1) != 1 || !monitor_asleep_.load()) return;
  MutexLock l(&mu_);
  monitor_asleep_.store(false);
  tick_.Signal();
}

void RequestGate::Open() {
  MutexLock l(&mu_);
  open_ = true;
  slot_.SignalAll();
}

unsigned RequestGate::limit() const {
  MutexLock l(&mu_);
  return limit_;
}

unsigned RequestGate::through() const {
  MutexLock l(&mu_);
  return through_;
}

unsigned RequestGate::StalledLocked(int64_t now) const {
  const int64_t before = now - std::chrono::duration_cast<std::chrono::nanoseconds>(stall_).count();
  unsigned n = 0;
  for (const auto& w : workers_) {
    const int64_t since = w->busy_since.load();
    if (since != 0 && since <= before) ++n;
  }
  return n;
}

void RequestGate::Monitor() {
  // Half the stall time between looks: a worker stalled for `stall` is noticed within 1.5x.
  const auto tick = std::max(stall_ / 2, std::chrono::microseconds(100));
  MutexLock l(&mu_);
  while (!stopping_) {
    if (!open_ && ended_ && ended_()) {
      open_ = true;
      slot_.SignalAll();
    }
    const unsigned want = std::min(max_, active_ + StalledLocked(NowNs()));
    for (unsigned i = limit_; i < want; ++i) slot_.Signal();
    limit_ = want;
    if (limit_ == active_) {
      // While a worker waits in read(), a stalled one holds up nothing: asleep until the
      // last one leaves read(). The flag goes up before the look, so a worker leaving after
      // the look sees it.
      monitor_asleep_.store(true);
      if (reading_.load() > 0) {
        (void)tick_.WaitFor(&mu_, kEndedCheck);
        continue;  // woken (monitor_asleep_ is down), or to ask ended_ again
      }
      monitor_asleep_.store(false);
    }
    (void)tick_.WaitFor(&mu_, tick);
  }
}

}  // namespace snapcow::fusefs
