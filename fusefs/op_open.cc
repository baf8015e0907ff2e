#include <fcntl.h>

#include <cerrno>
#include <new>

#include "fusefs/fs.h"
#include "fusefs/handle.h"
#include "fusefs/ops.h"
#include "fusefs/reply.h"
#include "fusefs/reply_hook.h"

namespace snapcow::fusefs {
namespace {

void ReleaseHandle(Fs& fs, Handle* h) {
  if (h->snap) fs.ns.Release(h->target.number);
  fs.passthrough.ReleaseOrigin(h->origin_mode);
  delete h;
}

}  // namespace

// Writable opens bypass the page cache (direct_io): every write reaches the engine, which is
// what a snapshot's point in time needs, and parallel direct writes are allowed where the
// kernel and libfuse let us say so. Read-only opens may use the page cache; it is dropped on
// every open (no keep_cache) because the origin changes underneath. Opens of origin.img may
// instead be passthrough opens, as Passthrough decides (passthrough.h).
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  Fs& fs = FsOf(req);
  Target t;
  if (!InoToTarget(ino, &t)) return (void)fuse_reply_err(req, ENOENT);
  if (t.kind == Target::Kind::kRoot) return (void)fuse_reply_err(req, EISDIR);
  const bool writable = (fi->flags & O_ACCMODE) != O_RDONLY;
  if (writable && fs.read_only) return (void)fuse_reply_err(req, EROFS);
  if (fi->flags & O_TRUNC) return (void)fuse_reply_err(req, EPERM);

  Handle* h = new (std::nothrow) Handle;
  if (!h) return (void)fuse_reply_err(req, ENOMEM);
  h->target = t;
  if (t.kind == Target::Kind::kSnapshot) {
    const Status st = fs.ns.Open(t.number, &h->snap);
    if (!st.ok()) {
      delete h;
      return ReplyError(req, st);
    }
    if (writable && h->snap->read_only()) {
      fs.ns.Release(t.number);
      delete h;
      return (void)fuse_reply_err(req, EROFS);
    }
  }
  int backing_id = 0;
  if (t.kind == Target::Kind::kOrigin) {
    const int err = fs.passthrough.AdmitOrigin(writable, fuse_session_fd(fs.session),
                                               fs.origin->file().fd(), &h->origin_mode,
                                               &backing_id);
    if (err != 0) {
      delete h;
      return (void)fuse_reply_err(req, err);
    }
    // Passthrough reads bypass Origin::Read, which would wait for the writes still queued.
    if (backing_id != 0) fs.origin->ApplyDeferred();
  }
  fi->fh = reinterpret_cast<uint64_t>(h);
  fi->keep_cache = 0;
  if (writable) fi->direct_io = 1;
  if (ReplyOpen(req, fi, writable, backing_id) != 0) {
    // The kernel did not get the reply (interrupted open): no release will follow.
    ReleaseHandle(fs, h);
  }
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  (void)ino;
  ReleaseHandle(FsOf(req), &HandleOf(fi));
  fuse_reply_err(req, 0);
}

// Nothing is buffered in the daemon: every write was handed to the OS before it was
// acknowledged, so close(2) has nothing to flush.
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept {
  (void)ino;
  (void)fi;
  fuse_reply_err(req, 0);
}

// fsync on origin.img makes the origin and every COW store durable (DESIGN §4).
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) noexcept {
  (void)ino;
  (void)datasync;
  Fs& fs = FsOf(req);
  Handle& h = HandleOf(fi);
  if (!h.snap) h.sync_habit.OnSync();
  const Status st = h.snap ? fs.origin->SyncSnapshot(*h.snap) : fs.origin->Sync();
  if (!st.ok()) return ReplyError(req, st);
  fuse_reply_err(req, 0);
}

}  // namespace snapcow::fusefs
