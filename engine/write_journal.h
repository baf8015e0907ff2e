// WriteJournal: the origin write journal on disk (FORMAT.md §7). Not thread-safe: its one
// owner (DeferredWrites) calls it under its own mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/file.h"
#include "engine/mapped_region.h"
#include "engine/status.h"

namespace snapcow {

inline constexpr char kJournalFile[] = ".snapcowfs.journal";

class WriteJournal {
 public:
  // Past this many bytes of records Append refuses until the next Reset.
  static constexpr uint64_t kDefaultCapacity = 64ull << 20;
  // A drained journal bigger than this is reset lazily (FORMAT.md §7, generations).
  static constexpr uint64_t kLazyResetBytes = 1ull << 20;

  // Reads the header; the records are left for Replay().
  static Status Open(std::unique_ptr<File> file, uint64_t capacity,
                     std::unique_ptr<WriteJournal>* out);

  // Calls `apply` for every record of the current generation not yet marked written, in
  // order, stopping at the first record that does not check. The first error of `apply`
  // stops it and is returned. The journal is unchanged: call Reset() once the writes are
  // durable.
  using ApplyFn = std::function<Status(uint64_t off, size_t len, const void* data)>;
  Status Replay(const ApplyFn& apply, uint64_t* replayed);

  // Appends a record; `*pos` names it for MarkWritten. ENOSPC when the journal is full;
  // EINVAL before the first Reset (the records found at Open must be replayed first).
  Status Append(uint64_t off, size_t len, const void* data, uint64_t* pos);
  // The data of the record Append put at `pos`, in the mapping: valid until the next Reset.
  // Null where records are written rather than mapped.
  const uint8_t* RecordData(uint64_t pos) const;
  // The next stretch of the mapping to populate (MappedRegion::Populate), once the records
  // have come within half a stretch of the end of the last one: each page the records reach
  // then takes no page fault on the writer's path (a fault cost more than the record's copy
  // on a PVM guest, 2026-12-07). The caller populates it after releasing its lock. False
  // when nothing is due, or records are not mapped.
  bool NextPrefault(const MappedRegion** region, uint64_t* off, uint64_t* len);
  static constexpr uint64_t kPrefaultBytes = 1ull << 20;
  // The record's data is in origin.img (page cache): a killed daemon does not replay it.
  Status MarkWritten(uint64_t pos);
  // Starts a new generation, killing every record; `durable` syncs the header. The first
  // Reset after Open also deallocates every old record, durably, first: a header that a
  // power cut took back to an older generation must not revive records written after it.
  Status Reset(bool durable);

  // Empty, with its header synced: nothing a power cut could revive after an fsync. Else an
  // fsync of the origin Resets it and syncs the header (SyncFile, MarkHeaderSynced).
  bool settled() const { return used() == 0 && header_synced_; }
  // Reset(true) unless settled(): the same in one call, for callers with nothing to overlap.
  Status Settle() { return settled() ? Status::OK() : Reset(true); }
  // The file itself, for a sync running beside other work; touches no state of the journal.
  File& file() { return *file_; }
  // The header of `generation` was synced (nothing happens if a Reset came since).
  void MarkHeaderSynced(uint64_t generation) {
    if (generation == generation_) header_synced_ = true;
  }

  // Bytes of records since the last Reset.
  uint64_t used() const { return end_ - kRecordsStart; }
  uint64_t generation() const { return generation_; }

  static constexpr uint64_t kRecordsStart = 4096;

 private:
  WriteJournal(std::unique_ptr<File> file, uint64_t capacity)
      : file_(std::move(file)), capacity_(capacity) {}
  Status ReadHeader();
  Status ClearRecords();

  const std::unique_ptr<File> file_;
  const uint64_t capacity_;
  uint64_t generation_ = 0;
  uint64_t next_sequence_ = 1;
  uint64_t end_ = kRecordsStart;  // where the next record goes
  bool fresh_ = false;            // reset since Open: Append may go
  bool header_synced_ = false;
  std::vector<uint8_t> scratch_;  // one record being built
  // The header and every record's room, mapped from the first Reset on (records are then
  // stores into the page cache instead of writes: see Append); null where the file cannot
  // be allocated or mapped, and records are written.
  std::unique_ptr<MappedRegion> map_;
  bool map_tried_ = false;
  // NextPrefault has handed out the mapping up to here since the last Reset. From the start
  // again after a Reset: a sync since may have cleaned the pages, and a store into a clean
  // page of a shared mapping faults again.
  uint64_t prefaulted_ = kRecordsStart;
};

}  // namespace snapcow
