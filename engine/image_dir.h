// ImageDir: an image directory on disk (origin.img + snap-N.cow), held by one process at a
// time through a lock file, loaded into an Origin. Snapshot create/delete live here.
//
// Files in IMAGEDIR (documented in snapcowfs(8)):
//   origin.img            the origin
//   snap-N.cow            persistent COW store of snapshot N (FORMAT.md)
//   .snapcowfs.lock       flock()ed by the holder; holds "pid=.. mountpoint=.. control=.."
//   .snapcowfs.state      the next snapshot number, stale snapshots (dir_state.h)
//   .snapcowfs.journal    origin writes acknowledged before their copies committed
//                         (FORMAT.md §7); replayed by Open
// Transient snapshots use an unnamed O_TMPFILE in IMAGEDIR and vanish with the holder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/dir_state.h"
#include "engine/origin.h"
#include "engine/snapshot_config.h"
#include "engine/status.h"

namespace snapcow {

inline constexpr char kOriginFile[] = "origin.img";
inline constexpr char kLockFile[] = ".snapcowfs.lock";

// Who holds an image directory, as recorded in its lock file.
struct Holder {
  long pid = 0;
  std::string mountpoint;  // "" for snapcowctl working offline
  std::string control;     // control socket name ("" when none)
};

class ImageDir {
 public:
  struct Options {
    uint32_t cow_threshold = kDefaultCowThreshold;
    // Acknowledge first writes once journalled (FORMAT.md §7). A journal left by an earlier
    // holder is replayed either way.
    bool write_journal = true;
    // This holder writes the origin (a daemon; not offline snapcowctl). A snapshot that
    // cannot be loaded then misses copies: it is marked stale (dir_state.h) before anything
    // is written, and the open fails if that cannot be recorded. A journal left to replay
    // writes the origin too, and marks them whatever this says.
    bool origin_writes = true;
  };

  // Takes the directory lock (a held lock gives EBUSY naming the holder), opens origin.img and
  // loads every snap-N.cow, then replays the write journal. A COW file that cannot be loaded
  // is left out and named in load_errors(); the rest is served. A snapshot marked stale
  // loads Invalid.
  static Status Open(const std::string& dir, const Options& opts, std::unique_ptr<ImageDir>* out);
  // Who holds `dir` now; ENOENT when nobody does.
  static Status ReadHolder(const std::string& dir, Holder* out);

  ~ImageDir();  // same as Close(), errors logged only
  Status Close();

  const std::string& path() const { return dir_; }
  const std::vector<std::string>& load_errors() const { return load_errors_; }
  Origin& origin() { return *origin_; }

  // Records the mountpoint and control socket in the lock file, for ReadHolder().
  Status SetHolder(const std::string& mountpoint, const std::string& control);

  // Quiesces origin writes, writes the new store durably, adds it. Never leaves a half-made
  // snapshot: on error nothing is added and no file is left.
  Status CreateSnapshot(const SnapshotConfig& config, uint32_t* number);
  // Removes the snapshot and its COW file (ENOENT if there is none).
  Status DeleteSnapshot(uint32_t number);
  std::vector<SnapshotInfo> List() const;

 private:
  ImageDir() = default;
  Status Load(const Options& opts);
  Status OpenJournal(const Options& opts);
  // Records the snapshots left out by Load() as stale, before the origin is first written.
  Status MarkLeftOutStale();
  Status NextNumber(uint32_t* number);
  void UndoRenamedCreate(uint32_t n, Snapshot& snap);

  std::string dir_;
  int dir_fd_ = -1;
  int lock_fd_ = -1;
  bool locked_ = false;  // we hold the flock (and so own the lock file's contents)
  std::unique_ptr<Origin> origin_;
  std::vector<std::string> load_errors_;
  std::vector<uint32_t> left_out_;  // snapshots Load() could not load
  bool left_out_marked_ = false;    // ... and they are recorded stale
  Mutex admin_mu_;  // serialises create/delete
};

}  // namespace snapcow
