// ExceptionTable: the complete and pending exceptions of one snapshot, and its tracked reads,
// in hash buckets with one lock each (seed 000).
//
// Chunk c lives in the bucket of its group c >> kGroupShift, so a run of consecutive
// exceptions (dm's consecutive-chunk merging) never leaves its bucket. A complete bucket is a
// sorted vector of runs, 16 bytes each, so a fully copied origin costs 16 bytes per 256 chunks.
//
// Locking: the bucket locks of chunk c are taken only by Locked (dm_exception_table_lock):
// complete bucket, then pending bucket. No method blocks on I/O or on another bucket while
// holding them; waiting for tracked reads releases them (condition variable).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "engine/mutex.h"
#include "engine/pending_exception.h"
#include "engine/snapshot_config.h"

namespace snapcow {

class ExceptionTable {
 public:
  static constexpr unsigned kGroupShift = 8;
  static constexpr uint32_t kMaxRun = 1u << kGroupShift;

  // `chunks`: size of the snapshot image in chunks (sizes the bucket array).
  explicit ExceptionTable(chunk_t chunks);
  ExceptionTable(const ExceptionTable&) = delete;
  ExceptionTable& operator=(const ExceptionTable&) = delete;

  enum class Found { kComplete, kPending, kCreated };
  // For a write: the complete mapping of `c` if any (*new_chunk), else the pending exception
  // (*pe: joined if it existed, created and inserted if not).
  Found MapForWrite(chunk_t c, chunk_t* new_chunk, std::shared_ptr<PendingException>* pe);
  // Lookup without side effects.
  bool LookupComplete(chunk_t c, chunk_t* new_chunk);
  bool NeedsCopy(chunk_t c);  // neither complete nor pending

  // For a snapshot read: true with *new_chunk if complete; otherwise the read is tracked and
  // the caller must call EndTrackedRead(c) once it has read the origin (seed 004).
  bool MapForRead(chunk_t c, chunk_t* new_chunk);
  void EndTrackedRead(chunk_t c);
  // Blocks until no tracked read of `c` is in flight.
  void WaitForTrackedReads(chunk_t c);

  // The copy of `c` is durable at `new_chunk`: make it complete, drop the pending entry.
  void CompletePending(chunk_t c, chunk_t new_chunk);
  // The copy of `c` failed: drop the pending entry.
  void RemovePending(chunk_t c);

  // Loading: append without order (extending the bucket's last run when the entry continues
  // it), then FinishLoad() sorts and merges every bucket once.
  // FinishLoad returns false, with the chunk in *duplicate, if a chunk was inserted twice.
  void LoadInsert(chunk_t old_chunk, chunk_t new_chunk);
  bool FinishLoad(chunk_t* duplicate);

  size_t RunCount();        // for memory figures
  size_t MemoryBytes();     // heap bytes of the complete table

 private:
  // dm's encoding: new_chunk in the low 56 bits, (run length - 1) in the high 8.
  struct Run {
    chunk_t old_chunk;
    uint64_t packed;
    chunk_t new_chunk() const { return packed & ((1ull << 56) - 1); }
    uint32_t length() const { return static_cast<uint32_t>(packed >> 56) + 1; }
  };
  static Run MakeRun(chunk_t old_chunk, chunk_t new_chunk, uint32_t length) {
    return Run{old_chunk, new_chunk | (static_cast<uint64_t>(length - 1) << 56)};
  }

  struct CompleteBucket {
    Mutex mu;
    std::vector<Run> runs GUARDED_BY(mu);  // sorted by old_chunk, non-overlapping
  };
  struct PendingBucket {
    Mutex mu;
    CondVar drained;
    std::unordered_map<chunk_t, std::shared_ptr<PendingException>> pending GUARDED_BY(mu);
    std::unordered_map<chunk_t, uint32_t> tracked GUARDED_BY(mu);  // reads in flight
  };

  // The only place both bucket locks of a chunk are taken: complete, then pending.
  class SCOPED_CAPABILITY Locked {
   public:
    Locked(CompleteBucket* cb, PendingBucket* pb) ACQUIRE(cb->mu, pb->mu) : cb_(cb), pb_(pb) {
      cb_->mu.Lock();
      pb_->mu.Lock();
    }
    ~Locked() RELEASE() {
      pb_->mu.Unlock();
      cb_->mu.Unlock();
    }
    Locked(const Locked&) = delete;
    Locked& operator=(const Locked&) = delete;

   private:
    CompleteBucket* const cb_;
    PendingBucket* const pb_;
  };

  size_t BucketOf(chunk_t c) const;
  static bool Find(const std::vector<Run>& runs, chunk_t c, chunk_t* new_chunk);
  static void Insert(std::vector<Run>& runs, chunk_t c, chunk_t new_chunk);

  // Constant after construction.
  size_t mask_ = 0;
  std::unique_ptr<CompleteBucket[]> complete_;
  std::unique_ptr<PendingBucket[]> pending_;
};

}  // namespace snapcow
