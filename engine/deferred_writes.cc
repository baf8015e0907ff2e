#include "engine/deferred_writes.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <iterator>

#include "engine/crash_point.h"
#include "engine/log.h"

namespace snapcow {

DeferredWrites::DeferredWrites(File* origin, std::unique_ptr<WriteJournal> journal,
                               CopyFn copy)
    : origin_(origin),
      journal_file_(&journal->file()),
      copy_(std::move(copy)),
      journal_(std::move(journal)) {
  // Named, so that top -H and perf tell the two apart from the FUSE threads.
  copier_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "snapcow-copier");
    CopyLoop();
  });
  applier_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "snapcow-apply");
    Loop();
  });
}

DeferredWrites::~DeferredWrites() {
  {
    MutexLock l(&mu_);
    stopping_ = true;
    work_.SignalAll();
    copy_work_.SignalAll();
  }
  // The copier ends once it has taken every job; the applier waits for those copies.
  copier_.join();
  applier_.join();
}

bool DeferredWrites::Defer(DeferredWrite& w) {
  bool copies = false;
  const MappedRegion* region = nullptr;
  uint64_t prefault_off = 0, prefault_len = 0;
  {
    MutexLock l(&mu_);
    if (stopping_ || syncing_ > 0 || broken_ ||
        queued_bytes_ + w.len > kMaxQueuedBytes)
      return false;
    Status s = journal_->Append(w.off, w.len, w.data, &w.journal_pos);
    if (!s.ok()) {
      // Full: the writers wait for their copies until the queue drains and the journal is
      // reset. Anything else is worth one line (once); each write still tries the journal.
      if (s.err() != ENOSPC && !journal_failed_) {
        journal_failed_ = true;
        Log(LogLevel::kWarning, "origin write journal: " + s.message() + " (first writes now "
                                "wait for their copies)");
      }
      return false;
    }
    CrashPoint("journal-appended");
    auto q = std::make_shared<DeferredWrite>(std::move(w));
    if (const uint8_t* kept = journal_->RecordData(q->journal_pos)) {
      q->data = kept;
    } else {
      q->owned.assign(q->data, q->data + q->len);
      q->data = q->owned.data();
    }
    q->seq = next_seq_++;
    by_offset_.emplace(q->off, Range{q->len, q->seq});
    longest_ = std::max<uint64_t>(longest_, q->len);
    queued_bytes_ += q->len;
    if (!q->jobs.empty()) {
      // Before the copier can take them: a write joining one of these copies may now be
      // deferred too, as their origin read errors invalidate the snapshot.
      for (const CopyJob& job : q->jobs) job.pe->MarkBinding();
      uncopied_.push_back(q);
      copies = true;
    }
    queue_.push_back(std::move(q));
    queued_count_.store(by_offset_.size(), std::memory_order_release);
    (void)journal_->NextPrefault(&region, &prefault_off, &prefault_len);  // sets region if due
  }
  // Woken after mu_ is released: woken under it, the copier or applier (on the other CPU)
  // would find mu_ held and sleep again on it, one more futex round trip per write. Both
  // condition variables are members and both loops test their condition under mu_, so no
  // wake-up is lost.
  if (copies) copy_work_.Signal();
  work_.Signal();
  // One writer in some 200 pays for the pages the next ones store their records into, with
  // no lock held; the mapping lives as long as the journal.
  if (region) region->Populate(prefault_off, prefault_len);
  return true;
}

void DeferredWrites::CopyLoop() {
  for (;;) {
    std::vector<CopyJob> jobs;
    {
      MutexLock l(&mu_);
      while (uncopied_.empty() && !stopping_) copy_work_.Wait(&mu_);
      if (uncopied_.empty()) return;
      for (size_t n = 0; n < kCopyBatch && !uncopied_.empty(); ++n) {
        std::vector<CopyJob>& mine = uncopied_.front()->jobs;
        std::move(mine.begin(), mine.end(), std::back_inserter(jobs));
        mine.clear();
        uncopied_.pop_front();
      }
    }
    copy_(jobs);
  }
}

uint64_t DeferredWrites::LastOverlapLocked(uint64_t off, uint64_t len, bool* failed) const {
  *failed = false;
  uint64_t last = 0;
  if (by_offset_.empty()) return 0;
  const uint64_t lo = off >= longest_ ? off - longest_ + 1 : 0;
  for (auto it = by_offset_.lower_bound(lo); it != by_offset_.end() && it->first < off + len; ++it)
    if (it->first + it->second.len > off) {
      last = std::max(last, it->second.seq);
      *failed = *failed || it->second.seq <= applied_seq_;
    }
  return last;
}

void DeferredWrites::WaitOverlapping(uint64_t off, uint64_t len) {
  if (queued_count_.load(std::memory_order_acquire) == 0) return;
  MutexLock l(&mu_);
  CondVar mine;
  for (;;) {
    bool failed = false;
    const uint64_t last = LastOverlapLocked(off, len, &failed);
    if (last == 0) return;
    if (failed) {
      // What blocks us is a failed write's record: once the queue is empty, try to kill it.
      if (queue_.empty() && syncing_ == 0)
        KillFailedLocked(true);
      else
        applied_.Wait(&mu_);
      continue;
    }
    // Writes are taken out of the queue in order: once `last` is out, so are the others
    // found here. Writes queued since are looked for again.
    auto me = overlap_waiters_.emplace(last, &mine);
    while (applied_seq_ < last) mine.Wait(&mu_);
    overlap_waiters_.erase(me);
  }
}

