// SyncHabit: does the writer behind one open file fsync after every write? Such a writer
// (fio --fdatasync=1, a database's log) gains nothing from the origin write journal: the
// fsync right after the write drains it and pays one more flush for the journal. Its writes
// go the waiting way instead (Origin::WriteHint::kSyncFollows).
#pragma once

#include <fcntl.h>

#include <atomic>
#include <cstdint>

#include "engine/origin.h"

namespace snapcow::fusefs {

class SyncHabit {
 public:
  // For one write; `open_flags` are the write's (fuse_file_info::flags), which carry O_DSYNC
  // for O_DSYNC/O_SYNC opens and RWF_DSYNC writes: OpWrite syncs right after those.
  Origin::WriteHint OnWrite(int open_flags) {
    const uint32_t before = writes_since_sync_.fetch_add(1, std::memory_order_relaxed);
    if (open_flags & O_DSYNC) return Origin::WriteHint::kSyncFollows;
    // Only the first write after an fsync is taken as the whole batch: a second one before
    // the next fsync shows batching, where the journal wins (one drain for many writes).
    const bool every_write = every_write_.load(std::memory_order_relaxed);
    return every_write && before == 0 ? Origin::WriteHint::kSyncFollows
                                      : Origin::WriteHint::kNone;
  }
  void OnSync() {
    every_write_.store(writes_since_sync_.exchange(0, std::memory_order_relaxed) <= 1,
                       std::memory_order_relaxed);
  }

 private:
  // Atomics, no lock: a hint only, and a wrong guess costs speed, never data.
  std::atomic<uint32_t> writes_since_sync_{0};
  std::atomic<bool> every_write_{false};
};

}  // namespace snapcow::fusefs
