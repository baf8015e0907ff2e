// ExceptionStore: where a snapshot keeps its exceptions (dm-exception-store.h).
//
// prepare  allocates a COW chunk for `old_chunk`;
// commit   makes the exception durable and then calls back (maybe from another committing
//          thread: group commit);
// drop     invalidates the store durably (header valid = 0);
// usage    the figures of dm's status line.
// One file per implementation (persistent_store.cc, transient_store.cc), chosen by the factory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/file.h"
#include "engine/snapshot_config.h"
#include "engine/status.h"

namespace snapcow {

struct Exception {
  chunk_t old_chunk = 0;
  chunk_t new_chunk = 0;
  uint64_t seq = 0;  // allocation order; commits become durable in this order
};

struct StoreUsage {
  uint64_t sectors_allocated = 0;
  uint64_t total_sectors = 0;
  uint64_t metadata_sectors = 0;
};

// What the persistent store's extension block records (FORMAT.md §4).
struct StoreIdentity {
  uint32_t number = 0;
  uint64_t origin_bytes = 0;
  int64_t created_unix = 0;
  bool read_only = false;
  OverflowMode overflow = OverflowMode::kInvalidate;
  uint64_t max_cow_bytes = 0;
  bool has_extension = false;  // false: a kernel rewrote the header; origin size unknown
};

using CommitCallback = std::function<void(const Status&)>;
// Called once per exception found while loading, in on-disk order.
using LoadCallback = std::function<void(chunk_t old_chunk, chunk_t new_chunk)>;

class ExceptionStore {
 public:
  virtual ~ExceptionStore() = default;

  virtual uint32_t chunk_bytes() const = 0;
  // Allocates e->new_chunk and e->seq. ENOSPC when the COW is full.
  virtual Status Prepare(Exception* e) = 0;
  // The data of `e` is written to the COW (not yet synced). `cb` runs exactly once, after the
  // exception is durable (or failed); it may run on this thread before Commit returns.
  virtual void Commit(const Exception& e, CommitCallback cb) = 0;
  // Commit in two halves, so that a writer copying into several stores queues in all of them
  // at once and their committers then run side by side, each covering every writer's
  // exceptions queued so far. QueueCommits takes the exceptions (data written); it returns
  // true when no committer is running, and the caller must then call RunCommits() (on any
  // thread). Callbacks are as for Commit().
  virtual bool QueueCommits(std::vector<std::pair<Exception, CommitCallback>> batch) {
    for (auto& [e, cb] : batch) Commit(e, std::move(cb));
    return false;
  }
  virtual void RunCommits() {}
  // Invalidates the store: header valid = 0, durably. Pending and later commits fail.
  virtual Status Drop() = 0;
  // Makes data written straight into existing COW chunks durable.
  virtual Status Sync() = 0;
  virtual StoreUsage Usage() const = 0;
  virtual bool valid() const = 0;
  virtual File& cow() = 0;
};

struct StoreParams {
  SnapshotConfig config;
  StoreIdentity identity;
  uint64_t origin_chunks = 0;  // chunks of the snapshot image, for the status line
};

// Creates a new store in `cow` (writes header and first area durably for a persistent one).
Status CreateStore(std::unique_ptr<File> cow, const StoreParams& p,
                   std::unique_ptr<ExceptionStore>* out);
// Loads a persistent store: reads its header into `id` and `config`, calls `cb` per
// exception. Corruption gives EUCLEAN with "FILE: offset N: what is wrong".
Status LoadPersistentStore(std::unique_ptr<File> cow, uint64_t current_origin_bytes,
                           StoreParams* p, const LoadCallback& cb,
                           std::unique_ptr<ExceptionStore>* out);

}  // namespace snapcow
