#include <fcntl.h>
#include <linux/falloc.h>

#include <cerrno>

#include "fusefs/fs.h"
#include "fusefs/handle.h"
#include "fusefs/ops.h"
#include "fusefs/reply.h"

namespace snapcow::fusefs {

// Punch hole and zero range become a discard (on the origin it preserves the old data in
// every snapshot first, as any origin write does; on a snapshot it writes zeros into the
// COW). Plain allocation inside the image succeeds (the image already has that size); any
// attempt to grow it fails with ENOSPC; every other mode is EOPNOTSUPP.
void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) noexcept {
  (void)ino;
  Fs& fs = FsOf(req);
  Handle& h = HandleOf(fi);
  if (offset < 0 || length <= 0) return (void)fuse_reply_err(req, EINVAL);
  if (fs.read_only) return (void)fuse_reply_err(req, EROFS);
  const uint64_t image = ImageSize(*fs.origin, h);
  const uint64_t pos = static_cast<uint64_t>(offset);
  const uint64_t len = static_cast<uint64_t>(length);
  const bool past_end = pos >= image || len > image - pos;

  if (mode == 0) return (void)fuse_reply_err(req, past_end ? ENOSPC : 0);
  if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) && mode != FALLOC_FL_ZERO_RANGE &&
      mode != (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE))
    return (void)fuse_reply_err(req, EOPNOTSUPP);
  if (pos >= image) return (void)fuse_reply_err(req, 0);
  const uint64_t n = past_end ? image - pos : len;
  const Status st =
      h.snap ? fs.origin->DiscardSnapshot(*h.snap, pos, n) : fs.origin->Discard(pos, n);
  if (!st.ok()) return ReplyError(req, st);
  fuse_reply_err(req, 0);
}

}  // namespace snapcow::fusefs
