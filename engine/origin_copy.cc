// The origin write path (DESIGN §4): before chunk c of the origin changes, every valid
// snapshot that has no exception for c gets a copy of its old data, durably, and no tracked
// snapshot read of c is still reading the origin.
#include <algorithm>
#include <cerrno>
#include <vector>

#include "engine/copy_job.h"
#include "engine/crash_point.h"
#include "engine/deferred_writes.h"
#include "engine/origin.h"
#include "engine/snapshot.h"

namespace snapcow {
namespace {

constexpr size_t kCopyPiece = 1 << 20;  // chunks larger than this are copied in pieces


// Calls fn(chunk) for every chunk of `s` overlapping [off, off+len) inside the snapshot.
template <typename Fn>
void ForEachChunk(const Snapshot& s, uint64_t off, uint64_t len, Fn fn) {
  uint64_t end = std::min(off + len, s.size());
  if (off >= end) return;
  const uint64_t cs = s.chunk_bytes();
  for (chunk_t c = off / cs; c <= (end - 1) / cs; ++c) fn(c);
}

}  // namespace

bool QueueCopies(const std::vector<CopyJob*>& jobs) {
  std::vector<std::pair<Exception, CommitCallback>> batch;
  for (CopyJob* job : jobs) {
    std::shared_ptr<Snapshot> snap = job->snap;
    std::shared_ptr<PendingException> pe = job->pe;
    const chunk_t c = job->chunk, nc = job->e.new_chunk;
    batch.emplace_back(job->e, [snap, pe, c, nc](const Status& s) {
      if (s.ok()) {
        snap->table().CompletePending(c, nc);
      } else {
        snap->Fail(s, false);
        snap->table().RemovePending(c);
      }
      pe->Complete(s);
    });
  }
  // The jobs may be gone once their callbacks ran: only `batch` and `keep` are used from here.
  std::shared_ptr<Snapshot> keep = jobs.front()->snap;
  return keep->store().QueueCommits(std::move(batch));
}

void CommitCopy(CopyJob& job) {
  std::shared_ptr<Snapshot> keep = job.snap;
  if (QueueCopies({&job})) keep->store().RunCommits();
}

void AbandonCopy(CopyJob& job, const Status& why) {
  job.snap->table().RemovePending(job.chunk);
  job.pe->Complete(why);
}

bool Origin::NeedsCopy(const SnapshotList& list, uint64_t off, uint64_t len) {
  bool needs = false;
  for (const auto& s : list) {
    if (needs || !s->valid()) continue;
    ForEachChunk(*s, off, len, [&](chunk_t c) { needs = needs || s->table().NeedsCopy(c); });
  }
  return needs;
}

// Copies the jobs' chunks from the origin into their stores, jobs with the same extent
// sharing one read of the origin, and commits them. Errors reading the origin are returned
// (for a writer: its write fails, no snapshot changes; after the acknowledgement they fail
// the snapshots); store errors fail that snapshot only.
Status Origin::RunCopies(std::vector<CopyJob>& jobs, CopyFor who) {
  std::sort(jobs.begin(), jobs.end(), [](const CopyJob& a, const CopyJob& b) {
    return std::make_pair(a.byte_offset(), a.snap->chunk_bytes()) <
           std::make_pair(b.byte_offset(), b.snap->chunk_bytes());
  });
  Status result;
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < jobs.size();) {
    size_t j = i;
    const uint64_t off = jobs[i].byte_offset();
    const uint32_t cs = jobs[i].snap->chunk_bytes();
    while (j < jobs.size() && jobs[j].byte_offset() == off && jobs[j].snap->chunk_bytes() == cs)
      ++j;
    for (uint64_t piece = 0; piece < cs; piece += kCopyPiece) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kCopyPiece, cs - piece));
      buf.resize(n);
      Status s = file_->ReadAt(off + piece, n, buf.data());
      for (size_t k = i; k < j; ++k) {
        CopyJob& job = jobs[k];
        if (job.pe == nullptr) continue;  // already failed
        if (!s.ok()) {
          // Before anything was allocated the origin error is the writer's alone; a failure
          // half-way through a large chunk leaves an allocated exception we cannot fill, and
          // an acknowledged write goes to origin.img whatever the copy did.
          if (job.prepared || who == CopyFor::kAcknowledged) job.snap->Fail(s, false);
          AbandonCopy(job, s);
          job.pe = nullptr;
          continue;
        }
        if (!job.prepared) {
          Status p = job.snap->store().Prepare(&job.e);
          if (!p.ok()) {
            job.snap->Fail(p, false);
            AbandonCopy(job, p);
            job.pe = nullptr;
            continue;
          }
          job.prepared = true;
        }
        Status w = job.snap->store().cow().WriteAt(job.e.new_chunk * cs + piece, n, buf.data());
        CrashPoint("cow-data-written");
        if (!w.ok()) {
          job.snap->Fail(w, false);
          AbandonCopy(job, w);
          job.pe = nullptr;
        }
      }
      if (!s.ok()) result = s;
    }
    for (size_t k = i; k < j; ++k)
      if (jobs[k].pe) jobs[k].pe->MarkBinding();
    i = j;
  }
  // Queue every store's commits first, then run the committers that are not running yet:
  // side by side on the pool, the last one here. A committer covers whatever every writer
  // has queued in its store by then (group commit across writers and snapshots).
  // The jobs are sorted by extent, so group them by store first.
  std::vector<std::vector<CopyJob*>> by_store;
  for (auto& job : jobs) {
    if (!job.pe) continue;
    auto it = std::find_if(by_store.begin(), by_store.end(),
                           [&](const auto& g) { return g.front()->snap == job.snap; });
    if (it == by_store.end())
      by_store.push_back({&job});
    else
      it->push_back(&job);
  }
  std::vector<std::shared_ptr<Snapshot>> to_run;
  for (const auto& group : by_store) {
    std::shared_ptr<Snapshot> snap = group.front()->snap;  // the jobs may end once queued
    if (QueueCopies(group)) to_run.push_back(std::move(snap));
  }
  for (size_t i = 0; i < to_run.size(); ++i) {
    if (who == CopyFor::kWriter && i + 1 == to_run.size())
      to_run[i]->store().RunCommits();
    else
      commit_pool_.Run([snap = to_run[i]] { snap->store().RunCommits(); });
  }
  return result;
}

