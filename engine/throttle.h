// Throttle: at most N chunk copies in flight (seed 003, dm's cow_threshold). As in dm, a copy
// is in flight from its start until its data is in the COW store (Origin::RunCopies ends it);
// the commit after that is not counted.
// A writer waits for room holding no lock at all; writes that need no copy never call it.
#pragma once

#include <cstdint>

#include "engine/mutex.h"

namespace snapcow {

class Throttle {
 public:
  explicit Throttle(uint32_t limit) : limit_(limit == 0 ? UINT32_MAX : limit) {}

  // Blocks while the number of copies in flight is at the limit. Like dm, the limit is soft:
  // a writer admitted here may start several copies.
  void WaitForRoom() EXCLUDES(mu_);
  void Started(uint32_t n) EXCLUDES(mu_);
  void Finished(uint32_t n) EXCLUDES(mu_);
  uint32_t in_flight() const EXCLUDES(mu_);
  uint32_t limit() const { return limit_; }

 private:
  const uint32_t limit_;
  mutable Mutex mu_;
  CondVar room_;
  uint32_t in_flight_ GUARDED_BY(mu_) = 0;
};

}  // namespace snapcow
