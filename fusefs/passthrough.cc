#include "fusefs/passthrough.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fusefs/daemon_log.h"
#include "fusefs/fuse_abi_ext.h"

namespace snapcow::fusefs {
namespace {

// close(2) of a passthrough file reaches the daemon as an asynchronous RELEASE, possibly
// after the next open: a writer that opens right after a reader closed waits this long.
constexpr std::chrono::milliseconds kReleaseGrace{1000};

}  // namespace

bool Passthrough::EnsureBacking(int session_fd, int origin_fd) {
  if (backing_id_ != 0) return backing_id_ > 0;
  backing_id_ = -1;
  // A read-only descriptor of the engine's own origin.img (not a path lookup that a rename in
  // the image directory could redirect).
  const std::string self = fmt::format("/proc/self/fd/{}", origin_fd);
  const int fd = open(self.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    LogWarning(fmt::format("read passthrough off: reopening origin.img: {}", std::strerror(errno)));
    return false;
  }
  abi::BackingMap map{};
  map.fd = fd;
  const int id = ioctl(session_fd, abi::kDevIocBackingOpen, &map);
  const int err = errno;
  close(fd);  // the kernel holds its own reference from here on
  if (id <= 0) {
    LogWarning(fmt::format("read passthrough off: the kernel refused origin.img as a backing "
                           "file: {}",
                           std::strerror(err)));
    return false;
  }
  backing_id_ = id;
  LogInfo("read-only opens of origin.img use FUSE passthrough");
  return true;
}

int Passthrough::AdmitOrigin(bool writable, int session_fd, int origin_fd, Mode* mode,
                             int* backing_id) {
  *backing_id = 0;
  MutexLock l(&mu_);
  if (writable) {
    const auto deadline = std::chrono::steady_clock::now() + kReleaseGrace;
    while (passthrough_live_ > 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return EBUSY;
      released_.WaitFor(&mu_, deadline - now);
    }
    ++writable_live_;
    *mode = Mode::kWritable;
    return 0;
  }
  if (wanted_ && !negotiated_.load(std::memory_order_relaxed) && !told_unoffered_) {
    told_unoffered_ = true;
    LogWarning(kernel_offered() ? "read passthrough off: the INIT reply could not ask for it"
                                : "read passthrough off: not negotiated (it needs Linux 6.9+ "
                                  "with CONFIG_FUSE_PASSTHROUGH, and the reply hook)");
  }
  if (wanted_ && negotiated_.load(std::memory_order_relaxed) && cached_live_ == 0 &&
      writable_live_ == 0 && EnsureBacking(session_fd, origin_fd)) {
    ++passthrough_live_;
    total_.fetch_add(1, std::memory_order_relaxed);
    *mode = Mode::kPassthrough;
    *backing_id = backing_id_;
    return 0;
  }
  ++cached_live_;
  *mode = Mode::kCached;
  return 0;
}

void Passthrough::ReleaseOrigin(Mode mode) {
  MutexLock l(&mu_);
  switch (mode) {
    case Mode::kPassthrough:
      if (--passthrough_live_ == 0) released_.SignalAll();
      break;
    case Mode::kCached:
      --cached_live_;
      break;
    case Mode::kWritable:
      --writable_live_;
      break;
    case Mode::kNone:
      break;
  }
}

}  // namespace snapcow::fusefs