Status Origin::Preserve(uint64_t off, uint64_t len, const void* data, bool* deferred) {
  *deferred = false;
  auto list = List();
  if (list->empty()) return Status::OK();
  // Seed 003: wait for room holding no lock, and only when this write will start a copy.
  if (NeedsCopy(*list, off, len)) throttle_.WaitForRoom();

  std::vector<CopyJob> owned;
  std::vector<std::pair<Snapshot*, std::shared_ptr<PendingException>>> joined;
  std::vector<std::pair<std::shared_ptr<Snapshot>, chunk_t>> touched;
  for (const auto& s : *list) {
    if (!s->valid()) {
      s->WaitUntilDropped();
      continue;
    }
    ForEachChunk(*s, off, len, [&](chunk_t c) {
      chunk_t nc;
      std::shared_ptr<PendingException> pe;
      switch (s->table().MapForWrite(c, &nc, &pe)) {
        case ExceptionTable::Found::kComplete:
          break;
        case ExceptionTable::Found::kPending:
          joined.emplace_back(s.get(), std::move(pe));
          break;
        case ExceptionTable::Found::kCreated:
          owned.push_back(CopyJob{s, c, std::move(pe), {}, false});
          owned.back().e.old_chunk = c;
          break;
      }
      touched.emplace_back(s, c);
    });
  }
  const uint32_t started = static_cast<uint32_t>(owned.size());
  if (started > 0) throttle_.Started(started);
  // A write may be deferred when every copy it needs is its own (the copier makes them) or
  // can fail only by invalidating its snapshot (PendingException::binding): only writing
  // origin.img itself can then fail the write, and the writer's next fsync reports that
  // (FORMAT.md §7), as the kernel reports a failed writeback. The writer then pays for the
  // journal record alone: the copies of many writes are made by the copier, one batch at a
  // time, with one group commit per store for the batch.
  bool may_defer = data != nullptr && deferred_ && (started > 0 || !joined.empty());
  for (const auto& [snap, pe] : joined) may_defer = may_defer && pe->binding();
  if (may_defer) {
    DeferredWrite w;
    w.off = off;
    w.data.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + len);
    for (auto& job : owned) w.copies.push_back(job.pe);
    for (auto& [snap, pe] : joined) w.copies.push_back(pe);
    w.chunks = touched;
    w.throttled = started;
    w.jobs = std::move(owned);
    if (deferred_->Defer(w)) {
      *deferred = true;
      return Status::OK();
    }
    owned = std::move(w.jobs);  // refused: the copies are ours again
  }
  Status result = RunCopies(owned, CopyFor::kWriter);
  for (auto& job : owned)
    if (job.pe) {
      Status s = job.pe->Wait();
      (void)s;  // a store failure invalidated that snapshot; the origin write goes on
    }
  for (auto& [snap, pe] : joined) {
    Status s = pe->Wait();
    // The copy we joined failed on the origin, not the store: the chunk is not preserved, so
    // this write must not go through either.
    if (!s.ok() && snap->valid() && result.ok()) result = s;
  }
  for (const auto& [snap, c] : touched) {
    snap->WaitUntilDropped();  // a copy failed on its store (invalidated by any thread)
    snap->table().WaitForTrackedReads(c);
  }
  if (started > 0) throttle_.Finished(started);
  return result;
}

}  // namespace snapcow
