#include "fusefs/uring_ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace snapcow::fusefs {
namespace {

unsigned LoadAcquire(const unsigned* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
void StoreRelease(unsigned* p, unsigned v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

template <typename T>
T* At(void* base, uint32_t off) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + off);
}

}  // namespace

UringRing::~UringRing() {
  if (sqes_) ::munmap(sqes_, sqes_bytes_);
  if (cq_map_ && cq_map_ != sq_map_) ::munmap(cq_map_, cq_map_bytes_);
  if (sq_map_) ::munmap(sq_map_, sq_map_bytes_);
  if (fd_ >= 0) ::close(fd_);  // cancels what is still pending on it
}

Status UringRing::Init(unsigned entries) {
  io_uring_params p;
  std::memset(&p, 0, sizeof p);
  p.flags = IORING_SETUP_SQE128;
  fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, entries, &p));
  if (fd_ < 0) return Status::FromErrno(errno, "io_uring_setup");
  sq_map_bytes_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_map_bytes_ = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  const bool single = p.features & IORING_FEAT_SINGLE_MMAP;
  if (single) sq_map_bytes_ = cq_map_bytes_ = std::max(sq_map_bytes_, cq_map_bytes_);
  sq_map_ = ::mmap(nullptr, sq_map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                   fd_, IORING_OFF_SQ_RING);
  if (sq_map_ == MAP_FAILED) {
    sq_map_ = nullptr;
    return Status::FromErrno(errno, "mmap io_uring SQ");
  }
  cq_map_ = sq_map_;
  if (!single) {
    cq_map_ = ::mmap(nullptr, cq_map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                     fd_, IORING_OFF_CQ_RING);
    if (cq_map_ == MAP_FAILED) {
      cq_map_ = nullptr;
      return Status::FromErrno(errno, "mmap io_uring CQ");
    }
  }
  sqes_bytes_ = p.sq_entries * 2 * sizeof(io_uring_sqe);  // SQE128: two slots each
  void* sqes = ::mmap(nullptr, sqes_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      fd_, IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return Status::FromErrno(errno, "mmap io_uring SQEs");
  sqes_ = static_cast<io_uring_sqe*>(sqes);
  sq_head_ = At<unsigned>(sq_map_, p.sq_off.head);
  sq_tail_ = At<unsigned>(sq_map_, p.sq_off.tail);
  sq_array_ = At<unsigned>(sq_map_, p.sq_off.array);
  sq_mask_ = *At<unsigned>(sq_map_, p.sq_off.ring_mask);
  sq_entries_ = p.sq_entries;
  cq_head_ = At<unsigned>(cq_map_, p.cq_off.head);
  cq_tail_ = At<unsigned>(cq_map_, p.cq_off.tail);
  cqes_ = At<io_uring_cqe>(cq_map_, p.cq_off.cqes);
  cq_mask_ = *At<unsigned>(cq_map_, p.cq_off.ring_mask);
  return Status::OK();
}

io_uring_sqe* UringRing::NextSqe() {
  const unsigned tail = *sq_tail_;
  if (tail - LoadAcquire(sq_head_) >= sq_entries_) return nullptr;
  const unsigned idx = tail & sq_mask_;
  io_uring_sqe* sqe = sqes_ + 2 * idx;  // 128-byte slots
  std::memset(sqe, 0, 2 * sizeof(io_uring_sqe));
  sq_array_[idx] = idx;
  StoreRelease(sq_tail_, tail + 1);
  ++to_submit_;
  return sqe;
}

int UringRing::SubmitAndWait() {
  for (;;) {
    const long n = ::syscall(__NR_io_uring_enter, fd_, to_submit_, 1u, IORING_ENTER_GETEVENTS,
                             nullptr, 0);
    if (n >= 0) {
      to_submit_ -= static_cast<unsigned>(n) < to_submit_ ? static_cast<unsigned>(n) : to_submit_;
      return 0;
    }
    if (errno != EINTR) return -errno;
  }
}

const io_uring_cqe* UringRing::PeekCqe() {
  const unsigned head = *cq_head_;
  if (head == LoadAcquire(cq_tail_)) return nullptr;
  return &cqes_[head & cq_mask_];
}

void UringRing::SeenCqe() { StoreRelease(cq_head_, *cq_head_ + 1); }

}  // namespace snapcow::fusefs
