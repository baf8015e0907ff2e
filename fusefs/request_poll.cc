#include "fusefs/request_poll.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <cstdlib>

namespace snapcow::fusefs {
namespace {

// A sched_yield() that took longer than this ran another thread: the CPU has other work.
constexpr int64_t kYieldedNs = 5000;

// The id of the RequestPoll whose Read() gave the calling worker the request it holds (0:
// none). Ids, not addresses: a new RequestPoll may sit where an old one did.
thread_local uint64_t t_busy_in = 0;
std::atomic<uint64_t> g_next_id{1};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

RequestPoll::RequestPoll(int fd, std::chrono::microseconds budget, std::function<bool()> idle)
    : budget_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(budget).count()),
      idle_(std::move(idle)),
      id_(g_next_id.fetch_add(1, std::memory_order_relaxed)) {
  if (budget_ns_ <= 0) return;
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) budget_ns_ = 0;
}

void RequestPoll::Finished() {
  if (t_busy_in != id_) return;
  t_busy_in = 0;
  busy_.fetch_sub(1, std::memory_order_relaxed);
}

ssize_t RequestPoll::Read(int fd, void* buf, size_t len) {
  Finished();
  ssize_t n = -1;
  if (budget_ns_ == 0) {
    n = read(fd, buf, len);
  } else {
    if (busy_.load(std::memory_order_relaxed) == 0 && (!idle_ || idle_()) &&
        !looking_.exchange(true, std::memory_order_acquire)) {
      n = Look(fd, buf, len);
      looking_.store(false, std::memory_order_release);
      (n < 0 && errno == EAGAIN ? missed_ : found_).fetch_add(1, std::memory_order_relaxed);
    } else {
      n = read(fd, buf, len);
    }
    // Asleep until a request is queued, then after it with the other sleepers: poll(2)
    // wakes all of them, and those the gate lets through (normally two) are all there are.
    while (n < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLIN, 0};
      (void)poll(&p, 1, -1);  // EINTR: read() again, as a blocking read would return
      n = read(fd, buf, len);
    }
  }
  if (n > 0) {
    t_busy_in = id_;
    busy_.fetch_add(1, std::memory_order_relaxed);
  }
  return n;
}

ssize_t RequestPoll::Look(int fd, void* buf, size_t len) {
  const int64_t end = NowNs() + budget_ns_;
  for (;;) {
    const ssize_t n = read(fd, buf, len);
    if (n >= 0 || errno != EAGAIN) return n;
    const int64_t before = NowNs();
    sched_yield();
    const int64_t after = NowNs();
    if (after - before > kYieldedNs || after >= end) {
      errno = EAGAIN;
      return -1;
    }
  }
}

}  // namespace snapcow::fusefs
