#include <cerrno>
#include <cstring>

#include "fusefs/attr.h"
#include "fusefs/ops.h"
#include "fusefs/reply.h"

namespace snapcow::fusefs {

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept {
  Fs& fs = FsOf(req);
  Target t;
  if (parent != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
  if (!NameToTarget(name, &t)) return (void)fuse_reply_err(req, ENOENT);
  fuse_entry_param e{};
  const Status st = FillAttr(fs, t, &e.attr);
  if (!st.ok()) return ReplyError(req, st);
  e.ino = e.attr.st_ino;
  e.attr_timeout = kAttrTimeout;
  e.entry_timeout = kAttrTimeout;
  fuse_reply_entry(req, &e);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  (void)fi;
  Target t;
  if (!InoToTarget(ino, &t)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  const Status s = FillAttr(FsOf(req), t, &st);
  if (!s.ok()) return ReplyError(req, s);
  fuse_reply_attr(req, &st, kAttrTimeout);
}

// Images have a fixed size: a truncate to another size is refused with EPERM. Ownership and
// permissions are those of origin.img and cannot be changed through the mount (EPERM).
// Timestamps are accepted and ignored, so that touch(1) and cp -p do not fail.
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) noexcept {
  (void)fi;
  Fs& fs = FsOf(req);
  Target t;
  if (!InoToTarget(ino, &t)) return (void)fuse_reply_err(req, ENOENT);
  struct stat st;
  const Status s = FillAttr(fs, t, &st);
  if (!s.ok()) return ReplyError(req, s);
  if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
    return (void)fuse_reply_err(req, EPERM);
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size)
    return (void)fuse_reply_err(req, t.kind == Target::Kind::kRoot ? EISDIR : EPERM);
  fuse_reply_attr(req, &st, kAttrTimeout);
}

}  // namespace snapcow::fusefs
