// Snapshot create and delete in an image directory: each step is durable before the next, so
// a crash leaves the snapshot fully made or not there at all.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "engine/crash_point.h"
#include "engine/image_dir.h"
#include "engine/log.h"
#include "engine/snapshot.h"

namespace snapcow {
namespace {

std::string CowName(uint32_t n) { return SnapshotName(n) + ".cow"; }

Status SyncDir(int dir_fd, const std::string& dir) {
  if (::fsync(dir_fd) != 0) return Status::FromErrno(errno, "fsync " + dir);
  return Status::OK();
}

}  // namespace

// Reserves the next snapshot number durably: numbers are never reused, even after a crash.
Status ImageDir::NextNumber(uint32_t* number) {
  DirState state;
  Status s = ReadDirState(dir_fd_, dir_, &state);
  if (!s.ok()) return s;
  uint64_t next = state.next;
  for (const auto& snap : origin_->Snapshots())
    next = std::max<uint64_t>(next, uint64_t{snap->number()} + 1);
  for (uint32_t n : state.stale) next = std::max<uint64_t>(next, uint64_t{n} + 1);
  for (uint32_t n : left_out_) next = std::max<uint64_t>(next, uint64_t{n} + 1);
  if (next > UINT32_MAX) return Status::Error(EOVERFLOW, "snapshot numbers exhausted");
  state.next = next + 1;
  s = WriteDirState(dir_fd_, dir_, state);
  if (!s.ok()) return s;
  *number = static_cast<uint32_t>(next);
  return Status::OK();
}

Status ImageDir::CreateSnapshot(const SnapshotConfig& config, uint32_t* number) {
  std::string bad = ValidateSnapshotConfig(config);
  if (!bad.empty()) return Status::Error(EINVAL, bad);
  MutexLock admin(&admin_mu_);
  uint32_t n = 0;
  Status s = NextNumber(&n);
  if (!s.ok()) return s;
  const std::string name = CowName(n), tmp = name + ".tmp";
  std::unique_ptr<File> cow;
  // Named after its final name: the store lives on under it once renamed into place.
  if (config.persistent)
    s = OpenPosixFileAt(dir_fd_, tmp, dir_ + "/" + name, O_RDWR | O_CREAT | O_EXCL, 0600, &cow);
  else
    s = OpenPosixFileAt(dir_fd_, ".", dir_ + " (transient store)", O_RDWR | O_TMPFILE, 0600, &cow);
  if (!s.ok()) return s;
  std::shared_ptr<Snapshot> snap;
  s = Snapshot::Create(n, config, origin_->size(), static_cast<int64_t>(std::time(nullptr)),
                       std::move(cow), &snap);
  if (s.ok()) {
    CrashPoint("create-store-written");
    // The point in time: no origin write is in flight from here until the snapshot is added.
    Origin::Quiesce q(origin_.get());
    // Like LVM's suspend: what was acknowledged before the snapshot is durable with it.
    s = origin_->SyncOrigin();
    if (s.ok() && config.persistent) {
      if (::renameat(dir_fd_, tmp.c_str(), dir_fd_, name.c_str()) != 0) {
        s = Status::FromErrno(errno, "rename " + dir_ + "/" + name);
      } else {
        s = FaultPoint("create-dir-sync") ? Status::Error(EIO, "fsync " + dir_ + " (injected)")
                                          : SyncDir(dir_fd_, dir_);
        if (!s.ok()) UndoRenamedCreate(n, *snap);  // before the Quiesce ends
      }
      CrashPoint("create-renamed");
    }
    if (s.ok()) origin_->AddSnapshot(snap);
  }
  if (!s.ok()) {
    if (config.persistent) ::unlinkat(dir_fd_, tmp.c_str(), 0);
    return s;
  }
  *number = n;
  return Status::OK();
}

// The store is renamed into place but the directory flush failed: a power cut may keep the
// name, and the origin writes let through once the Quiesce ends preserve nothing for it, so it
// must never load valid again. The invalid header and the stale mark each see to that on
// their own; every step is best effort, since the file system just failed a flush.
void ImageDir::UndoRenamedCreate(uint32_t n, Snapshot& snap) {
  const std::string name = CowName(n);
  Status s = FaultPoint("create-undo-drop") ? Status::Error(EIO, name + ": header (injected)")
                                            : snap.store().Drop();
  if (!s.ok())
    Log(LogLevel::kWarning, fmt::format("undoing {}: cannot mark it invalid: {}", name,
                                        s.message()));
  CrashPoint("create-undo-dropped");
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0)
    Log(LogLevel::kWarning, fmt::format("undoing {}: cannot remove it: {}", name,
                                        std::strerror(errno)));
  // Its own directory flush also makes the unlink durable.
  s = MarkStale(dir_fd_, dir_, {n});
  if (!s.ok())
    Log(LogLevel::kWarning, fmt::format("undoing {}: cannot mark it stale: {}", name,
                                        s.message()));
}

Status ImageDir::DeleteSnapshot(uint32_t number) {
  MutexLock admin(&admin_mu_);
  // Declared before the Quiesce, so that it goes after it: freeing the store (closing the
  // last descriptor of an unlinked, maybe large, file) must not hold the origin.
  std::shared_ptr<Snapshot> gone;
  // Origin writes stay held until the store's file is gone for good. One let through earlier
  // preserves nothing for the snapshot: a kill or a power cut that left the file would bring
  // the snapshot back without that chunk's old data, and so would putting it back after a
  // failed unlink.
  Origin::Quiesce q(origin_.get());
  gone = origin_->RemoveSnapshot(number);
  if (!gone) return Status::Error(ENOENT, SnapshotName(number) + ": no such snapshot");
  if (!gone->config().persistent) return Status::OK();
  const std::string name = CowName(number);
  CrashPoint("delete-before-unlink");
  if (::unlinkat(dir_fd_, name.c_str(), 0) != 0) {
    Status s = Status::FromErrno(errno, "remove " + dir_ + "/" + name);
    origin_->AddSnapshot(gone);  // nothing changed: the origin was held all along
    return s;
  }
  CrashPoint("delete-after-unlink");
  // Should the directory flush fail and a power cut bring the name back, the file says
  // invalid (best effort: the file is gone either way).
  (void)gone->store().Drop();
  return SyncDir(dir_fd_, dir_);
}

}  // namespace snapcow
