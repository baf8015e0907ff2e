#include "engine/snapshot.h"

#include <fmt/format.h>

#include "engine/format.h"
#include "engine/log.h"

namespace snapcow {

Snapshot::Snapshot(const StoreParams& p, std::unique_ptr<ExceptionStore> store)
    : Snapshot(p, std::move(store), std::make_unique<ExceptionTable>(p.origin_chunks)) {}

Snapshot::Snapshot(const StoreParams& p, std::unique_ptr<ExceptionStore> store,
                   std::unique_ptr<ExceptionTable> table)
    : params_(p), store_(std::move(store)), table_(std::move(table)) {
  WriterLock l(&state_mu_);
  valid_ = store_->valid();
  invalidated_.store(!valid_, std::memory_order_release);
  MutexLock d(&drop_mu_);
  dropped_ = !valid_;
}

Status Snapshot::Create(uint32_t number, const SnapshotConfig& config, uint64_t origin_bytes,
                        int64_t created_unix, std::unique_ptr<File> cow,
                        std::shared_ptr<Snapshot>* out) {
  std::string bad = ValidateSnapshotConfig(config);
  if (!bad.empty()) return Status::Error(EINVAL, bad);
  StoreParams p;
  p.config = config;
  p.identity.number = number;
  p.identity.origin_bytes = origin_bytes;
  p.identity.created_unix = created_unix;
  p.identity.read_only = config.read_only;
  p.identity.overflow = config.overflow;
  p.identity.max_cow_bytes = config.max_cow_bytes;
  p.identity.has_extension = true;
  p.origin_chunks = (origin_bytes + config.chunk_bytes - 1) / config.chunk_bytes;
  std::unique_ptr<ExceptionStore> store;
  Status s = CreateStore(std::move(cow), p, &store);
  if (!s.ok()) return s;
  out->reset(new Snapshot(p, std::move(store)));
  return Status::OK();
}

Status Snapshot::Load(uint32_t number, std::unique_ptr<File> cow, uint64_t current_origin_bytes,
                      std::shared_ptr<Snapshot>* out) {
  StoreParams p;
  std::unique_ptr<ExceptionTable> table;
  std::unique_ptr<ExceptionStore> store;
  const std::string name = cow->name();
  // Entries go straight into the table (the header, read before the first entry, sized it):
  // no list of every entry is held on the way, and consecutive ones load as runs.
  Status s = LoadPersistentStore(
      std::move(cow), current_origin_bytes, &p,
      [&table, &p](chunk_t o, chunk_t n) {
        if (!table) table = std::make_unique<ExceptionTable>(p.origin_chunks);
        table->LoadInsert(o, n);
      },
      &store);
  if (!s.ok()) return s;
  if (!table) table = std::make_unique<ExceptionTable>(p.origin_chunks);
  if (!p.identity.has_extension) p.identity.number = number;
  if (p.identity.number != number)
    return Status::Error(EUCLEAN, fmt::format("{}: offset {}: the store says it is snapshot {}",
                                              name, format::kExtOffset + format::kExtOffNumber, p.identity.number));
  std::shared_ptr<Snapshot> snap(new Snapshot(p, std::move(store), std::move(table)));
  chunk_t dup = 0;
  if (!snap->table_->FinishLoad(&dup))
    return Status::Error(EUCLEAN, fmt::format("{}: two exceptions for chunk {}", name, dup));
  *out = std::move(snap);
  return Status::OK();
}

SnapshotInfo Snapshot::Info() const {
  SnapshotInfo i;
  i.number = number();
  i.name = SnapshotName(number());
  i.config = params_.config;
  i.size_bytes = size();
  i.created_unix = created_unix();
  {
    ReaderLock l(&state_mu_);
    i.valid = valid_;
    i.overflowed = overflowed_;
  }
  StoreUsage u = store_->Usage();
  i.sectors_allocated = u.sectors_allocated;
  i.total_sectors = u.total_sectors;
  i.metadata_sectors = u.metadata_sectors;
  return i;
}

bool Snapshot::valid() const {
  ReaderLock l(&state_mu_);
  return valid_;
}

Status Snapshot::CheckReadable() const {
  ReaderLock l(&state_mu_);
  if (!valid_) return Status::Error(EIO, SnapshotName(number()) + " is invalid");
  return Status::OK();
}

Status Snapshot::CheckWritable() const {
  if (read_only()) return Status::Error(EROFS, SnapshotName(number()) + " is read-only");
  ReaderLock l(&state_mu_);
  if (!valid_) return Status::Error(EIO, SnapshotName(number()) + " is invalid");
  if (overflowed_) return Status::Error(ENOSPC, SnapshotName(number()) + " has overflowed");
  return Status::OK();
}

void Snapshot::Invalidate(const Status& why) {
  {
    WriterLock l(&state_mu_);
    if (!valid_) return;
    valid_ = false;
    invalidated_.store(true, std::memory_order_release);
  }
  Log(LogLevel::kError, fmt::format("{} invalidated: {}", SnapshotName(number()), why.message()));
  Status s = store_->Drop();
  if (!s.ok())
    Log(LogLevel::kError,
        fmt::format("{}: could not mark the store invalid: {}", SnapshotName(number()),
                    s.message()));
  MutexLock d(&drop_mu_);
  dropped_ = true;
  drop_cv_.SignalAll();
}

void Snapshot::WaitUntilDropped() {
  if (!invalidated_.load(std::memory_order_acquire)) return;
  MutexLock d(&drop_mu_);
  while (!dropped_) drop_cv_.Wait(&drop_mu_);
}

void Snapshot::SetOverflowed() {
  WriterLock l(&state_mu_);
  if (!overflowed_)
    Log(LogLevel::kError, fmt::format("{} overflowed: its store is full; writes to it fail",
                                      SnapshotName(number())));
  overflowed_ = true;
}

int Snapshot::Fail(const Status& why, bool snapshot_write) {
  if (snapshot_write && why.err() == ENOSPC && config().overflow == OverflowMode::kKeep) {
    SetOverflowed();
    return ENOSPC;
  }
  Invalidate(why);
  return EIO;
}

}  // namespace snapcow
