#include "fusefs/reply_hook.h"

#include <linux/fuse.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "fusefs/fuse_abi_ext.h"

namespace snapcow::fusefs {
namespace {

#if FUSE_MAJOR_VERSION == 3 && FUSE_MINOR_VERSION < 17
// 3.14 needs the hook for parallel direct writes and for passthrough, 3.15-3.16 for passthrough.
constexpr bool kNeedHook = true;
#else
// 3.17 and later have fields for both; this tree is built against 3.14 only, so passthrough
// through the 3.17 API is not wired up and stays off there.
constexpr bool kNeedHook = false;
#endif

std::atomic<bool> g_installed{false};
std::atomic<bool> g_init_seen{false};
std::atomic<unsigned long> g_hits{0};
Passthrough* g_pt = nullptr;  // set before the loop starts, constant afterwards
bool g_uring_wanted = false;  // the same
RequestGate* g_gate = nullptr;  // the same
RequestPoll* g_poll = nullptr;  // the same
std::atomic<bool> g_uring_offered{false};

// Set around the fuse_reply_*() call whose reply this thread sends next.
thread_local bool t_init_reply = false;
thread_local bool t_want_parallel = false;
thread_local int t_backing_id = 0;
thread_local ReplySink* t_sink = nullptr;
thread_local RequestGate::Worker* t_worker = nullptr;

// Waits for a slot at the gate. Cancellation is off meanwhile: libfuse cancels its workers
// at exit, and a cancel cannot unwind through a condition variable's wait (it would end the
// process). The gate's monitor opens it once the session has ended (main.cc), and every
// worker goes on to read(), where the cancel takes it.
void PassGate() {
  if (!t_worker) t_worker = g_gate->Join();
  int old = 0;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
  while (!g_gate->Next(t_worker, std::chrono::seconds(10))) {
  }
  pthread_setcancelstate(old, nullptr);
}

uint32_t Load32(const void* base, size_t off) {
  uint32_t v;
  std::memcpy(&v, static_cast<const char*>(base) + off, sizeof(v));
  return v;
}
void Store32(void* base, size_t off, uint32_t v) {
  std::memcpy(static_cast<char*>(base) + off, &v, sizeof(v));
}

bool IsReply(const iovec* iov, int count, size_t body) {
  if (count != 2 || iov[0].iov_len != sizeof(fuse_out_header) || iov[1].iov_len != body)
    return false;
  fuse_out_header head;
  std::memcpy(&head, iov[0].iov_base, sizeof(head));
  return head.error == 0;
}

// The first request is INIT: note whether the kernel offers passthrough.
ssize_t HookRead(int fd, void* buf, size_t len, void*) {
  if (g_poll) g_poll->Finished();
  if (g_gate) PassGate();
  const ssize_t n = g_poll ? g_poll->Read(fd, buf, len) : read(fd, buf, len);
  if (g_gate) {
    const int err = errno;
    g_gate->Took(t_worker, n > 0);
    // Unmounted: the other workers must see it too, parked or not.
    if (n < 0 && err == ENODEV) g_gate->Open();
    errno = err;
  }
  constexpr size_t kNeed = sizeof(fuse_in_header) + abi::kInitInFlags2 + sizeof(uint32_t);
  if (n >= static_cast<ssize_t>(kNeed) && !g_init_seen.load(std::memory_order_relaxed)) {
    fuse_in_header in;
    std::memcpy(&in, buf, sizeof(in));
    if (in.opcode == abi::kOpInit) {
      const char* arg = static_cast<const char*>(buf) + sizeof(in);
      const uint32_t flags = Load32(arg, abi::kInitInFlags);
      const uint32_t flags2 = Load32(arg, abi::kInitInFlags2);
      if (g_pt)
        g_pt->NoteKernelOffer((flags & abi::kInitExt) && (flags2 & abi::kPassthroughFlags2));
      g_uring_offered.store((flags & abi::kInitExt) && (flags2 & abi::kOverIoUringFlags2),
                            std::memory_order_relaxed);
      g_init_seen.store(true, std::memory_order_relaxed);
    }
  }
  return n;
}

ssize_t HookWritev(int fd, iovec* iov, int count, void*) {
  alignas(8) char init_out[abi::kInitOutSize];
  alignas(8) char open_out[abi::kOpenOutSize];
  if (t_init_reply) {
    t_init_reply = false;
    const bool pt = g_pt && g_pt->wanted() && g_pt->kernel_offered();
    const bool uring = g_uring_wanted && g_uring_offered.load(std::memory_order_relaxed);
    if ((pt || uring) && IsReply(iov, count, sizeof(init_out))) {
      std::memcpy(init_out, iov[1].iov_base, sizeof(init_out));
      Store32(init_out, abi::kInitOutFlags, Load32(init_out, abi::kInitOutFlags) | abi::kInitExt);
      uint32_t flags2 = Load32(init_out, abi::kInitOutFlags2);
      if (uring) flags2 |= abi::kOverIoUringFlags2;
      if (pt) {
        flags2 |= abi::kPassthroughFlags2;
        // Backing files may sit on a plain filesystem only (stack depth 0): the mount then
        // has depth 1 and can itself still be stacked on once (e.g. by overlayfs).
        Store32(init_out, abi::kInitOutMaxStackDepth, 1);
        g_pt->NoteNegotiated();
      }
      Store32(init_out, abi::kInitOutFlags2, flags2);
      iov[1].iov_base = init_out;
    }
  } else if ((t_want_parallel || t_backing_id > 0) && IsReply(iov, count, sizeof(open_out))) {
    std::memcpy(open_out, iov[1].iov_base, sizeof(open_out));
    uint32_t flags = Load32(open_out, abi::kOpenOutFlags);
    if (t_want_parallel && (flags & FOPEN_DIRECT_IO)) {
      flags |= FOPEN_PARALLEL_DIRECT_WRITES;
      g_hits.fetch_add(1, std::memory_order_relaxed);
    }
    if (t_backing_id > 0) {
      flags |= abi::kOpenPassthrough;
      Store32(open_out, abi::kOpenOutBackingId, static_cast<uint32_t>(t_backing_id));
    }
    Store32(open_out, abi::kOpenOutFlags, flags);
    iov[1].iov_base = open_out;
  }
  if (t_sink) {
    const ssize_t n = t_sink->Send(iov, count);
    if (n >= 0 || errno != ENOENT) return n;
  }
  return writev(fd, iov, count);
}

}  // namespace

bool InstallReplyHook(fuse_session* se, Passthrough* pt) {
  if (!kNeedHook) return true;
  g_pt = pt;
  fuse_custom_io io{};
  io.writev = HookWritev;
  io.read = HookRead;
  if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0) return false;
  g_installed.store(true);
  return true;
}

