#include "engine/transient_store.h"

#include <cerrno>

#include "engine/format.h"

namespace snapcow {

TransientStore::TransientStore(std::unique_ptr<File> cow, const StoreParams& p)
    : cow_(std::move(cow)),
      chunk_bytes_(p.config.chunk_bytes),
      max_chunks_(p.config.max_cow_bytes / p.config.chunk_bytes),
      origin_chunks_(p.origin_chunks) {}

Status TransientStore::Prepare(Exception* e) {
  if (!valid()) return Status::Error(EIO, "transient snapshot is invalid");
  MutexLock l(&alloc_mu_);
  if (max_chunks_ != 0 && next_free_ >= max_chunks_)
    return Status::Error(ENOSPC, "transient snapshot store is full");
  e->new_chunk = next_free_;
  e->seq = next_free_++;
  return Status::OK();
}

void TransientStore::Commit(const Exception& e, CommitCallback cb) {
  cb(valid() ? Status::OK() : Status::Error(EIO, "transient snapshot is invalid"));
}

Status TransientStore::Drop() {
  valid_ = false;
  return Status::OK();
}

StoreUsage TransientStore::Usage() const {
  const uint64_t sectors = chunk_bytes_ / format::kSectorBytes;
  MutexLock l(&alloc_mu_);
  StoreUsage u;
  u.sectors_allocated = next_free_ * sectors;
  u.total_sectors = (max_chunks_ != 0 ? max_chunks_ : origin_chunks_) * sectors;
  return u;
}

}  // namespace snapcow
