#include "fusefs/reply_hook.h"

#include <linux/fuse.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace snapcow::fusefs {
namespace {

#if FUSE_MAJOR_VERSION == 3 && FUSE_MINOR_VERSION == 14
constexpr bool kNeedHook = true;
#else
constexpr bool kNeedHook = false;
#endif

std::atomic<bool> g_installed{false};
std::atomic<unsigned long> g_hits{0};
// Set by ReplyOpen() around its fuse_reply_open(): the reply this thread sends next is an
// OPEN reply that asks for parallel direct writes.
thread_local bool t_want_parallel = false;

ssize_t HookRead(int fd, void* buf, size_t len, void*) { return read(fd, buf, len); }

ssize_t HookWritev(int fd, iovec* iov, int count, void*) {
  fuse_open_out out;
  if (t_want_parallel && count == 2 && iov[0].iov_len == sizeof(fuse_out_header) &&
      iov[1].iov_len == sizeof(fuse_open_out)) {
    fuse_out_header head;
    std::memcpy(&head, iov[0].iov_base, sizeof(head));
    std::memcpy(&out, iov[1].iov_base, sizeof(out));
    if (head.error == 0 && (out.open_flags & FOPEN_DIRECT_IO)) {
      out.open_flags |= FOPEN_PARALLEL_DIRECT_WRITES;
      iov[1].iov_base = &out;
      g_hits.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return writev(fd, iov, count);
}

}  // namespace

bool InstallReplyHook(fuse_session* se) {
  if (!kNeedHook) return true;
  fuse_custom_io io{};
  io.writev = HookWritev;
  io.read = HookRead;
  if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0) return false;
  g_installed.store(true);
  return true;
}

int ReplyOpen(fuse_req_t req, fuse_file_info* fi, bool parallel) {
  if (!parallel || !fi->direct_io) return fuse_reply_open(req, fi);
#if FUSE_MAJOR_VERSION > 3 || (FUSE_MAJOR_VERSION == 3 && FUSE_MINOR_VERSION >= 15)
  fi->parallel_direct_writes = 1;
  return fuse_reply_open(req, fi);
#else
  t_want_parallel = g_installed.load(std::memory_order_relaxed);
  const int rc = fuse_reply_open(req, fi);
  t_want_parallel = false;
  return rc;
#endif
}

unsigned long ReplyHookHits() { return g_hits.load(std::memory_order_relaxed); }

}  // namespace snapcow::fusefs
