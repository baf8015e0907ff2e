#include <cerrno>

#include "fusefs/ops.h"

namespace snapcow::fusefs {

// The namespace is fixed: files appear and disappear only through snapcowctl (snapshot create
// and delete). Everything that would change it is refused with EPERM, which says so more
// plainly than the ENOSYS libfuse would send for a missing handler.
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  (void)parent;
  (void)name;
  fuse_reply_err(req, EPERM);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) noexcept {
  (void)parent;
  (void)name;
  (void)mode;
  fuse_reply_err(req, EPERM);
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
             dev_t rdev) noexcept {
  (void)parent;
  (void)name;
  (void)mode;
  (void)rdev;
  fuse_reply_err(req, EPERM);
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) noexcept {
  (void)parent;
  (void)name;
  (void)mode;
  (void)fi;
  fuse_reply_err(req, EPERM);
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) noexcept {
  (void)parent;
  (void)name;
  (void)newparent;
  (void)newname;
  (void)flags;
  fuse_reply_err(req, EPERM);
}

void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) noexcept {
  (void)link;
  (void)parent;
  (void)name;
  fuse_reply_err(req, EPERM);
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) noexcept {
  (void)ino;
  (void)newparent;
  (void)newname;
  fuse_reply_err(req, EPERM);
}

}  // namespace snapcow::fusefs
