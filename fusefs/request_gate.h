// RequestGate: how many of the FUSE worker threads take requests at once.
//
// libfuse's loop keeps every worker in read(2) on /dev/fuse, and the kernel hands each
// request to the one that has waited longest, so 16 workers take turns at 16 requests in
// flight, each on a cold cache and contending for the engine's locks, on a machine with two
// CPUs. Measured (2026-12-07, 2 vCPUs, 3 runs each, medians): 2 workers against 16 gave
// first writes 1.7x (psync) and 1.6x (libaio QD16), steady libaio QD16 writes 1.37x and reads
// 1.29x. One worker halves psync: the next request comes while it is still sending a reply.
//
// But a worker that blocks (an fsync, a first write waiting for its copies, a read behind a
// queued write) must not hold up the others. So the gate lets `active` workers take requests
// and parks the rest; a monitor thread counts the workers busy with one request for longer
// than `stall`, and lets that many more through while they are, up to `max` (every worker).
// The monitor looks only while no worker is waiting in read(): then a stall can hold up a
// request; otherwise (an idle daemon, or one job's requests one at a time) it sleeps, and
// nobody pays for waking it (it looks a few times a second whether the session has ended).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "engine/mutex.h"

namespace snapcow::fusefs {

class RequestGate {
 public:
  struct Worker;  // one per thread, owned by the gate

  // `ended` (may be empty) tells whether the session has ended: the monitor asks it a few
  // times a second while asleep, and opens the gate once it says so.
  RequestGate(unsigned active, unsigned max, std::chrono::microseconds stall,
              std::function<bool()> ended = {});
  ~RequestGate();  // stops the monitor; no thread may be in Next() any more
  RequestGate(const RequestGate&) = delete;
  RequestGate& operator=(const RequestGate&) = delete;

  // The calling thread's record: once per thread, before its first Next().
  Worker* Join() EXCLUDES(mu_);
  // Before the thread takes its next request (it has finished the last one): keeps its slot
  // unless there are more workers through than the limit, else waits at most `wait` for one.
  // True: the thread may take a request. False: it timed out without a slot (the caller may
  // look for a reason to stop, and calls again).
  bool Next(Worker* w, std::chrono::milliseconds wait) EXCLUDES(mu_);
  // The thread is back from read(): with `request`, busy with one until its next Next().
  void Took(Worker* w, bool request);
  // From now on every Next() passes at once (the session is ending).
  void Open() EXCLUDES(mu_);

  unsigned limit() const EXCLUDES(mu_);   // workers let through now (tests)
  unsigned through() const EXCLUDES(mu_);  // workers holding a slot now (tests)

 private:
  void Monitor() EXCLUDES(mu_);
  // Workers busy with one request since before `now - stall_`.
  unsigned StalledLocked(int64_t now) const REQUIRES(mu_);
  bool Reading();  // Next() lets the thread go on to read()

  const unsigned active_;
  const unsigned max_;
  const std::chrono::microseconds stall_;
  const std::function<bool()> ended_;

  mutable Mutex mu_;
  CondVar slot_;  // parked workers: the limit rose, or the gate opened
  CondVar tick_;  // the monitor, asleep: a worker took a request
  std::vector<std::unique_ptr<Worker>> workers_ GUARDED_BY(mu_);
  unsigned limit_ GUARDED_BY(mu_);
  unsigned through_ GUARDED_BY(mu_) = 0;
  bool open_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  // Workers in read() (or on their way to it). The monitor sleeps while there are some; the
  // last one out takes mu_ only to wake it. Both are seq_cst: either the monitor sees the
  // count at zero or the worker sees the monitor asleep.
  std::atomic<unsigned> reading_{0};
  std::atomic<bool> monitor_asleep_{false};
  std::thread monitor_;  // last: started once the rest is built
};

}  // namespace snapcow::fusefs
