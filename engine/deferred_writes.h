// DeferredWrites: origin writes acknowledged before the copies that protect them are made
// and committed (FORMAT.md §7). Each is in the journal before it is acknowledged; a copier
// thread then copies the chunks the writer left to it, in order, many writes at a time; one
// applier thread writes them to origin.img in order, each once its copies are durable and no
// tracked snapshot read of its chunks is still reading the origin (DESIGN §4: the origin
// chunk is never overwritten early). Origin I/O that overlaps a queued write waits until it
// is applied, so readers see their writes and overlapping writes keep their order.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "engine/copy_job.h"
#include "engine/file.h"
#include "engine/mutex.h"
#include "engine/pending_exception.h"
#include "engine/snapshot.h"
#include "engine/status.h"
#include "engine/write_journal.h"

namespace snapcow {

struct DeferredWrite {
  uint64_t off = 0;
  uint64_t len = 0;
  // The bytes to write. The writer's buffer until Defer takes the write; from then on the
  // record's copy in the journal's mapping (records are overwritten only by a Reset, and the
  // journal is reset only with the queue empty), or `owned` where the journal is not mapped.
  // So a deferred write costs one copy of its data, into the journal, not two: the second
  // was a heap buffer per write, whose malloc, cross-thread free and fresh heap pages were a
  // tenth of the FUSE threads' time at libaio QD16 (2026-12-07).
  const uint8_t* data = nullptr;
  std::vector<uint8_t> owned;
  // What must be done before origin.img may change: these copies committed (or failed on
  // their store, which invalidated the snapshot) ...
  std::vector<std::shared_ptr<PendingException>> copies;
  // ... and no tracked read of these chunks in flight.
  std::vector<std::pair<std::shared_ptr<Snapshot>, chunk_t>> chunks;
  // The copies the writer created and left to the copier (their pending exceptions are in
  // `copies`). An origin read error on one of them invalidates its snapshot: the write is
  // acknowledged and goes on (as dm-snapshot does for every copy).
  std::vector<CopyJob> jobs;
  uint64_t journal_pos = 0;
  uint64_t seq = 0;  // its place in the queue (Defer sets it)
};

class DeferredWrites {
 public:
  // Queued data beyond this makes Defer refuse (the writer then waits for its copies).
  static constexpr size_t kMaxQueuedBytes = 64u << 20;

  // Copies and commits a batch of jobs of acknowledged writes (Origin::RunCopies); an origin
  // read error fails the job's snapshot.
  using CopyFn = std::function<void(std::vector<CopyJob>& jobs)>;
  // Writes it takes at a time: one group commit per store covers them, and the commits of
  // one batch run while the next is copied.
  static constexpr size_t kCopyBatch = 64;

  // `journal` has been replayed and reset.
  DeferredWrites(File* origin, std::unique_ptr<WriteJournal> journal, CopyFn copy);
  ~DeferredWrites();  // copies and applies everything queued, then stops
  DeferredWrites(const DeferredWrites&) = delete;
  DeferredWrites& operator=(const DeferredWrites&) = delete;

  // Journals `w` and queues it, its jobs for the copier: true means the write may be
  // acknowledged now. False (journal full or failing, too much queued, a sync draining)
  // leaves `w` to the caller, its jobs not run.
  bool Defer(DeferredWrite& w) EXCLUDES(mu_);
  // No write is queued: the copier and the applier have nothing to do. A hint, unlocked.
  bool Idle() const { return queued_count_.load(std::memory_order_relaxed) == 0; }
  // Waits until no queued write overlaps [off, off+len).
  void WaitOverlapping(uint64_t off, uint64_t len) EXCLUDES(mu_);
  // Waits until the queue is empty (new writes may still come).
  void WaitEmpty() EXCLUDES(mu_);
  // fsync: stops deferring, waits for the queue to drain, runs `sync_files` (origin and
  // stores), then starts a new journal generation durably. With `report`, returns (once)
  // the first error of writing an acknowledged write into origin.img since the last such
  // call, as the kernel reports writeback errors at fsync; else that of `sync_files` or of
  // the journal.
  Status Sync(const std::function<Status()>& sync_files, bool report) EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  void CopyLoop() EXCLUDES(mu_);
  // The last queued write overlapping [off, off+len) by queue order (0: none), and whether
  // one of those overlapping is a failed write (already out of the queue).
  uint64_t LastOverlapLocked(uint64_t off, uint64_t len, bool* failed) const REQUIRES(mu_);
  // Drops one queued (or failed) range and publishes the new count.
  void EraseLocked(uint64_t off, uint64_t seq) REQUIRES(mu_);
  // Kills the failed writes' records with a durable Reset and frees their ranges; when the
  // Reset fails, frees them only with `give_up` (a writer must not wait for ever; a replay
  // may then write such a record again) and keeps deferral off.
  void KillFailedLocked(bool give_up) REQUIRES(mu_);
  // After a durable Reset: the failed writes' records are dead, their ranges free again.
  void ForgetFailedLocked() REQUIRES(mu_);

  File* const origin_;
  File* const journal_file_;  // journal_'s file, synced by Sync beside the origin
  const CopyFn copy_;

  mutable Mutex mu_;
  CondVar work_;       // the applier: something queued, or stopping
  CondVar copy_work_;  // the copier: jobs queued, or stopping
  // Waiters for the queue to empty, and I/O held on a failed write's range: the queue emptied,
  // or failed writes came or went.
  CondVar applied_;
  std::unique_ptr<WriteJournal> journal_ PT_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<DeferredWrite>> queue_ GUARDED_BY(mu_);
  // Queued writes whose jobs the copier has not taken yet, in queue order.
  std::deque<std::shared_ptr<DeferredWrite>> uncopied_ GUARDED_BY(mu_);
  // Queued writes by start offset (several may start at one offset), for overlap tests;
  // also the failed ones (failed_) until their records are dead.
  struct Range {
    uint64_t len;
    uint64_t seq;  // at most applied_seq_: a failed write's
  };
  std::multimap<uint64_t, Range> by_offset_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 1;
  uint64_t applied_seq_ GUARDED_BY(mu_) = 0;  // the last write out of the queue (in order)
  // I/O held behind queued writes, by the seq it waits for: each is woken when that write is
  // out of the queue, not at every write the applier takes out. Woken at every one, a reader
  // or writer behind the last of 2,000 queued writes woke 2,000 times, and at libaio QD16
  // such wake-ups were 42% of the daemon's context switches (2026-12-06).
  std::multimap<uint64_t, CondVar*> overlap_waiters_ GUARDED_BY(mu_);
  uint64_t longest_ GUARDED_BY(mu_) = 0;  // the longest queued write since the queue was empty
  size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  uint32_t syncing_ GUARDED_BY(mu_) = 0;  // Sync calls draining: Defer refuses meanwhile
  bool stopping_ GUARDED_BY(mu_) = false;
  Status apply_error_ GUARDED_BY(mu_);
  bool journal_failed_ GUARDED_BY(mu_) = false;  // said once
  // Applied writes whose record may still be replayed (writing or marking it failed).
  std::vector<std::pair<uint64_t, uint64_t>> failed_ GUARDED_BY(mu_);  // (offset, seq)
  bool broken_ GUARDED_BY(mu_) = false;  // failed_ not yet dead: Defer refuses
  // by_offset_.size(). Readers skip the mutex when nothing is queued (the queue gains entries only before the
  // write is acknowledged, so a read issued after the acknowledgement sees the count).
  std::atomic<size_t> queued_count_{0};
  std::thread copier_, applier_;  // last: started once the rest is built
};

}  // namespace snapcow
