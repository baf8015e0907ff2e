// Snapshot: one snapshot of the origin: its store, its exception table and its state.
#pragma once

#include <atomic>
#include <memory>

#include "engine/exception_store.h"
#include "engine/exception_table.h"
#include "engine/mutex.h"
#include "engine/snapshot_config.h"
#include "engine/status.h"

namespace snapcow {

class Snapshot {
 public:
  // A new snapshot of an origin of `origin_bytes`, with a fresh store written into `cow`.
  static Status Create(uint32_t number, const SnapshotConfig& config, uint64_t origin_bytes,
                       int64_t created_unix, std::unique_ptr<File> cow,
                       std::shared_ptr<Snapshot>* out);
  // Loads a persistent store (FORMAT.md) and its exceptions. `number` comes from the file
  // name; the extension block, when present, must agree with it.
  static Status Load(uint32_t number, std::unique_ptr<File> cow, uint64_t current_origin_bytes,
                     std::shared_ptr<Snapshot>* out);

  uint32_t number() const { return params_.identity.number; }
  uint64_t size() const { return params_.identity.origin_bytes; }
  const SnapshotConfig& config() const { return params_.config; }
  bool read_only() const { return params_.config.read_only; }
  int64_t created_unix() const { return params_.identity.created_unix; }
  uint32_t chunk_bytes() const { return params_.config.chunk_bytes; }
  chunk_t chunks() const { return params_.origin_chunks; }
  SnapshotInfo Info() const EXCLUDES(state_mu_);

  ExceptionTable& table() { return *table_; }
  ExceptionStore& store() { return *store_; }

  // Origin writes preserve data only for usable snapshots.
  bool valid() const EXCLUDES(state_mu_);
  // EIO when invalid.
  Status CheckReadable() const EXCLUDES(state_mu_);
  // EROFS read-only, EIO invalid, ENOSPC overflowed.
  Status CheckWritable() const EXCLUDES(state_mu_);
  // dm's __invalidate_snapshot: the snapshot stops being preserved; the header says so.
  void Invalidate(const Status& why) EXCLUDES(state_mu_, drop_mu_);
  // An origin write that preserves nothing for this snapshot because it is invalid calls
  // this before origin.img changes: it returns once the store says invalid durably (or
  // failed to, which Invalidate logs). At once while the snapshot is valid.
  void WaitUntilDropped() EXCLUDES(state_mu_, drop_mu_);
  // dm's snapshot_overflowed (keep mode): reads go on, writes fail with ENOSPC.
  void SetOverflowed() EXCLUDES(state_mu_);
  // A store failure, handled by the overflow mode: ENOSPC in keep mode overflows, all else
  // invalidates. Returns the errno the writer sees.
  int Fail(const Status& why, bool snapshot_write) EXCLUDES(state_mu_);

 private:
  Snapshot(const StoreParams& p, std::unique_ptr<ExceptionStore> store);
  // With a table already filled (Load()).
  Snapshot(const StoreParams& p, std::unique_ptr<ExceptionStore> store,
           std::unique_ptr<ExceptionTable> table);

  // Constant after construction.
  const StoreParams params_;
  const std::unique_ptr<ExceptionStore> store_;
  const std::unique_ptr<ExceptionTable> table_;  // never null

  // Mostly-read state (seed 000): I/O takes it shared, invalidate/overflow exclusive.
  mutable SharedMutex state_mu_;
  bool valid_ GUARDED_BY(state_mu_) = true;
  bool overflowed_ GUARDED_BY(state_mu_) = false;

  // An origin write that skips an invalid snapshot (no copy) must not reach origin.img while
  // the store still says valid on disk: a power cut would leave a valid-looking snapshot with
  // that chunk's old data gone. dm holds the snapshot lock across the header write; here the
  // writers that see valid_ false wait for `dropped_`.
  Mutex drop_mu_ ACQUIRED_AFTER(state_mu_);
  CondVar drop_cv_;
  bool dropped_ GUARDED_BY(drop_mu_) = false;  // valid_ is false and the store says so
  // valid_'s fall, for WaitUntilDropped's fast path (every origin write asks, per chunk):
  // set beside it under state_mu_, never cleared, so a thread that saw valid_ false sees it.
  std::atomic<bool> invalidated_{false};
};

}  // namespace snapcow
