#include "engine/origin.h"

#include <algorithm>
#include <cerrno>

#include "engine/copy_buffer.h"
#include "engine/deferred_writes.h"
#include "engine/snapshot.h"
#include "engine/write_journal.h"

namespace snapcow {

Origin::Origin(std::unique_ptr<File> file, uint64_t size, uint32_t cow_threshold)
    : file_(std::move(file)),
      size_(size),
      set_(std::make_shared<const SnapshotList>()),
      throttle_(cow_threshold) {}

Origin::~Origin() = default;

void Origin::EnableDeferral(std::unique_ptr<WriteJournal> journal) {
  deferred_ = std::make_unique<DeferredWrites>(
      file_.get(), std::move(journal),
      // The copier's buffer lives as long as the copier: its pages are faulted in once.
      [this, buffer = std::make_shared<CopyBuffer>()](std::vector<CopyJob>& jobs) {
        (void)RunCopies(jobs, CopyFor::kAcknowledged, buffer.get());
      });
}

void Origin::ApplyDeferred() {
  if (deferred_) deferred_->WaitEmpty();
}

std::shared_ptr<const Origin::SnapshotList> Origin::List() const {
  MutexLock l(&set_mu_);
  return set_;
}

std::shared_ptr<Snapshot> Origin::Find(uint32_t number) const {
  auto list = List();
  for (const auto& s : *list)
    if (s->number() == number) return s;
  return nullptr;
}

std::vector<std::shared_ptr<Snapshot>> Origin::Snapshots() const { return *List(); }

void Origin::AddSnapshot(std::shared_ptr<Snapshot> s) {
  MutexLock l(&set_mu_);
  auto next = std::make_shared<SnapshotList>(*set_);
  next->push_back(std::move(s));
  std::sort(next->begin(), next->end(),
            [](const auto& a, const auto& b) { return a->number() < b->number(); });
  set_ = std::move(next);
}

std::shared_ptr<Snapshot> Origin::RemoveSnapshot(uint32_t number) {
  MutexLock l(&set_mu_);
  auto next = std::make_shared<SnapshotList>(*set_);
  auto it = std::find_if(next->begin(), next->end(),
                         [number](const auto& s) { return s->number() == number; });
  if (it == next->end()) return nullptr;
  std::shared_ptr<Snapshot> gone = *it;
  next->erase(it);
  set_ = std::move(next);
  return gone;
}

Status Origin::Read(uint64_t off, size_t len, void* buf) {
  if (off > size_ || len > size_ - off) return Status::Error(EINVAL, "read past end of origin");
  if (deferred_) deferred_->WaitOverlapping(off, len);
  return file_->ReadAt(off, len, buf);
}

Status Origin::Write(uint64_t off, size_t len, const void* buf, WriteHint hint) {
  if (off > size_ || len > size_ - off) return Status::Error(ENOSPC, "write past end of origin");
  ReaderLock gate(&write_gate_);
  // After the writes it overlaps that are still queued: they were acknowledged first.
  if (deferred_) deferred_->WaitOverlapping(off, len);
  bool deferred = false;
  // Without the data, Preserve cannot defer the write.
  Status s = Preserve(off, len, hint == WriteHint::kNone ? buf : nullptr, &deferred);
  if (!s.ok() || deferred) return s;
  return file_->WriteAt(off, len, buf);
}

Status Origin::Discard(uint64_t off, uint64_t len) {
  if (off > size_ || len > size_ - off) return Status::Error(ENOSPC, "discard past end of origin");
  ReaderLock gate(&write_gate_);
  if (deferred_) deferred_->WaitOverlapping(off, len);
  bool deferred = false;
  Status s = Preserve(off, len, nullptr, &deferred);
  if (!s.ok()) return s;
  return file_->PunchHole(off, len);
}

Status Origin::CopyBeforeWrite(uint64_t off, uint64_t len) {
  if (off > size_ || len > size_ - off) return Status::Error(EINVAL, "copy past end of origin");
  ReaderLock gate(&write_gate_);
  if (deferred_) deferred_->WaitOverlapping(off, len);
  bool deferred = false;
  return Preserve(off, len, nullptr, &deferred);
}

bool Origin::BackgroundIdle() const { return !deferred_ || deferred_->Idle(); }

Status Origin::Sync() {
  return deferred_ ? deferred_->Sync([this] { return SyncFiles(); }, true) : SyncFiles();
}

Status Origin::SyncOrigin() {
  // An error of an earlier acknowledged write is for the writer's next fsync, not for this.
  return deferred_ ? deferred_->Sync([this] { return file_->Sync(); }, false) : file_->Sync();
}

Status Origin::SyncFiles() {
  Status s = file_->Sync();
  auto list = List();
  for (const auto& snap : *list) {
    if (!snap->valid()) continue;
    Status t = snap->store().Sync();
    if (!t.ok()) snap->Fail(t, false);
  }
  return s;
}

}  // namespace snapcow
