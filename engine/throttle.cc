#include "engine/throttle.h"

namespace snapcow {

void Throttle::WaitForRoom() {
  MutexLock l(&mu_);
  while (in_flight_ >= limit_) room_.Wait(&mu_);
}

void Throttle::Started(uint32_t n) {
  MutexLock l(&mu_);
  in_flight_ += n;
}

void Throttle::Finished(uint32_t n) {
  MutexLock l(&mu_);
  in_flight_ -= n;
  if (in_flight_ < limit_) room_.SignalAll();
}

uint32_t Throttle::in_flight() const {
  MutexLock l(&mu_);
  return in_flight_;
}

}  // namespace snapcow
