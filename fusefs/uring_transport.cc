#include "fusefs/uring_transport.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "fusefs/daemon_log.h"
#include "fusefs/fuse_abi_ext.h"
#include "fusefs/reply_hook.h"
#include "fusefs/uring_ring.h"

namespace snapcow::fusefs {
namespace {

constexpr uint64_t kEntryTag = 1;
constexpr uint64_t kStopTag = 2;
// The kernel wants room for max(max_write, max_pages pages): libfuse 3.14 reads at most 1 MiB
// (FUSE_MAX_MAX_PAGES), so it never settles on more.
constexpr size_t kPayloadBytes = 256 * 4096;
// Registration before the INIT reply is processed gets EAGAIN: retry this long.
constexpr auto kRegisterPatience = std::chrono::seconds(30);

void PrepareCmd(io_uring_sqe* sqe, int fuse_fd, uint32_t op, unsigned qid, uint64_t commit_id,
                const iovec* iov) {
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = fuse_fd;
  sqe->cmd_op = op;
  if (iov) {
    sqe->addr = reinterpret_cast<uint64_t>(iov);
    sqe->len = 2;
  }
  sqe->user_data = kEntryTag;
  abi::UringCmdReq req{};
  req.commit_id = commit_id;
  req.qid = static_cast<uint16_t>(qid);
  std::memcpy(sqe->cmd, &req, sizeof req);
}

}  // namespace

// One ring entry: its buffers, and the request being answered. The kernel keeps pointers to
// the buffers while the entry is registered and copies requests into them from its ring
// thread's task work, even while that thread exits: entries are freed only by Stop(), after
// every ring thread has ended.
class UringEntry final : public ReplySink {
 public:
  // Left uninitialised: the pages a request never reaches cost no memory.
  explicit UringEntry(size_t payload_bytes)
      : payload_bytes_(payload_bytes),
        payload_(new char[payload_bytes]),
        request_(new char[sizeof(fuse_in_header) + abi::kUringOpInBytes + payload_bytes]) {
    iov_[0] = {header_, sizeof header_};
    iov_[1] = {payload_.get(), payload_bytes_};
  }

  const iovec* iov() { return iov_; }
  uint64_t commit_id() const { return ent().commit_id; }
  bool replied() const { return replied_; }

  // The request as read(2) on /dev/fuse returns it: in-header, op header, the rest. False
  // for a malformed one (answered with EIO by the caller).
  bool Rebuild(fuse_buf* out) {
    fuse_in_header in;
    std::memcpy(&in, header_ + abi::kUringInOut, sizeof in);
    const abi::UringEntInOut e = ent();
    unique_ = in.unique;
    replied_ = false;
    // in.len counts every in-argument: what is not in the payload is the op header.
    const uint64_t rest = uint64_t{in.len} - sizeof in;
    if (in.len < sizeof in || e.payload_sz > payload_bytes_ || rest < e.payload_sz ||
        rest - e.payload_sz > abi::kUringOpInBytes || in.unique != e.commit_id)
      return false;
    const size_t op = static_cast<size_t>(rest - e.payload_sz);
    char* p = request_.get();
    std::memcpy(p, &in, sizeof in);
    std::memcpy(p + sizeof in, header_ + abi::kUringOpIn, op);
    std::memcpy(p + sizeof in + op, payload_.get(), e.payload_sz);
    *out = fuse_buf{};
    out->size = in.len;
    out->mem = p;
    return true;
  }

  // The reply goes into the entry's buffers for COMMIT_AND_FETCH.
  ssize_t Send(const iovec* iov, int count) override {
    fuse_out_header out;
    if (count < 1 || iov[0].iov_len != sizeof out) return NotMine();
    std::memcpy(&out, iov[0].iov_base, sizeof out);
    if (out.unique != unique_ || replied_) return NotMine();
    size_t total = 0, sent = sizeof out;
    for (int i = 1; i < count; ++i) {
      if (total + iov[i].iov_len > payload_bytes_) {
        out.error = -EIO;  // cannot happen with the kernel's own max_write
        total = 0;
        break;
      }
      std::memcpy(payload_.get() + total, iov[i].iov_base, iov[i].iov_len);
      total += iov[i].iov_len;
      sent += iov[i].iov_len;
    }
    std::memcpy(header_ + abi::kUringInOut, &out, sizeof out);
    abi::UringEntInOut e = ent();
    e.payload_sz = static_cast<uint32_t>(total);
    std::memcpy(header_ + abi::kUringEntInOut, &e, sizeof e);
    replied_ = true;
    return static_cast<ssize_t>(sent);
  }

  // For a request no handler answered (or a malformed one).
  void FailWith(int err) {
    fuse_out_header out{};
    out.len = sizeof out;
    out.error = -err;
    out.unique = unique_;
    iovec iov{&out, sizeof out};
    replied_ = false;
    Send(&iov, 1);
  }

