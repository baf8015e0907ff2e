#include <sys/statvfs.h>

#include <cerrno>

#include "fusefs/fs.h"
#include "fusefs/ops.h"

namespace snapcow::fusefs {

// df on the mountpoint shows the filesystem that holds the image directory: that is where
// COW stores grow.
void OpStatfs(fuse_req_t req, fuse_ino_t ino) noexcept {
  (void)ino;
  struct statvfs sv;
  if (fstatvfs(FsOf(req).imagedir_fd, &sv) != 0) return (void)fuse_reply_err(req, errno);
  fuse_reply_statfs(req, &sv);
}

}  // namespace snapcow::fusefs
