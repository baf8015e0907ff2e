// FUSE passthrough for read-only opens of origin.img (Linux 6.9+; PERFORMANCE.md).
//
// A passthrough open hands the kernel origin.img itself: reads and read-only mmaps go to the
// backing file without a round trip through the daemon. It cannot do copy-on-write, so only
// read-only opens of the origin qualify (origin reads never depend on a snapshot).
//
// The kernel ties passthrough to the inode (fs/fuse/iomode.c): while the inode has a backing
// file, every other open of it must be passthrough too, and a passthrough open is refused
// while a page-cached open lives; either way open(2) fails with EIO. The inode keeps its
// backing file while any passthrough open lives *and* while any parallel direct write is in
// flight, so passthrough and writers must not overlap at all. The daemon counts each kind and
// decides every origin open by it:
//   - read-only, passthrough negotiated, no cached and no writable open live -> passthrough
//   - read-only otherwise                                                     -> page-cached
//   - writable, no passthrough open live                     -> direct I/O (the engine)
//   - writable while passthrough opens live                  -> waits a little for their
//     releases (close(2) sends them asynchronously), then EBUSY
// The last rule is why passthrough is off by default on a writable mount: it is on with
// --read-passthrough, and always on a read-only mount (-o ro), where no writable open exists.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "engine/mutex.h"

namespace snapcow::fusefs {

class Passthrough {
 public:
  enum class Mode : uint8_t { kNone, kCached, kPassthrough, kWritable };

  // Constant after main() has set it, before the session starts.
  void set_wanted(bool wanted) { wanted_ = wanted; }
  bool wanted() const { return wanted_; }

  // The reply hook's side: what the kernel offered in INIT, and that our INIT reply asked for
  // passthrough. Only then may an OPEN reply carry FOPEN_PASSTHROUGH.
  void NoteKernelOffer(bool offered) { offered_.store(offered, std::memory_order_relaxed); }
  bool kernel_offered() const { return offered_.load(std::memory_order_relaxed); }
  void NoteNegotiated() { negotiated_.store(true, std::memory_order_relaxed); }

  // Decides how an open of origin.img is answered and counts it until ReleaseOrigin().
  // `origin_fd` is the engine's descriptor of origin.img, `session_fd` /dev/fuse. Returns 0
  // with *mode set (and *backing_id > 0 for kPassthrough), or EBUSY.
  int AdmitOrigin(bool writable, int session_fd, int origin_fd, Mode* mode, int* backing_id)
      EXCLUDES(mu_);
  void ReleaseOrigin(Mode mode) EXCLUDES(mu_);

  // For the log and tests: opens answered with passthrough since start.
  uint64_t passthrough_opens() const { return total_.load(std::memory_order_relaxed); }

 private:
  // Registers origin.img with the kernel once (FUSE_DEV_IOC_BACKING_OPEN); the id lives until
  // the session ends. Returns false (for good) when the kernel refuses.
  bool EnsureBacking(int session_fd, int origin_fd) REQUIRES(mu_);

  bool wanted_ = false;
  std::atomic<bool> offered_{false};
  std::atomic<bool> negotiated_{false};
  std::atomic<uint64_t> total_{0};

  Mutex mu_;
  CondVar released_;              // signalled when passthrough_live_ drops to zero
  int backing_id_ GUARDED_BY(mu_) = 0;   // > 0 registered, < 0 refused, 0 not tried
  uint32_t passthrough_live_ GUARDED_BY(mu_) = 0;
  uint32_t cached_live_ GUARDED_BY(mu_) = 0;
  uint32_t writable_live_ GUARDED_BY(mu_) = 0;
  bool told_unoffered_ GUARDED_BY(mu_) = false;  // logged once
};

}  // namespace snapcow::fusefs
