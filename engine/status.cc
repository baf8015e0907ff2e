#include "engine/status.h"

#include <cstring>

namespace snapcow {

Status Status::FromErrno(int err, const std::string& what) {
  return Status(err, what + ": " + std::strerror(err));
}

std::string Status::ToString() const { return ok() ? std::string("OK") : msg_; }

}  // namespace snapcow
