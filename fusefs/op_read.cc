#include <cerrno>
#include <vector>

#include "fusefs/fs.h"
#include "fusefs/handle.h"
#include "fusefs/ops.h"
#include "fusefs/reply.h"

namespace snapcow::fusefs {

// pread into a per-thread buffer and reply with a copy: for the 4 KiB requests that matter,
// libfuse 3.14 would not splice anyway (PERFORMANCE.md).
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept {
  (void)ino;
  Fs& fs = FsOf(req);
  Handle& h = HandleOf(fi);
  const uint64_t image = ImageSize(*fs.origin, h);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  const uint64_t pos = static_cast<uint64_t>(off);
  if (pos >= image || size == 0) return (void)fuse_reply_buf(req, nullptr, 0);
  const size_t len = static_cast<size_t>(std::min<uint64_t>(size, image - pos));

  thread_local std::vector<char> buf;
  if (buf.size() < len) {
    try {
      buf.resize(len);
    } catch (...) {
      return (void)fuse_reply_err(req, ENOMEM);
    }
  }
  const Status st = h.snap ? fs.origin->ReadSnapshot(*h.snap, pos, len, buf.data())
                           : fs.origin->Read(pos, len, buf.data());
  if (!st.ok()) return ReplyError(req, st);
  fuse_reply_buf(req, buf.data(), len);
}

}  // namespace snapcow::fusefs
