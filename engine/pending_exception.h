// PendingException: a chunk whose copy into the COW is under way. The thread that created it
// does the copy and the commit; every other I/O to that chunk joins it and waits.
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
  // The owner read the origin chunk and wrote it into the COW: from here the copy can only
  // fail on its store (which invalidates the snapshot), so a joining origin write may be
  // deferred (deferred_writes.h) instead of waiting.
  void MarkCopied() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    copied_ = true;
  }
  bool copied() const EXCLUDES(mu_) {
    MutexLock l(&mu_);
    return copied_ || (done_ && result_.ok());
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
  bool copied_ GUARDED_BY(mu_) = false;
  Status result_ GUARDED_BY(mu_);
};

}  // namespace snapcow
