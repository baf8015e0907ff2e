#include "fusefs/control_handler.h"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>

#include "engine/control_protocol.h"
#include "fusefs/daemon_log.h"

namespace snapcow::fusefs {
namespace {

// How long a delete waits for releases the kernel sends after close(2) (they are async).
constexpr std::chrono::milliseconds kReleaseGrace{2000};

ControlServer::Result Error(std::string_view message) { return {EncodeError(message), {}}; }

// The kernel may cache the root listing and the entry of a snapshot; drop both. libfuse
// forbids notifications from inside a request handler, so this runs on the control thread
// after the reply has been sent.
void Invalidate(fuse_session* se, const std::string& name, fuse_ino_t ino) {
  if (!se) return;
  fuse_lowlevel_notify_inval_entry(se, kRootIno, name.c_str(), name.size());
  if (ino) fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
  fuse_lowlevel_notify_inval_inode(se, kRootIno, 0, 0);
}

ControlServer::Result Create(Fs& fs, const ControlRequest& req) {
  const std::string why = ValidateSnapshotConfig(req.config);
  if (!why.empty()) return Error(why);
  ControlReply reply;
  const Status st = fs.dir->CreateSnapshot(req.config, &reply.number);
  if (!st.ok()) return Error(st.ToString());
  reply.ok = true;
  LogInfo(fmt::format("created {} (chunk {}, {}{})", SnapshotName(reply.number),
                      req.config.chunk_bytes, req.config.persistent ? "persistent" : "transient",
                      req.config.read_only ? ", read-only" : ""));
  const uint32_t n = reply.number;
  fuse_session* se = fs.session;
  return {EncodeReply(RequestKind::kCreate, reply), [se, n] { Invalidate(se, ImageName(n), 0); }};
}

ControlServer::Result Delete(Fs& fs, const ControlRequest& req) {
  const uint32_t n = req.number;
  if (!fs.origin->Find(n)) return Error(fmt::format("{} does not exist", SnapshotName(n)));
  Status st = fs.ns.BeginDelete(n, kReleaseGrace);
  if (!st.ok()) return Error(st.ToString());
  st = fs.dir->DeleteSnapshot(n);
  fs.ns.EndDelete(n);
  if (!st.ok()) return Error(st.ToString());
  LogInfo(fmt::format("deleted {}", SnapshotName(n)));
  ControlReply reply;
  reply.ok = true;
  fuse_session* se = fs.session;
  return {EncodeReply(RequestKind::kDelete, reply),
          [se, n] { Invalidate(se, ImageName(n), SnapshotIno(n)); }};
}

}  // namespace

ControlServer::Result HandleControl(Fs& fs, const ucred& peer, std::string_view request) {
  if (peer.uid != 0 && peer.uid != fs.owner_uid) return Error("permission denied");
  ControlRequest req;
  std::string error;
  if (!DecodeRequest(request, &req, &error)) return Error(error);
  switch (req.kind) {
    case RequestKind::kCreate:
      return Create(fs, req);
    case RequestKind::kDelete:
      return Delete(fs, req);
    case RequestKind::kList:
    case RequestKind::kStatus:
      break;
  }
  ControlReply reply;
  reply.ok = true;
  reply.snapshots = fs.dir->List();
  return {EncodeReply(req.kind, reply), {}};
}

}  // namespace snapcow::fusefs
