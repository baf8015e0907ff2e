#include "utils/ctl_offline.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "engine/image_dir.h"
#include "engine/log.h"

namespace snapcow::ctl {

Status RunOffline(const std::string& dir, const ControlRequest& req, ControlReply* reply) {
  if (req.kind == RequestKind::kCreate) {
    if (!req.config.persistent)
      return Status::Error(EINVAL,
                           "--transient needs a running snapcowfs: offline, a transient "
                           "snapshot would vanish as soon as snapcowctl exits");
    const std::string why = ValidateSnapshotConfig(req.config);
    if (!why.empty()) return Status::Error(EINVAL, why);
  }
  // Engine messages (a COW file that does not load, ...) are warnings here.
  SetLogSink([](LogLevel, const std::string& line) {
    std::fprintf(stderr, "snapcowctl: warning: %s\n", line.c_str());
  });
  std::unique_ptr<ImageDir> d;
  // Offline commands write nothing to the origin: no journal of their own, but one left by a
  // killed daemon is replayed first (a snapshot must include what it acknowledged).
  ImageDir::Options opts;
  opts.write_journal = false;
  opts.origin_writes = false;
  Status st = ImageDir::Open(dir, opts, &d);
  if (!st.ok()) return st;
  for (const std::string& e : d->load_errors())
    std::fprintf(stderr, "snapcowctl: warning: %s\n", e.c_str());

  ControlReply r;
  r.ok = true;
  switch (req.kind) {
    case RequestKind::kCreate:
      st = d->CreateSnapshot(req.config, &r.number);
      break;
    case RequestKind::kDelete:
      if (!d->origin().Find(req.number))
        st = Status::Error(ENOENT, fmt::format("{} does not exist", SnapshotName(req.number)));
      else
        st = d->DeleteSnapshot(req.number);
      break;
    case RequestKind::kList:
    case RequestKind::kStatus:
      r.snapshots = d->List();
      break;
  }
  const Status closed = d->Close();
  if (!st.ok()) return st;
  if (!closed.ok()) return closed;
  *reply = std::move(r);
  return Status::OK();
}

}  // namespace snapcow::ctl
