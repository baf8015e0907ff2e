// UringTransport: FUSE requests over io_uring (Linux 6.14+, fuse.enable_uring=Y) beside
// libfuse 3.14, which has no support for it (libfuse 3.18 has).
//
// Once every CPU's queue has a registered entry, the kernel hands each request to the
// queue of the CPU it was issued on, through the ring instead of read(2) on /dev/fuse, and
// takes the reply and the next request in one io_uring_enter(2): one system call per request
// instead of two, and the request stays on its CPU. FORGET, INTERRUPT and notifications still
// go through /dev/fuse, so libfuse's loop keeps running beside it.
//
// Each ring thread owns one ring and one entry of one queue. It is not pinned to that queue's
// CPU: the kernel does not balance queues, so libaio at QD16 from one CPU lands on one queue,
// and its pinned threads then shared that CPU with fio while the other idled (measured: 0.7x
// of /dev/fuse pinned, about parity unpinned). It rebuilds the request as read(2) would have returned it and hands it to
// fuse_session_process_buf(); the handler's reply (every handler here replies before it
// returns) reaches the entry through the reply hook's thread sink (reply_hook.h).
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace snapcow::fusefs {

class UringEntry;
class UringRing;

class UringTransport {
 public:
  // `threads_per_queue` entries (and threads) for each CPU's queue. Registration waits for
  // INIT and starts with the threads; if the kernel refuses, the threads end and everything
  // goes through /dev/fuse (logged once).
  UringTransport(fuse_session* se, unsigned threads_per_queue);
  ~UringTransport();  // Stop()
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  // Starts the threads; false (with the reason logged) when none could start.
  bool Start();
  // Ends the threads and cancels their entries. Idempotent.
  void Stop();

  // Requests answered through the ring so far.
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  void Run(unsigned qid, UringRing& ring, UringEntry& entry);

  // Constant after construction.
  fuse_session* const se_;
  const unsigned threads_per_queue_;
  // Set by Start() before any ring thread runs and cleared by Stop() after all have ended:
  // only the thread calling them touches these (a ring thread uses its own ring only).
  unsigned queues_ = 0;
  int stop_fd_ = -1;  // an eventfd every ring polls: written once by Stop()
  std::vector<std::unique_ptr<UringRing>> rings_;  // one per thread; its thread resets it
  std::vector<std::unique_ptr<UringEntry>> entries_;  // one per thread
  std::vector<std::thread> threads_;
  // Shared by the ring threads.
  std::atomic<uint64_t> requests_{0};
  std::atomic<bool> refused_logged_{false};
};

}  // namespace snapcow::fusefs
