#include <cerrno>
#include <cstring>

#include "engine/control_protocol.h"
#include "fusefs/fs.h"
#include "fusefs/ops.h"

namespace snapcow::fusefs {
namespace {

// Answers an xattr read of `value` (size 0 asks for the length).
void ReplyValue(fuse_req_t req, const char* value, size_t len, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, len);
  if (size < len) return (void)fuse_reply_err(req, ERANGE);
  fuse_reply_buf(req, value, len);
}

}  // namespace

// The root directory carries the name of the control socket: that is how snapcowctl finds the
// daemon behind a mountpoint. No other attribute exists.
void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) noexcept {
  const Fs& fs = FsOf(req);
  if (ino != kRootIno || std::strcmp(name, kControlXattr) != 0)
    return (void)fuse_reply_err(req, ENODATA);
  ReplyValue(req, fs.control_name.data(), fs.control_name.size(), size);
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept {
  if (ino != kRootIno) return ReplyValue(req, "", 0, size);
  ReplyValue(req, kControlXattr, sizeof(kControlXattr), size);
}

}  // namespace snapcow::fusefs
