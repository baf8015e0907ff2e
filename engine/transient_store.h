// TransientStore: dm's transient exception store. Data chunks in an unnamed file from chunk 0,
// exceptions in memory only; commit is immediate (nothing survives the daemon anyway).
#pragma once

#include <atomic>
#include <memory>

#include "engine/exception_store.h"
#include "engine/mutex.h"

namespace snapcow {

class TransientStore final : public ExceptionStore {
 public:
  TransientStore(std::unique_ptr<File> cow, const StoreParams& p);

  uint32_t chunk_bytes() const override { return chunk_bytes_; }
  Status Prepare(Exception* e) override EXCLUDES(alloc_mu_);
  void Commit(const Exception& e, CommitCallback cb) override;
  Status Drop() override;
  Status Sync() override { return Status::OK(); }
  StoreUsage Usage() const override EXCLUDES(alloc_mu_);
  bool valid() const override { return valid_.load(std::memory_order_acquire); }
  File& cow() override { return *cow_; }

 private:
  // Constant after construction.
  const std::unique_ptr<File> cow_;
  const uint32_t chunk_bytes_;
  const uint64_t max_chunks_;
  const uint64_t origin_chunks_;

  std::atomic<bool> valid_{true};
  mutable Mutex alloc_mu_;
  chunk_t next_free_ GUARDED_BY(alloc_mu_) = 0;
};

}  // namespace snapcow