 private:
  static ssize_t NotMine() {
    errno = ENOENT;
    return -1;
  }
  abi::UringEntInOut ent() const {
    abi::UringEntInOut e;
    std::memcpy(&e, header_ + abi::kUringEntInOut, sizeof e);
    return e;
  }

  alignas(64) char header_[abi::kUringHeaderBytes] = {};
  const size_t payload_bytes_;
  const std::unique_ptr<char[]> payload_;
  const std::unique_ptr<char[]> request_;
  iovec iov_[2];
  uint64_t unique_ = 0;
  bool replied_ = false;
};

UringTransport::UringTransport(fuse_session* se, unsigned threads_per_queue)
    : se_(se), threads_per_queue_(threads_per_queue < 1 ? 1 : threads_per_queue) {}

UringTransport::~UringTransport() { Stop(); }

bool UringTransport::Start() {
  if (!ReplyHookInstalled()) {
    LogWarning("io_uring: needs the reply hook; serving through /dev/fuse");
    return false;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) {
    LogWarning(fmt::format("io_uring: eventfd: {}; serving through /dev/fuse", strerror(errno)));
    return false;
  }
  // The kernel makes one queue per possible CPU and waits for an entry on every one.
  queues_ = static_cast<unsigned>(get_nprocs_conf());
  // Every ring is made before any thread starts: once INIT has asked for io_uring, requests
  // wait for the ring, so each thread must get as far as a REGISTER (whose failure sends the
  // kernel back to /dev/fuse).
  for (unsigned i = 0; i < queues_ * threads_per_queue_; ++i) {
    entries_.push_back(std::make_unique<UringEntry>(kPayloadBytes));
    rings_.push_back(std::make_unique<UringRing>());
    if (Status st = rings_.back()->Init(4); !st.ok()) {
      LogWarning("io_uring: " + st.ToString() + "; serving through /dev/fuse");
      Stop();
      return false;
    }
  }
  try {
    for (unsigned i = 0; i < rings_.size(); ++i)
      threads_.emplace_back([this, i] {
        Run(i / threads_per_queue_, *rings_[i], *entries_[i]);
        // Closing the ring cancels the entry's command: the kernel stops handing it requests.
        rings_[i].reset();
      });
  } catch (const std::exception& e) {
    LogWarning(fmt::format("io_uring: cannot start a ring thread: {}", e.what()));
    Stop();
    return false;
  }
  return true;
}

void UringTransport::Stop() {
  if (stop_fd_ >= 0) {
    const uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  rings_.clear();
  entries_.clear();
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
}

void UringTransport::Run(unsigned qid, UringRing& ring, UringEntry& entry) {
  const int fuse_fd = fuse_session_fd(se_);
  io_uring_sqe* sqe = ring.NextSqe();
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = stop_fd_;
  sqe->poll32_events = POLLIN;
  sqe->user_data = kStopTag;
  PrepareCmd(ring.NextSqe(), fuse_fd, abi::kUringCmdRegister, qid, 0, entry.iov());
  const auto deadline = std::chrono::steady_clock::now() + kRegisterPatience;
  bool registered = false;
  for (;;) {
    if (int rc = ring.SubmitAndWait(); rc < 0) {
      LogWarning(fmt::format("io_uring: io_uring_enter: {}", strerror(-rc)));
      return;
    }
    while (const io_uring_cqe* cqe = ring.PeekCqe()) {
      const uint64_t tag = cqe->user_data;
      const int res = cqe->res;
      ring.SeenCqe();
      if (tag == kStopTag) return;
      if (res == -EAGAIN && !registered && std::chrono::steady_clock::now() < deadline) {
        usleep(2000);  // INIT not processed yet
        PrepareCmd(ring.NextSqe(), fuse_fd, abi::kUringCmdRegister, qid, 0, entry.iov());
        continue;
      }
      if (res < 0) {
        // ENOTCONN: unmounted. Anything else before the first request: refused.
        if (res == -ENOTCONN) return;
        if (!registered) {
          if (!refused_logged_.exchange(true))
            LogWarning(fmt::format("io_uring: the kernel refused the ring ({}); serving "
                                   "through /dev/fuse (is /sys/module/fuse/parameters/"
                                   "enable_uring Y?)",
                                   strerror(-res)));
        } else {
          LogWarning(fmt::format("io_uring: queue {}: {}", qid, strerror(-res)));
        }
        return;
      }
      registered = true;
      fuse_buf buf;
      if (entry.Rebuild(&buf)) {
        SetThreadReplySink(&entry);
        fuse_session_process_buf(se_, &buf);
        SetThreadReplySink(nullptr);
        if (!entry.replied()) entry.FailWith(EIO);  // no handler here replies later
      } else {
        entry.FailWith(EIO);
      }
      requests_.fetch_add(1, std::memory_order_relaxed);
      PrepareCmd(ring.NextSqe(), fuse_fd, abi::kUringCmdCommitAndFetch, qid, entry.commit_id(),
                 nullptr);
    }
  }
}

}  // namespace snapcow::fusefs
