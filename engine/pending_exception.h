// PendingException: a chunk whose copy into the COW is under way. The thread that created it
// does the copy and the commit, or hands them to the deferred writes' copier with its write;
// every other I/O to that chunk joins it and waits.
#pragma once

#include "engine/mutex.h"
#include "engine/snapshot_config.h"
#include "engine/status.h"

namespace snapcow {

class PendingException {
 public:
  explicit PendingException(chunk_t old_chunk) : old_chunk_(old_chunk) {}

  chunk_t old_chunk() const { return old_chunk_; }

  // Marks the copy finished (committed, or failed with `s`) and wakes the joiners.
  void Complete(const Status& s) EXCLUDES(mu_) {
    MutexLock l(&mu_);
    done_ = true;
    result_ = s;
    cv_.SignalAll();
  }
  // From here the copy can fail only by invalidating the snapshot, so a joining origin write
  // may be deferred (deferred_writes.h) instead of waiting: the owner read the origin chunk
  // and wrote it into the COW (a store failure invalidates), or the copy belongs to an
  // acknowledged write, whose origin read errors invalidate the snapshot too.
  void MarkBinding() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    binding_ = true;
  }
  bool binding() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return binding_ || (done_ && result_.ok());
  }
  Status Wait() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    while (!done_) cv_.Wait(&mu_);
    return result_;
  }

 private:
  const chunk_t old_chunk_;
  mutable Mutex mu_;
  CondVar cv_;
  bool done_ GUARDED_BY(mu_) = false;
  bool binding_ GUARDED_BY(mu_) = false;
  Status result_ GUARDED_BY(mu_);
};

}  // namespace snapcow
