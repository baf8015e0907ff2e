// UringRing: the few io_uring calls the FUSE ring transport needs, on the raw system calls
// (Debian 12 offers liburing, but the project keeps to its listed libraries). One ring per
// thread, used by that thread only: no locks.
#pragma once

#include <linux/io_uring.h>

#include <cstdint>

#include "engine/status.h"

namespace snapcow::fusefs {

class UringRing {
 public:
  UringRing() = default;
  ~UringRing();
  UringRing(const UringRing&) = delete;
  UringRing& operator=(const UringRing&) = delete;

  // A ring of `entries` 128-byte SQEs (IORING_SETUP_SQE128: FUSE's command needs 80 bytes).
  Status Init(unsigned entries);
  // The next free SQE, zeroed; null when the queue is full (submit first).
  io_uring_sqe* NextSqe();
  // Submits what NextSqe() handed out and waits until at least one completion is there.
  // -errno on failure (EINTR is retried).
  int SubmitAndWait();
  // The oldest completion, or null; Seen() releases it.
  const io_uring_cqe* PeekCqe();
  void SeenCqe();

 private:
  int fd_ = -1;
  void* sq_map_ = nullptr;
  void* cq_map_ = nullptr;  // == sq_map_ with IORING_FEAT_SINGLE_MMAP
  size_t sq_map_bytes_ = 0, cq_map_bytes_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_bytes_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_array_ = nullptr;
  unsigned sq_mask_ = 0, sq_entries_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
  unsigned cq_mask_ = 0;
  unsigned to_submit_ = 0;
};

}  // namespace snapcow::fusefs