void DeferredWrites::WaitEmpty() {
  if (queued_count_.load(std::memory_order_acquire) == 0) return;
  MutexLock l(&mu_);
  while (!queue_.empty()) applied_.Wait(&mu_);
}

Status DeferredWrites::Sync(const std::function<Status()>& sync_files, bool report) {
  Status s;
  bool settle = false;
  uint64_t generation = 0;
  {
    MutexLock l(&mu_);
    ++syncing_;
    while (!queue_.empty()) applied_.Wait(&mu_);
    // Nothing can be queued until syncing_ drops, and every record is in origin.img: a new
    // generation kills them all. Its header may reach the disk before the origin and the
    // stores do: a power cut in between loses only writes this fsync has not yet promised.
    // So the two flushes run side by side (one flush of latency, not two).
    if (!journal_->settled()) {
      s = journal_->Reset(false);
      settle = s.ok();
      generation = journal_->generation();
    }
  }
  Status journal_synced;
  std::thread journal_sync;
  if (settle) journal_sync = std::thread([this, &journal_synced] {
    journal_synced = journal_file_->Sync();
  });
  Status files = sync_files();
  if (journal_sync.joinable()) journal_sync.join();
  if (s.ok()) s = files;
  if (s.ok()) s = journal_synced;
  MutexLock l(&mu_);
  if (s.ok()) {
    if (settle) journal_->MarkHeaderSynced(generation);
    ForgetFailedLocked();
  }
  --syncing_;
  // Records of failed writes still alive: I/O held on their ranges may now kill them itself.
  if (!failed_.empty()) applied_.SignalAll();
  if (!report) return s;
  Status applied = apply_error_;
  apply_error_ = Status();
  return applied.ok() ? s : applied;
}

void DeferredWrites::KillFailedLocked(bool give_up) {
  Status r = journal_->Reset(true);
  if (!r.ok() && !give_up) return;
  if (!r.ok())
    Log(LogLevel::kError, "origin write journal: " + r.message() +
                              " (a replay may write a failed write's record again)");
  ForgetFailedLocked();
  broken_ = !r.ok();
  applied_.SignalAll();
}

void DeferredWrites::ForgetFailedLocked() {
  if (!failed_.empty()) applied_.SignalAll();  // I/O waiting on those ranges goes on
  for (const auto& [off, seq] : failed_) EraseLocked(off, seq);
  failed_.clear();
  broken_ = false;
}

void DeferredWrites::EraseLocked(uint64_t off, uint64_t seq) {
  auto [first, last] = by_offset_.equal_range(off);
  for (auto it = first; it != last; ++it)
    if (it->second.seq == seq) {
      by_offset_.erase(it);
      break;
    }
  if (by_offset_.empty()) longest_ = 0;
  queued_count_.store(by_offset_.size(), std::memory_order_release);
}

void DeferredWrites::Loop() {
  for (;;) {
    std::shared_ptr<DeferredWrite> w;
    {
      MutexLock l(&mu_);
      while (queue_.empty() && !stopping_) work_.Wait(&mu_);
      if (queue_.empty()) return;
      w = queue_.front();
    }
    // A copy that failed on its store invalidated that snapshot: the write goes on (DESIGN §4).
    for (const auto& pe : w->copies) (void)pe->Wait();
    for (const auto& [snap, c] : w->chunks) {
      snap->WaitUntilDropped();
      snap->table().WaitForTrackedReads(c);
    }
    CrashPoint("deferred-before-apply");
    Status s = origin_->WriteAt(w->off, w->len, w->data);
    CrashPoint("deferred-applied");

    MutexLock l(&mu_);
    const Status marked = s.ok() ? journal_->MarkWritten(w->journal_pos) : s;
    queue_.pop_front();
    queued_bytes_ -= w->len;
    if (!s.ok()) {
      Log(LogLevel::kError, fmt::format("origin write of {} bytes at {} after its "
                                        "acknowledgement: {}", w->len, w->off,
                                        s.message()));
      if (apply_error_.ok()) apply_error_ = s;
    }
    if (marked.ok()) {
      EraseLocked(w->off, w->seq);
    } else {
      // The record still says "not yet in origin.img": a replay would write it over any later
      // write to the range. So the range stays blocked and nothing more is deferred until a
      // durable Reset has killed the record (below, once the queue is empty, or at fsync).
      failed_.emplace_back(w->off, w->seq);
      broken_ = true;
    }
    if (queue_.empty() && syncing_ == 0) {
      if (!failed_.empty()) {
        KillFailedLocked(false);  // on failure a writer blocked by them tries again
      } else if (journal_->used() > WriteJournal::kLazyResetBytes) {
        Status r = journal_->Reset(false);
        if (!r.ok()) Log(LogLevel::kWarning, "origin write journal: " + r.message());
      }
    }
    applied_seq_ = w->seq;
    for (auto it = overlap_waiters_.begin();
         it != overlap_waiters_.end() && it->first <= applied_seq_; ++it)
      it->second->Signal();
    if (queue_.empty() || !failed_.empty()) applied_.SignalAll();
  }
}

}  // namespace snapcow
