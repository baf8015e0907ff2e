// Snapshot reads and writes (DESIGN §4).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/copy_job.h"
#include "engine/crash_point.h"
#include "engine/origin.h"
#include "engine/snapshot.h"

namespace snapcow {
namespace {

constexpr size_t kCopyPiece = 1 << 20;

Status CheckRange(const Snapshot& s, uint64_t off, uint64_t len) {
  if (off > s.size() || len > s.size() - off)
    return Status::Error(EINVAL, "I/O past the end of the snapshot");
  return Status::OK();
}

// Calls fn(chunk, offset in chunk, length, offset in the request) for each chunk piece.
template <typename Fn>
Status ForEachPiece(const Snapshot& s, uint64_t off, uint64_t len, Fn fn) {
  const uint64_t cs = s.chunk_bytes();
  uint64_t done = 0;
  while (done < len) {
    uint64_t pos = off + done;
    chunk_t c = pos / cs;
    uint64_t in = pos % cs;
    uint64_t n = std::min(len - done, cs - in);
    Status st = fn(c, in, n, done);
    if (!st.ok()) return st;
    done += n;
  }
  return Status::OK();
}

}  // namespace

Status Origin::ReadSnapshot(Snapshot& s, uint64_t off, size_t len, void* buf) {
  Status st = CheckRange(s, off, len);
  if (st.ok()) st = s.CheckReadable();
  if (!st.ok()) return st;
  auto* out = static_cast<uint8_t*>(buf);
  const uint64_t cs = s.chunk_bytes();
  return ForEachPiece(s, off, len, [&](chunk_t c, uint64_t in, uint64_t n, uint64_t at) {
    chunk_t nc;
    if (s.table().MapForRead(c, &nc))
      return s.store().cow().ReadAt(nc * cs + in, n, out + at);
    // Tracked (seed 004): an origin write to c waits until this read has returned.
    Status r = file_->ReadAt(c * cs + in, n, out + at);
    s.table().EndTrackedRead(c);
    return r;
  });
}

// Finds where chunk c of `s` is written. Either it has a complete exception (*new_chunk, and
// job->pe stays null) or this thread now owns a pending exception for it (job->pe), prepared,
// with the origin's chunk already copied when the write covers only part of it.
static Status MapSnapshotWrite(Snapshot& s, File& origin, Throttle& throttle, chunk_t c,
                               bool whole_chunk, chunk_t* new_chunk, CopyJob* job) {
  const uint64_t cs = s.chunk_bytes();
  for (;;) {
    // Seed 003: only a write that will copy waits for room, and it holds no lock meanwhile.
    if (!whole_chunk && s.table().NeedsCopy(c)) throttle.WaitForRoom();
    std::shared_ptr<PendingException> pe;
    switch (s.table().MapForWrite(c, new_chunk, &pe)) {
      case ExceptionTable::Found::kComplete:
        return Status::OK();
      case ExceptionTable::Found::kPending: {
        Status w = pe->Wait();
        if (!w.ok() && !s.valid()) return Status::Error(EIO, w.message());
        continue;  // look again: complete now, or ours to make
      }
      case ExceptionTable::Found::kCreated:
        break;
    }
    job->chunk = c;
    job->pe = std::move(pe);
    job->e.old_chunk = c;
    Status p = s.store().Prepare(&job->e);
    if (!p.ok()) {
      int err = s.Fail(p, true);
      AbandonCopy(*job, p);
      return Status::Error(err, p.message());
    }
    job->prepared = true;
    if (whole_chunk) return Status::OK();
    // The origin cannot change under us: origin writes to c join our pending exception.
    Status st;
    throttle.Started(1);
    std::vector<uint8_t> buf(std::min<uint64_t>(cs, kCopyPiece));
    for (uint64_t piece = 0; piece < cs && st.ok(); piece += buf.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), cs - piece));
      st = origin.ReadAt(c * cs + piece, n, buf.data());
      if (st.ok()) st = s.store().cow().WriteAt(job->e.new_chunk * cs + piece, n, buf.data());
    }
    throttle.Finished(1);
    if (!st.ok()) {
      int err = s.Fail(st, true);  // ENOSPC in keep mode (Overflow), else EIO (Invalid)
      AbandonCopy(*job, st);
      return Status::Error(err, st.message());
    }
    return Status::OK();
  }
}

Status Origin::WriteSnapshot(Snapshot& s, uint64_t off, size_t len, const void* buf) {
  Status st = CheckRange(s, off, len);
  if (st.ok()) st = s.CheckWritable();
  if (!st.ok()) return st;
  std::shared_ptr<Snapshot> self = Find(s.number());
  if (!self) return Status::Error(ENOENT, "snapshot was deleted");
  const auto* in = static_cast<const uint8_t*>(buf);
  const uint64_t cs = s.chunk_bytes();
  return ForEachPiece(s, off, len, [&](chunk_t c, uint64_t at_in, uint64_t n, uint64_t at) {
    chunk_t nc = 0;
    CopyJob job{self, c, nullptr, {}, false};
    Status m = MapSnapshotWrite(s, *file_, throttle_, c, at_in == 0 && n == cs, &nc, &job);
    if (!m.ok()) return m;
    if (!job.pe) return s.store().cow().WriteAt(nc * cs + at_in, n, in + at);
    Status w = s.store().cow().WriteAt(job.e.new_chunk * cs + at_in, n, in + at);
    CrashPoint("cow-data-written");
    if (!w.ok()) {
      int err = s.Fail(w, true);  // ENOSPC in keep mode (Overflow), else EIO (Invalid)
      AbandonCopy(job, w);
      return Status::Error(err, w.message());
    }
    CommitCopy(job);  // acknowledged only once durable (DESIGN §4)
    Status r = job.pe->Wait();
    return r.ok() ? r : Status::Error(EIO, r.message());
  });
}

Status Origin::DiscardSnapshot(Snapshot& s, uint64_t off, uint64_t len) {
  std::vector<uint8_t> zeros(static_cast<size_t>(std::min<uint64_t>(len, kCopyPiece)), 0);
  for (uint64_t done = 0; done < len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), len - done));
    Status st = WriteSnapshot(s, off + done, n, zeros.data());
    if (!st.ok()) return st;
    done += n;
  }
  return Status::OK();
}

Status Origin::SyncSnapshot(Snapshot& s) {
  Status st = s.CheckReadable();
  if (!st.ok()) return st;
  st = s.store().Sync();
  if (!st.ok()) s.Fail(st, true);
  return st;
}

}  // namespace snapcow
