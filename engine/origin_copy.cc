// The origin write path (DESIGN §4): before chunk c of the origin changes, every valid
// snapshot that has no exception for c gets a copy of its old data, durably, and no tracked
// snapshot read of c is still reading the origin.
#include <algorithm>
#include <cerrno>
#include <functional>
#include <utility>
#include <vector>

#include "engine/copy_buffer.h"
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

namespace {

// The origin data one round of RunCopies holds at once (at least one extent or piece).
constexpr size_t kCopyWindow = 4 << 20;

// One extent of the origin (a whole chunk, or a piece of a large one) and the jobs that
// need it: jobs[first, end) share its offset and chunk size.
struct CopyExtent {
  size_t first, end;
  uint64_t piece;  // offset of the piece within the chunk
  size_t len;
  uint8_t* data;  // in the round's buffer
};

// One extent's bytes for one job's store.
struct CowWrite {
  File* cow;
  uint64_t off;
  uint8_t* data;
  size_t len;
  size_t job;
};

void FailCopy(CopyJob& job, const Status& why) {
  job.snap->Fail(why, false);
  AbandonCopy(job, why);
  job.pe = nullptr;
}

// Writes `writes` to their stores, each run of consecutive bytes of one store as one request
// (File::WriteRunAt): the copier's batches allocate consecutive COW chunks, so a batch of 64
// first writes goes out as one 1 MiB write per store instead of 64. A failed run fails the
// snapshots of its jobs; the writes of jobs already failed are skipped.
void WriteCopies(std::vector<CowWrite>& writes, std::vector<CopyJob>& jobs) {
  std::sort(writes.begin(), writes.end(), [](const CowWrite& a, const CowWrite& b) {
    if (a.cow != b.cow) return std::less<File*>()(a.cow, b.cow);  // any order of stores
    return a.off < b.off;
  });
  std::vector<struct iovec> iov;
  std::vector<size_t> run_jobs;
  for (size_t i = 0; i < writes.size();) {
    if (jobs[writes[i].job].pe == nullptr) {
      ++i;
      continue;
    }
    File* cow = writes[i].cow;
    const uint64_t off = writes[i].off;
    uint64_t next = off;
    iov.clear();
    run_jobs.clear();
    for (; i < writes.size() && writes[i].cow == cow && writes[i].off == next &&
           jobs[writes[i].job].pe != nullptr;
         ++i) {
      iov.push_back({writes[i].data, writes[i].len});
      run_jobs.push_back(writes[i].job);
      next += writes[i].len;
    }
    Status w = cow->WriteRunAt(off, iov.data(), static_cast<int>(iov.size()));
    CrashPoint("cow-data-written");
    if (!w.ok())
      for (size_t k : run_jobs)
        if (jobs[k].pe) FailCopy(jobs[k], w);
  }
}

}  // namespace

// Copies the jobs' chunks from the origin into their stores, jobs with the same extent
// sharing one read of the origin, and commits them. Errors reading the origin are returned
// (for a writer: its write fails, no snapshot changes; after the acknowledgement they fail
// the snapshots); store errors fail that snapshot only. The origin data goes through
// `buffer`, one round of up to kCopyWindow bytes at a time.
Status Origin::RunCopies(std::vector<CopyJob>& jobs, CopyFor who, CopyBuffer* buffer) {
  std::sort(jobs.begin(), jobs.end(), [](const CopyJob& a, const CopyJob& b) {
    return std::make_pair(a.byte_offset(), a.snap->chunk_bytes()) <
           std::make_pair(b.byte_offset(), b.snap->chunk_bytes());
  });
  Status result;
  std::vector<CopyExtent> extents;
  std::vector<CowWrite> writes;
  size_t next = 0;      // the first job of the next round's first extent
  uint64_t piece = 0;   // and where in its chunk that extent starts
  while (next < jobs.size()) {
    extents.clear();
    size_t bytes = 0;
    while (next < jobs.size()) {
      const uint64_t off = jobs[next].byte_offset();
      const uint32_t cs = jobs[next].snap->chunk_bytes();
      size_t end = next;
      while (end < jobs.size() && jobs[end].byte_offset() == off &&
             jobs[end].snap->chunk_bytes() == cs)
        ++end;
      const size_t len = static_cast<size_t>(std::min<uint64_t>(kCopyPiece, cs - piece));
      if (!extents.empty() && bytes + len > kCopyWindow) break;
      extents.push_back(CopyExtent{next, end, piece, len, nullptr});
      bytes += len;
      piece += len;
      if (piece == cs) {
        next = end;
        piece = 0;
      }
    }
    uint8_t* mem = buffer->Get(bytes);
    writes.clear();
    for (CopyExtent& x : extents) {
      x.data = mem;
      Status s = mem ? file_->ReadAt(jobs[x.first].byte_offset() + x.piece, x.len, x.data)
                     : Status::Error(ENOMEM, "no memory to copy a chunk for the snapshots");
      if (mem) mem += x.len;
      for (size_t k = x.first; k < x.end; ++k) {
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
            FailCopy(job, p);
            continue;
          }
          job.prepared = true;
        }
        writes.push_back(CowWrite{&job.snap->store().cow(),
                                  job.e.new_chunk * job.snap->chunk_bytes() + x.piece, x.data,
                                  x.len, k});
      }
      if (!s.ok()) result = s;
    }
    WriteCopies(writes, jobs);
    for (const CopyExtent& x : extents)
      if (x.piece + x.len == jobs[x.first].snap->chunk_bytes())  // the chunk's last piece
        for (size_t k = x.first; k < x.end; ++k)
          if (jobs[k].pe) jobs[k].pe->MarkBinding();
  }
  // Every job was started against the throttle (Preserve). A copy is in flight until its
  // data is in the store or has failed; dm ends the count in kcopyd's callback, before the
  // commit (seed 003). Counted until the origin write instead, 2,048 deferred copies, most
  // of them long committed, filled the throttle at libaio QD16 and writers slept on it
  // while the disk flushed (2026-12-07). Writes waiting for their commits are bounded by the
  // journal and DeferredWrites::kMaxQueuedBytes.
  if (!jobs.empty()) throttle_.Finished(static_cast<uint32_t>(jobs.size()));
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
    w.len = len;
    w.data = static_cast<const uint8_t*>(data);  // Defer copies it into the journal
    for (auto& job : owned) w.copies.push_back(job.pe);
    for (auto& [snap, pe] : joined) w.copies.push_back(pe);
    w.chunks = touched;
    w.jobs = std::move(owned);
    if (deferred_->Defer(w)) {
      *deferred = true;
      return Status::OK();
    }
    owned = std::move(w.jobs);  // refused: the copies are ours again
  }
  CopyBuffer buffer;
  Status result = RunCopies(owned, CopyFor::kWriter, &buffer);
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
  return result;
}

}  // namespace snapcow