void SetRequestGate(RequestGate* gate) {
  g_gate = g_installed.load() ? gate : nullptr;
}

void SetRequestPoll(RequestPoll* poll) { g_poll = g_installed.load() ? poll : nullptr; }

void MarkInitReply() { t_init_reply = g_installed.load(std::memory_order_relaxed); }

int ReplyOpen(fuse_req_t req, fuse_file_info* fi, bool parallel, int backing_id) {
  parallel = parallel && fi->direct_io;
#if FUSE_MAJOR_VERSION > 3 || (FUSE_MAJOR_VERSION == 3 && FUSE_MINOR_VERSION >= 15)
  if (parallel) fi->parallel_direct_writes = 1;
  parallel = false;
#endif
  const bool hooked = g_installed.load(std::memory_order_relaxed);
  t_want_parallel = parallel && hooked;
  t_backing_id = hooked ? backing_id : 0;
  const int rc = fuse_reply_open(req, fi);
  t_want_parallel = false;
  t_backing_id = 0;
  return rc;
}

unsigned long ReplyHookHits() { return g_hits.load(std::memory_order_relaxed); }

bool ReplyHookInstalled() { return g_installed.load(std::memory_order_relaxed); }

void SetThreadReplySink(ReplySink* sink) { t_sink = sink; }

void SetIoUringWanted(bool wanted) { g_uring_wanted = wanted; }

}  // namespace snapcow::fusefs
