#include "engine/image_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/journal_replay.h"
#include "engine/log.h"
#include "engine/snapshot.h"
#include "engine/write_journal.h"

namespace snapcow {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
    if (out.size() > 65536) break;
  }
  return out;
}

std::string Field(const std::string& text, const std::string& key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    if (text.compare(pos, key.size() + 1, key + "=") == 0)
      return text.substr(pos + key.size() + 1, eol - pos - key.size() - 1);
    pos = eol + 1;
  }
  return "";
}

Holder ParseHolder(const std::string& text) {
  Holder h;
  h.pid = std::strtol(Field(text, "pid").c_str(), nullptr, 10);
  h.mountpoint = Field(text, "mountpoint");
  h.control = Field(text, "control");
  return h;
}

std::string DescribeHolder(const Holder& h) {
  std::string who = h.pid > 0 ? fmt::format("pid {}", h.pid) : std::string("another process");
  if (!h.mountpoint.empty()) return fmt::format("snapcowfs {}, mounted at {}", who, h.mountpoint);
  return who;
}

}  // namespace

Status ImageDir::ReadHolder(const std::string& dir, Holder* out) {
  int fd = ::open((dir + "/" + kLockFile).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(errno, dir);
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {  // nobody holds it
    ::close(fd);
    return Status::Error(ENOENT, dir + ": not in use");
  }
  *out = ParseHolder(ReadAll(fd));
  ::close(fd);
  return Status::OK();
}

Status ImageDir::Open(const std::string& dir, const Options& opts, std::unique_ptr<ImageDir>* out) {
  std::unique_ptr<ImageDir> d(new ImageDir());
  d->dir_ = dir;
  d->dir_fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d->dir_fd_ < 0) {
    if (errno == ENOTDIR) return Status::Error(ENOTDIR, dir + ": not a directory");
    return Status::FromErrno(errno, dir);
  }
  d->lock_fd_ = ::openat(d->dir_fd_, kLockFile, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (d->lock_fd_ < 0) return Status::FromErrno(errno, dir + "/" + kLockFile);
  if (::flock(d->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Status::FromErrno(errno, "lock " + dir);
    Holder h = ParseHolder(ReadAll(d->lock_fd_));
    return Status::Error(EBUSY, fmt::format("{}: in use by {}", dir, DescribeHolder(h)));
  }
  d->locked_ = true;
  Status s = d->SetHolder("", "");
  if (!s.ok()) return s;
  s = d->Load(opts);
  if (s.ok() && opts.origin_writes) s = d->MarkLeftOutStale();
  if (s.ok()) s = d->OpenJournal(opts);
  if (!s.ok()) return s;
  *out = std::move(d);
  return Status::OK();
}

Status ImageDir::SetHolder(const std::string& mountpoint, const std::string& control) {
  std::string text =
      fmt::format("pid={}\nmountpoint={}\ncontrol={}\n", ::getpid(), mountpoint, control);
  if (::ftruncate(lock_fd_, 0) != 0 ||
      ::pwrite(lock_fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    return Status::FromErrno(errno, dir_ + "/" + kLockFile);
  return Status::OK();
}

Status ImageDir::Load(const Options& opts) {
  std::unique_ptr<File> origin;
  Status s = OpenPosixFileAt(dir_fd_, kOriginFile, dir_ + "/" + kOriginFile, O_RDWR, 0, &origin);
  if (!s.ok()) {
    if (s.err() == ENOENT) return Status::Error(ENOENT, dir_ + ": no origin.img in it");
    return s;
  }
  uint64_t size = 0;
  s = origin->Size(&size);
  if (!s.ok()) return s;
  if (size == 0) return Status::Error(EINVAL, dir_ + "/" + kOriginFile + ": is empty");
  origin_ = std::make_unique<Origin>(std::move(origin), size, opts.cow_threshold);

  int fd = ::dup(dir_fd_);
  DIR* dh = fd >= 0 ? ::fdopendir(fd) : nullptr;
  if (!dh) return Status::FromErrno(errno, dir_);
  std::vector<std::pair<uint32_t, std::string>> cows;
  while (struct dirent* e = ::readdir(dh)) {
    std::string name = e->d_name;
    const std::string suffix = ".cow";
    if (name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      uint32_t n;
      if (ParseSnapshotName(name.substr(0, name.size() - suffix.size()), &n))
        cows.emplace_back(n, name);
    } else if (name.size() > 8 && name.compare(name.size() - 8, 8, ".cow.tmp") == 0) {
      ::unlinkat(dir_fd_, name.c_str(), 0);  // a create that never finished
    }
  }
  ::closedir(dh);
  std::sort(cows.begin(), cows.end());
  DirState state;
  s = ReadDirState(dir_fd_, dir_, &state);
  if (!s.ok()) return s;
  Origin::Quiesce q(origin_.get());
  for (const auto& [n, name] : cows) {
    std::unique_ptr<File> f;
    std::shared_ptr<Snapshot> snap;
    s = OpenPosixFileAt(dir_fd_, name, dir_ + "/" + name, O_RDWR, 0, &f);
    if (s.ok()) s = Snapshot::Load(n, std::move(f), size, &snap);
    if (!s.ok()) {
      load_errors_.push_back(s.message() + " (snapshot left out)");
      left_out_.push_back(n);
      continue;
    }
    if (state.stale.count(n) && snap->valid())
      snap->Invalidate(Status::Error(ESTALE, name + ": the origin was written while it could "
                                                    "not be loaded (marked stale)"));
    if (!snap->valid()) Log(LogLevel::kWarning, fmt::format("{} is invalid", name));
    origin_->AddSnapshot(std::move(snap));
  }
  return Status::OK();
}

// Before this holder's first origin write: a snapshot it could not load would miss that
// write's copy, and a later holder that can load it would serve it valid with wrong data.
Status ImageDir::MarkLeftOutStale() {
  if (left_out_.empty() || left_out_marked_) return Status::OK();
  Status s = MarkStale(dir_fd_, dir_, {left_out_.begin(), left_out_.end()});
  if (!s.ok())
    return Status::Error(s.err(), fmt::format("cannot mark {} stale, so the origin cannot be "
                                              "written without it: {}",
                                              SnapshotName(left_out_.front()), s.message()));
  left_out_marked_ = true;
  for (uint32_t n : left_out_)
    Log(LogLevel::kWarning, fmt::format("{} marked stale: it will load invalid from now on",
                                        SnapshotName(n)));
  return Status::OK();
}

// Replays what an earlier holder acknowledged but had not yet written to origin.img, through
// the ordinary write path (each snapshot gets its copy first), then starts a new generation.
Status ImageDir::OpenJournal(const Options& opts) {
  const std::string display = dir_ + "/" + kJournalFile;
  int flags = O_RDWR;
  if (opts.write_journal) flags |= O_CREAT;
  std::unique_ptr<File> f;
  Status s = OpenPosixFileAt(dir_fd_, kJournalFile, display, flags, 0600, &f);
  if (!s.ok()) return s.err() == ENOENT && !opts.write_journal ? Status::OK() : s;
  std::unique_ptr<WriteJournal> j;
  s = WriteJournal::Open(std::move(f), WriteJournal::kDefaultCapacity, &j);
  if (s.ok() && !left_out_.empty() && !left_out_marked_) {
    // The replay writes the origin: does it have a record to write? (stops at the first)
    bool pending = false;
    uint64_t unused = 0;
    Status probe = j->Replay(
        [&pending](uint64_t, size_t, const void*) {
          pending = true;
          return Status::Error(ECANCELED, "probe");
        },
        &unused);
    s = pending ? MarkLeftOutStale() : probe;
  }
  uint64_t replayed = 0;
  if (s.ok()) s = ReplayJournal(*j, *origin_, &replayed);
  if (s.ok() && replayed > 0) {
    s = origin_->Sync();
    Log(LogLevel::kInfo, fmt::format("{}: replayed {} acknowledged origin write(s)", display,
                                     replayed));
  }
  if (s.ok()) s = j->Reset(true);
  if (!s.ok()) return Status::Error(s.err(), "replaying " + display + ": " + s.message());
  if (opts.write_journal) origin_->EnableDeferral(std::move(j));
  return Status::OK();
}

std::vector<SnapshotInfo> ImageDir::List() const {
  std::vector<SnapshotInfo> out;
  for (const auto& s : origin_->Snapshots()) out.push_back(s->Info());
  return out;
}

Status ImageDir::Close() {
  Status result;
  if (origin_) {
    result = origin_->Sync();
    origin_.reset();
  }
  if (lock_fd_ >= 0) {
    // Only the holder may clear the record; a refused opener must leave it for the holder.
    if (locked_ && ::ftruncate(lock_fd_, 0) != 0)
      result = Status::FromErrno(errno, "truncate lock file");
    ::close(lock_fd_);  // releases the flock
    lock_fd_ = -1;
  }
  if (dir_fd_ >= 0) {
    ::close(dir_fd_);
    dir_fd_ = -1;
  }
  return result;
}

ImageDir::~ImageDir() {
  Status s = Close();
  if (!s.ok()) Log(LogLevel::kError, s.message());
}

}  // namespace snapcow
