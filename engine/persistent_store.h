// PersistentStore: dm-snapshot's persistent exception store, byte-compatible with the kernel
// (engine/FORMAT.md is the specification).
//
// Prepare hands out data chunks and sequence numbers under a small allocation lock. Commit
// writes the entry into its area's buffer under that area's lock (seed 001: commits into
// different areas do not serialise) and queues it; one thread at a time becomes the committer
// and makes the longest ready prefix durable: data flush, area writes, flush, callbacks.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <vector>

#include "engine/exception_store.h"
#include "engine/mutex.h"

namespace snapcow {

class PersistentStore final : public ExceptionStore {
 public:
  // Writes header, extension block and an empty area 0 to `cow`, durably.
  static Status Create(std::unique_ptr<File> cow, const StoreParams& p,
                       std::unique_ptr<ExceptionStore>* out);
  static Status Load(std::unique_ptr<File> cow, uint64_t current_origin_bytes, StoreParams* p,
                     const LoadCallback& cb, std::unique_ptr<ExceptionStore>* out);

  uint32_t chunk_bytes() const override { return chunk_bytes_; }
  Status Prepare(Exception* e) override EXCLUDES(alloc_mu_);
  void Commit(const Exception& e, CommitCallback cb) override
      EXCLUDES(commit_mu_, areas_mu_);
  bool QueueCommits(std::vector<std::pair<Exception, CommitCallback>> batch) override
      EXCLUDES(commit_mu_, areas_mu_);
  void RunCommits() override EXCLUDES(commit_mu_) { RunCommitter(); }
  Status Drop() override EXCLUDES(commit_mu_);
  Status Sync() override;
  StoreUsage Usage() const override EXCLUDES(alloc_mu_);
  bool valid() const override { return valid_.load(std::memory_order_acquire); }
  File& cow() override { return *cow_; }

 private:
  struct Area {
    Mutex mu;
    std::vector<uint8_t> entries GUARDED_BY(mu);  // the area's bytes, as far as filled
  };
  struct Ready {
    Exception e;
    CommitCallback cb;
  };

  PersistentStore(std::unique_ptr<File> cow, const StoreParams& p);
  Area* GetArea(uint64_t area) EXCLUDES(areas_mu_);
  void ForgetAreasBefore(uint64_t area) EXCLUDES(areas_mu_);
  // Makes ready_[first .. first+n) durable; the caller is the committer.
  Status WriteBatch(uint64_t first, uint64_t n) EXCLUDES(commit_mu_);
  // Queues `e`; false when the store is invalid (cb is then not taken). Sets *lead when the
  // caller must run the committer.
  bool Enqueue(const Exception& e, CommitCallback& cb, bool* lead) EXCLUDES(commit_mu_, areas_mu_);
  void RunCommitter() EXCLUDES(commit_mu_);
  void FailAll(const Status& s) EXCLUDES(commit_mu_);

  // Constant after construction.
  const std::unique_ptr<File> cow_;
  const uint32_t chunk_bytes_;
  const uint64_t epa_;          // entries per area
  const uint64_t max_chunks_;   // 0: unlimited
  const uint64_t origin_chunks_;
  uint64_t base_seq_ = 0;       // entries loaded; slot of seq s is s (seqs start here)

  std::atomic<bool> valid_{true};

  // Lock order: commit_mu_ -> areas_mu_ -> Area::mu; alloc_mu_ is a leaf.
  mutable Mutex alloc_mu_;
  chunk_t next_free_ GUARDED_BY(alloc_mu_) = 0;
  uint64_t next_seq_ GUARDED_BY(alloc_mu_) = 0;

  Mutex areas_mu_;
  std::map<uint64_t, std::unique_ptr<Area>> areas_ GUARDED_BY(areas_mu_);

  Mutex commit_mu_;
  std::map<uint64_t, Ready> ready_ GUARDED_BY(commit_mu_);
  uint64_t next_commit_ GUARDED_BY(commit_mu_) = 0;  // first seq not yet durable
  bool committing_ GUARDED_BY(commit_mu_) = false;
  uint64_t zeroed_area_ GUARDED_BY(commit_mu_) = 0;   // highest area known zero on disk
};

}  // namespace snapcow
