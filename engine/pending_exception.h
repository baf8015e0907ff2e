// PendingException: a chunk whose copy into the COW is under way. The thread that created it
// does the copy and the commit, or hands them to the deferred writes' applier; every other
// I/O to that chunk joins it and waits.
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
  // From here a failed copy invalidates the snapshot: the owner has read the origin chunk
  // and written it into the COW (only the store can fail now), or the copy runs in the
  // deferred writes' background, where an origin read error invalidates too. A joining
  // origin write may then be deferred (deferred_writes.h) instead of waiting: whatever
  // happens, the snapshot never shows the new data as old.
  void MarkFailureInvalidates() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    failure_invalidates_ = true;
  }
  bool failure_invalidates() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return failure_invalidates_ || (done_ && result_.ok());
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
  bool failure_invalidates_ GUARDED_BY(mu_) = false;
  Status result_ GUARDED_BY(mu_);
};

}  // namespace snapcow
