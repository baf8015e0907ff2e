#include "fusefs/attr.h"

#include <algorithm>
#include <cerrno>

namespace snapcow::fusefs {
namespace {

constexpr uint64_t kSector = 512;

// The origin's on-disk usage, and its owner and times.
void OriginStat(Fs& fs, struct stat* st) {
  const int fd = fs.origin->file().fd();
  if (fd < 0 || fstat(fd, st) != 0) {
    *st = {};
    st->st_blocks = static_cast<blkcnt_t>((fs.origin->size() + kSector - 1) / kSector);
  }
}

mode_t FileMode(Fs& fs, bool read_only) {
  return S_IFREG | (fs.read_only || read_only ? 0444 : 0644);
}

}  // namespace

Status FillAttr(Fs& fs, const Target& t, struct stat* st) {
  struct stat origin;
  switch (t.kind) {
    case Target::Kind::kRoot:
      if (fstat(fs.imagedir_fd, st) != 0) return Status::FromErrno(errno, "stat image dir");
      st->st_ino = kRootIno;
      st->st_mode = S_IFDIR | 0755;
      st->st_nlink = 2;
      return Status::OK();
    case Target::Kind::kOrigin:
      OriginStat(fs, &origin);
      *st = origin;
      st->st_ino = kOriginIno;
      st->st_mode = FileMode(fs, false);
      st->st_nlink = 1;
      st->st_size = static_cast<off_t>(fs.origin->size());
      return Status::OK();
    case Target::Kind::kSnapshot:
      break;
  }
  const std::shared_ptr<Snapshot> s = fs.ns.Find(t.number);
  if (!s) return Status::Error(ENOENT, "no such snapshot");
  OriginStat(fs, &origin);
  const SnapshotInfo info = s->Info();
  *st = origin;
  st->st_ino = SnapshotIno(t.number);
  st->st_mode = FileMode(fs, s->read_only());
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(s->size());
  // A snapshot occupies what it shares with the origin plus its COW: an estimate, capped.
  const uint64_t cap = (s->size() + kSector - 1) / kSector;
  st->st_blocks = static_cast<blkcnt_t>(
      std::min<uint64_t>(cap, static_cast<uint64_t>(origin.st_blocks) + info.sectors_allocated));
  st->st_atim = st->st_mtim = st->st_ctim = {info.created_unix, 0};
  return Status::OK();
}

}  // namespace snapcow::fusefs
