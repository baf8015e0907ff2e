// Origin: one origin image and the set of its snapshots; the whole I/O path of the engine.
//
// Every call here is synchronous and thread-safe; the daemon calls them from many FUSE
// threads at once. Ranges must lie inside the image (the caller clamps to size()).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/file.h"
#include "engine/mutex.h"
#include "engine/snapshot_config.h"
#include "engine/status.h"
#include "engine/task_pool.h"
#include "engine/throttle.h"

namespace snapcow {

class Snapshot;
class DeferredWrites;
class WriteJournal;
struct CopyJob;
class CopyBuffer;

class Origin {
 public:
  Origin(std::unique_ptr<File> file, uint64_t size, uint32_t cow_threshold);
  ~Origin();
  Origin(const Origin&) = delete;
  Origin& operator=(const Origin&) = delete;

  uint64_t size() const { return size_; }
  File& file() { return *file_; }

  // Lets first writes be acknowledged once journalled, before their copies commit
  // (FORMAT.md §7). `journal` is replayed and reset. Call before any I/O.
  void EnableDeferral(std::unique_ptr<WriteJournal> journal);
  // Waits until every acknowledged write is in origin.img (for readers that bypass Read()).
  void ApplyDeferred();

  Status Read(uint64_t off, size_t len, void* buf);
  // What the writer expects next. kSyncFollows (an O_DSYNC write, or a writer that fsyncs
  // after every write) keeps the write out of the journal: the fsync right after it would
  // drain the journal at once and pay one more flush for it (FORMAT.md §7).
  enum class WriteHint { kNone, kSyncFollows };
  // Preserves the old data in every valid snapshot, then writes.
  Status Write(uint64_t off, size_t len, const void* buf, WriteHint hint = WriteHint::kNone)
      EXCLUDES(write_gate_);
  // Preserves, then deallocates (reads back zeros).
  Status Discard(uint64_t off, uint64_t len) EXCLUDES(write_gate_);
  // Gives every snapshot its durable copy of [off, off+len), as a write there would, and
  // writes nothing: a journal replay runs it for all records from many threads, so that one
  // group commit covers many copies, before it writes them in order.
  Status CopyBeforeWrite(uint64_t off, uint64_t len) EXCLUDES(write_gate_);
  // Makes the origin and every snapshot store durable.
  Status Sync();
  // No acknowledged write is still to be copied or applied (so no engine thread has work
  // queued). A hint, unlocked, for a caller that would spend idle CPU (the daemon's workers
  // look for their next request only while it holds).
  bool BackgroundIdle() const;
  // Makes what was written to the origin durable (snapshot create). Needs a Quiesce held.
  Status SyncOrigin() REQUIRES(write_gate_);

  Status ReadSnapshot(Snapshot& s, uint64_t off, size_t len, void* buf);
  Status WriteSnapshot(Snapshot& s, uint64_t off, size_t len, const void* buf);
  // Writes zeros over the range in the snapshot (the COW cannot shrink, as in dm).
  Status DiscardSnapshot(Snapshot& s, uint64_t off, uint64_t len);
  Status SyncSnapshot(Snapshot& s);

  std::shared_ptr<Snapshot> Find(uint32_t number) const EXCLUDES(set_mu_);
  std::vector<std::shared_ptr<Snapshot>> Snapshots() const EXCLUDES(set_mu_);

  // Point in time: holds new origin writes back and waits for those in flight; while the
  // returned guard lives, the origin does not change.
  class SCOPED_CAPABILITY Quiesce {
   public:
    explicit Quiesce(Origin* o) ACQUIRE(o->write_gate_) : o_(o) {
      o_->write_gate_.Lock();
      o_->ApplyDeferred();  // acknowledged writes are part of the origin at this point
    }
    ~Quiesce() RELEASE() { o_->write_gate_.Unlock(); }
    Quiesce(const Quiesce&) = delete;
    Quiesce& operator=(const Quiesce&) = delete;

   private:
    Origin* const o_;
  };
  // Both need a Quiesce held.
  void AddSnapshot(std::shared_ptr<Snapshot> s) REQUIRES(write_gate_) EXCLUDES(set_mu_);
  std::shared_ptr<Snapshot> RemoveSnapshot(uint32_t number) REQUIRES(write_gate_)
      EXCLUDES(set_mu_);

  Throttle& throttle() { return throttle_; }

 private:
  using SnapshotList = std::vector<std::shared_ptr<Snapshot>>;
  std::shared_ptr<const SnapshotList> List() const EXCLUDES(set_mu_);
  // Preserves the old data of [off, off+len) in every snapshot. With `data` (a write of those
  // bytes) it may instead hand the write to deferred_ and set *deferred: the caller must then
  // not write.
  Status Preserve(uint64_t off, uint64_t len, const void* data, bool* deferred)
      REQUIRES_SHARED(write_gate_);
  bool NeedsCopy(const SnapshotList& list, uint64_t off, uint64_t len);
  // Who runs a batch of copies: a writer that waits for them (runs the last store's
  // committer itself; an origin read error fails its write and changes nothing), or the
  // deferred writes' copier, for writes already acknowledged (an origin read error
  // invalidates the snapshot, and the write goes on, as in dm-snapshot).
  enum class CopyFor { kWriter, kAcknowledged };
  // Each of `jobs` was counted in throttle_ by Preserve; RunCopies ends the count once the
  // copies' data is written, before their commits.
  Status RunCopies(std::vector<CopyJob>& jobs, CopyFor who, CopyBuffer* buffer);
  Status SyncFiles();

  // Constant after construction.
  const std::unique_ptr<File> file_;
  const uint64_t size_;

  // Origin writes hold it shared for their whole duration; snapshot create/delete hold it
  // exclusive (the point in time). It is first in the lock order.
  SharedMutex write_gate_ ACQUIRED_BEFORE(set_mu_);

  // The snapshot set: copy-and-swap. The I/O path copies the pointer and drops the lock.
  mutable Mutex set_mu_;
  std::shared_ptr<const SnapshotList> set_ GUARDED_BY(set_mu_);

  Throttle throttle_;
  // Commits of different stores run here side by side (RunCopies): each waits on its own
  // fdatasyncs, so one wave for up to 32 snapshots. With 16 snapshots, 32 threads against 8
  // took single-writer first writes from 160 to 270 IOPS (bench, 2026-11-23).
  TaskPool commit_pool_{kCommitThreads};
  static constexpr unsigned kCommitThreads = 32;

  // Set by EnableDeferral before any I/O, constant after; last, so that its applier stops
  // (applying what is queued) before anything it uses goes.
  std::unique_ptr<DeferredWrites> deferred_;
};

}  // namespace snapcow
