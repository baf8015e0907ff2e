#include <fcntl.h>

#include <cerrno>

#include "fusefs/fs.h"
#include "fusefs/handle.h"
#include "fusefs/ops.h"
#include "fusefs/reply.h"

namespace snapcow::fusefs {

// Images cannot grow: a write that crosses the end is cut short there (the caller sees a
// short write) and one that starts at or past the end fails with ENOSPC, like a block device.
void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) noexcept {
  (void)ino;
  Fs& fs = FsOf(req);
  Handle& h = HandleOf(fi);
  if (fs.read_only) return (void)fuse_reply_err(req, EROFS);
  if (off < 0) return (void)fuse_reply_err(req, EINVAL);
  if (size == 0) return (void)fuse_reply_write(req, 0);
  const uint64_t image = ImageSize(*fs.origin, h);
  const uint64_t pos = static_cast<uint64_t>(off);
  if (pos >= image) return (void)fuse_reply_err(req, ENOSPC);
  const size_t len = static_cast<size_t>(std::min<uint64_t>(size, image - pos));
  const Status st = h.snap ? fs.origin->WriteSnapshot(*h.snap, pos, len, buf)
                           : fs.origin->Write(pos, len, buf, h.sync_habit.OnWrite(fi->flags));
  if (!st.ok()) return ReplyError(req, st);
  // On direct_io files the kernel leaves O_DSYNC (and O_SYNC, RWF_DSYNC) to the server: it
  // sends the flag with the write and no fsync after it. So the write is made durable here,
  // as an fsync would (which also kills journal records a power cut could replay over it).
  if (fi->flags & O_DSYNC) {
    const Status synced = h.snap ? fs.origin->SyncSnapshot(*h.snap) : fs.origin->Sync();
    if (!synced.ok()) return ReplyError(req, synced);
  }
  fuse_reply_write(req, len);
}

}  // namespace snapcow::fusefs
