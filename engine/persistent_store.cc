#include "engine/persistent_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/crash_point.h"
#include "engine/crc32c.h"
#include "engine/format.h"
#include "engine/le.h"

namespace snapcow {
namespace fmtc = format;

namespace {

constexpr size_t kLoadPiece = 1 << 20;  // areas are read in pieces of at most this much

Status Corrupt(const File& f, uint64_t off, const std::string& what) {
  return Status::Error(EUCLEAN, fmt::format("{}: offset {}: {}", f.name(), off, what));
}

void EncodeExtension(const StoreParams& p, uint8_t* ext) {
  std::memset(ext, 0, fmtc::kExtBytes);
  le::Put32(ext + fmtc::kExtOffMagic, fmtc::kExtMagic);
  le::Put32(ext + fmtc::kExtOffVersion, fmtc::kExtVersion);
  le::Put32(ext + fmtc::kExtOffLength, fmtc::kExtBytes);
  le::Put64(ext + fmtc::kExtOffOriginBytes, p.identity.origin_bytes);
  le::Put64(ext + fmtc::kExtOffCreated, static_cast<uint64_t>(p.identity.created_unix));
  le::Put32(ext + fmtc::kExtOffNumber, p.identity.number);
  uint32_t flags = (p.config.read_only ? fmtc::kFlagReadOnly : 0) |
                   (p.config.overflow == OverflowMode::kKeep ? fmtc::kFlagOverflowKeep : 0);
  le::Put32(ext + fmtc::kExtOffFlags, flags);
  le::Put64(ext + fmtc::kExtOffMaxCow, p.config.max_cow_bytes);
  le::Put32(ext + fmtc::kExtOffChunkBytes, p.config.chunk_bytes);
  le::Put32(ext + fmtc::kExtOffCrc, Crc32c(ext, fmtc::kExtBytes));
}

// Decodes the extension block into `p`; absent (all zero) is fine.
Status DecodeExtension(const File& f, const uint8_t* ext, StoreParams* p) {
  const uint64_t base = fmtc::kExtOffset;
  if (std::all_of(ext, ext + fmtc::kExtBytes, [](uint8_t b) { return b == 0; })) {
    p->identity.has_extension = false;
    return Status::OK();
  }
  if (le::Get32(ext + fmtc::kExtOffMagic) != fmtc::kExtMagic)
    return Corrupt(f, base, "extension block has a bad magic number");
  if (le::Get32(ext + fmtc::kExtOffVersion) != fmtc::kExtVersion)
    return Corrupt(f, base + fmtc::kExtOffVersion, "unknown extension block version");
  if (le::Get32(ext + fmtc::kExtOffLength) != fmtc::kExtBytes)
    return Corrupt(f, base + fmtc::kExtOffLength, "bad extension block length");
  uint8_t copy[fmtc::kExtBytes];
  std::memcpy(copy, ext, sizeof copy);
  le::Put32(copy + fmtc::kExtOffCrc, 0);
  if (Crc32c(copy, sizeof copy) != le::Get32(ext + fmtc::kExtOffCrc))
    return Corrupt(f, base + fmtc::kExtOffCrc, "extension block checksum mismatch");
  uint32_t chunk = le::Get32(ext + fmtc::kExtOffChunkBytes);
  if (chunk != p->config.chunk_bytes)
    return Corrupt(f, base + fmtc::kExtOffChunkBytes,
                   fmt::format("chunk size {} in extension block differs from {} in header",
                               chunk, p->config.chunk_bytes));
  uint32_t flags = le::Get32(ext + fmtc::kExtOffFlags);
  if (flags & ~(fmtc::kFlagReadOnly | fmtc::kFlagOverflowKeep))
    return Corrupt(f, base + fmtc::kExtOffFlags, "unknown flags in extension block");
  p->identity.has_extension = true;
  p->identity.origin_bytes = le::Get64(ext + fmtc::kExtOffOriginBytes);
  p->identity.created_unix = static_cast<int64_t>(le::Get64(ext + fmtc::kExtOffCreated));
  p->identity.number = le::Get32(ext + fmtc::kExtOffNumber);
  p->config.read_only = flags & fmtc::kFlagReadOnly;
  p->config.overflow =
      (flags & fmtc::kFlagOverflowKeep) ? OverflowMode::kKeep : OverflowMode::kInvalidate;
  p->config.max_cow_bytes = le::Get64(ext + fmtc::kExtOffMaxCow);
  p->identity.read_only = p->config.read_only;
  p->identity.overflow = p->config.overflow;
  p->identity.max_cow_bytes = p->config.max_cow_bytes;
  return Status::OK();
}

}  // namespace

PersistentStore::PersistentStore(std::unique_ptr<File> cow, const StoreParams& p)
    : cow_(std::move(cow)),
      chunk_bytes_(p.config.chunk_bytes),
      epa_(fmtc::EntriesPerArea(p.config.chunk_bytes)),
      max_chunks_(p.config.max_cow_bytes / p.config.chunk_bytes),
      origin_chunks_(p.origin_chunks) {}

Status PersistentStore::Create(std::unique_ptr<File> cow, const StoreParams& p,
                               std::unique_ptr<ExceptionStore>* out) {
  std::vector<uint8_t> head(4096, 0);
  le::Put32(&head[fmtc::kOffMagic], fmtc::kMagic);
  le::Put32(&head[fmtc::kOffValid], 1);
  le::Put32(&head[fmtc::kOffVersion], fmtc::kVersion);
  le::Put32(&head[fmtc::kOffChunkSectors], p.config.chunk_bytes / fmtc::kSectorBytes);
  EncodeExtension(p, &head[fmtc::kExtOffset]);
  Status s = cow->WriteAt(0, head.size(), head.data());
  // Area 0 must read as zeros: the file is new, so extending it over area 0 is enough.
  const uint8_t zero = 0;
  if (s.ok()) s = cow->WriteAt(2ull * p.config.chunk_bytes - 1, 1, &zero);
  if (s.ok()) s = cow->Sync();
  if (!s.ok()) return s;
  std::unique_ptr<PersistentStore> st(new PersistentStore(std::move(cow), p));
  {
    MutexLock l(&st->alloc_mu_);
    st->next_free_ = fmtc::kHeaderChunks + 1;
  }
  out->reset(st.release());
  return Status::OK();
}

Status PersistentStore::Load(std::unique_ptr<File> cow, uint64_t current_origin_bytes,
                             StoreParams* p, const LoadCallback& cb,
                             std::unique_ptr<ExceptionStore>* out) {
  const File& f = *cow;
  uint64_t file_size = 0;
  Status s = cow->Size(&file_size);
  if (!s.ok()) return s;
  if (file_size < fmtc::kExtOffset + fmtc::kExtBytes)
    return Corrupt(f, file_size, "file too short for a snapshot store header");
  uint8_t head[fmtc::kExtOffset + fmtc::kExtBytes];
  s = cow->ReadAt(0, sizeof head, head);
  if (!s.ok()) return s;
  if (le::Get32(head + fmtc::kOffMagic) != fmtc::kMagic)
    return Corrupt(f, fmtc::kOffMagic, "bad magic number (not a dm-snapshot store)");
  uint32_t valid = le::Get32(head + fmtc::kOffValid);
  if (valid > 1) return Corrupt(f, fmtc::kOffValid, fmt::format("bad valid flag {}", valid));
  uint32_t version = le::Get32(head + fmtc::kOffVersion);
  if (version != fmtc::kVersion)
    return Corrupt(f, fmtc::kOffVersion, fmt::format("unsupported version {}", version));
  uint64_t chunk = uint64_t{le::Get32(head + fmtc::kOffChunkSectors)} * fmtc::kSectorBytes;
  if (chunk < kMinChunkBytes || chunk > kMaxChunkBytes || (chunk & (chunk - 1)) != 0)
    return Corrupt(f, fmtc::kOffChunkSectors, fmt::format("bad chunk size {} bytes", chunk));
  p->config.chunk_bytes = static_cast<uint32_t>(chunk);
  p->config.persistent = true;
  s = DecodeExtension(f, head + fmtc::kExtOffset, p);
  if (!s.ok()) return s;
  if (!p->identity.has_extension) p->identity.origin_bytes = current_origin_bytes;
  p->origin_chunks = (p->identity.origin_bytes + chunk - 1) / chunk;
  if (file_size < 2 * chunk)
    return Corrupt(f, file_size, "truncated: metadata area 0 is missing");

  std::unique_ptr<PersistentStore> st(new PersistentStore(std::move(cow), *p));
  const uint64_t epa = st->epa_;
  uint64_t count = 0;
  chunk_t max_new = fmtc::kHeaderChunks;  // so allocation starts after area 0
  if (valid == 0) {
    st->valid_ = false;
  } else {
    std::vector<uint8_t> buf;
    for (uint64_t area = 0;; ++area) {
      uint64_t area_off = fmtc::AreaLocation(epa, area) * chunk;
      if (area_off + chunk > file_size)
        return Corrupt(f, area_off,
                       fmt::format("truncated: metadata area {} is missing after a full area",
                                   area));
      bool terminated = false;
      for (uint64_t piece = 0; piece < chunk && !terminated; piece += kLoadPiece) {
        size_t len = static_cast<size_t>(std::min<uint64_t>(kLoadPiece, chunk - piece));
        buf.resize(len);
        s = st->cow_->ReadAt(area_off + piece, len, buf.data());
        if (!s.ok()) return s;
        for (size_t i = 0; i < len; i += fmtc::kEntryBytes) {
          uint64_t off = area_off + piece + i;
          chunk_t old_chunk = le::Get64(&buf[i]);
          chunk_t new_chunk = le::Get64(&buf[i + 8]);
          if (new_chunk == 0) {
            terminated = true;
            break;
          }
          if (fmtc::IsAreaChunk(epa, new_chunk))
            return Corrupt(f, off,
                           fmt::format("exception {} points to chunk {}, which is a metadata area",
                                       count, new_chunk));
          if (new_chunk >= file_size / chunk)
            return Corrupt(f, off,
                           fmt::format("exception {} points to chunk {}, past the end of the file",
                                       count, new_chunk));
          if (p->identity.has_extension && old_chunk >= p->origin_chunks)
            return Corrupt(f, off,
                           fmt::format("exception {} is for chunk {}, outside the {}-chunk image",
                                       count, old_chunk, p->origin_chunks));
          cb(old_chunk, new_chunk);
          max_new = std::max(max_new, new_chunk);
          ++count;
        }
      }
      if (terminated) break;
    }
  }
  chunk_t next = max_new + 1;
  if (fmtc::IsAreaChunk(epa, next)) ++next;
  {
    MutexLock l(&st->alloc_mu_);
    st->next_free_ = next;
    st->next_seq_ = count;
  }
  st->base_seq_ = count;
  {
    MutexLock l(&st->commit_mu_);
    st->next_commit_ = count;
    st->zeroed_area_ = count / epa;
  }
  {
    // The partly filled area must be rewritten whole-entry-wise on the next commit: load its
    // committed bytes into the buffer.
    Area* a = st->GetArea(count / epa);
    uint64_t filled = (count % epa) * fmtc::kEntryBytes;
    MutexLock l(&a->mu);
    a->entries.resize(filled);
    if (filled > 0) {
      s = st->cow_->ReadAt(fmtc::AreaLocation(epa, count / epa) * chunk, filled,
                           a->entries.data());
      if (!s.ok()) return s;
    }
  }
  out->reset(st.release());
  return Status::OK();
}

Status PersistentStore::Prepare(Exception* e) {
  if (!valid()) return Status::Error(EIO, cow_->name() + ": snapshot is invalid");
  MutexLock l(&alloc_mu_);
  chunk_t c = next_free_;
  if (fmtc::IsAreaChunk(epa_, c)) ++c;
  if (max_chunks_ != 0 && c >= max_chunks_)
    return Status::Error(ENOSPC, cow_->name() + ": snapshot store is full");
  next_free_ = c + 1;
  e->new_chunk = c;
  e->seq = next_seq_++;
  return Status::OK();
}

PersistentStore::Area* PersistentStore::GetArea(uint64_t area) {
  MutexLock l(&areas_mu_);
  auto& slot = areas_[area];
  if (!slot) slot = std::make_unique<Area>();
  return slot.get();
}

void PersistentStore::ForgetAreasBefore(uint64_t area) {
  MutexLock l(&areas_mu_);
  areas_.erase(areas_.begin(), areas_.lower_bound(area));
}

bool PersistentStore::Enqueue(const Exception& e, CommitCallback& cb, bool* lead) {
  if (!valid()) return false;
  Area* a = GetArea(e.seq / epa_);
  {
    MutexLock l(&a->mu);
    size_t off = (e.seq % epa_) * fmtc::kEntryBytes;
    if (a->entries.size() < off + fmtc::kEntryBytes) a->entries.resize(off + fmtc::kEntryBytes);
    le::Put64(&a->entries[off], e.old_chunk);
    le::Put64(&a->entries[off + 8], e.new_chunk);
  }
  MutexLock l(&commit_mu_);
  // Drop() clears valid_ before it fails what is queued; checking again here under the lock
  // means no entry is queued after that and forgotten.
  if (!valid()) return false;
  ready_.emplace(e.seq, Ready{e, std::move(cb)});
  if (!committing_) {  // else the committer will take it
    committing_ = true;
    *lead = true;
  }
  return true;
}

void PersistentStore::Commit(const Exception& e, CommitCallback cb) {
  std::vector<std::pair<Exception, CommitCallback>> one;
  one.emplace_back(e, std::move(cb));
  if (QueueCommits(std::move(one))) RunCommitter();
}

bool PersistentStore::QueueCommits(std::vector<std::pair<Exception, CommitCallback>> batch) {
  bool lead = false;
  for (auto& [e, cb] : batch)
    if (!Enqueue(e, cb, &lead)) cb(Status::Error(EIO, cow_->name() + ": snapshot is invalid"));
  return lead;
}

void PersistentStore::RunCommitter() {
  for (;;) {
    uint64_t first, n = 0;
    std::vector<CommitCallback> cbs;
    {
      MutexLock l(&commit_mu_);
      first = next_commit_;
      for (auto it = ready_.find(first); it != ready_.end() && it->first == first + n;
           it = ready_.erase(it)) {
        cbs.push_back(std::move(it->second.cb));
        ++n;
      }
      if (n == 0) {
        committing_ = false;
        return;
      }
    }
    Status s = valid() ? WriteBatch(first, n)
                       : Status::Error(EIO, cow_->name() + ": snapshot is invalid");
    {
      MutexLock l(&commit_mu_);
      next_commit_ = first + n;
    }
    if (!s.ok()) {
      valid_ = false;
      FailAll(s);
    }
    for (auto& cb : cbs) cb(s);
  }
}

Status PersistentStore::WriteBatch(uint64_t first, uint64_t n) {
  const uint64_t last = first + n - 1;
  const uint64_t first_area = first / epa_, last_area = last / epa_;
  // Every area this batch fills needs its successor zeroed on disk first (FORMAT.md §3.2).
  uint64_t need_zeroed = (last + 1) / epa_;
  uint64_t zeroed;
  {
    MutexLock l(&commit_mu_);
    zeroed = zeroed_area_;
  }
  if (need_zeroed > zeroed) {
    std::vector<uint8_t> zeros(std::min<uint64_t>(chunk_bytes_, kLoadPiece), 0);
    for (uint64_t a = zeroed + 1; a <= need_zeroed; ++a) {
      uint64_t base = fmtc::AreaLocation(epa_, a) * chunk_bytes_;
      for (uint64_t off = 0; off < chunk_bytes_; off += zeros.size()) {
        Status s = cow_->WriteAt(base + off, zeros.size(), zeros.data());
        if (!s.ok()) return s;
      }
    }
  }
  Status s = cow_->Sync();  // data (and fresh areas) before the entries that name them
  if (!s.ok()) return s;
  CrashPoint("area-before-write");
  for (uint64_t area = first_area; area <= last_area; ++area) {
    uint64_t from = std::max(first, area * epa_) % epa_;
    uint64_t to = std::min(last, area * epa_ + epa_ - 1) % epa_;
    Area* a = GetArea(area);
    MutexLock l(&a->mu);
    // Only the batch's own slots: a later slot filled meanwhile is not durable data yet.
    s = cow_->WriteAt(fmtc::AreaLocation(epa_, area) * chunk_bytes_ + from * fmtc::kEntryBytes,
                      (to - from + 1) * fmtc::kEntryBytes, &a->entries[from * fmtc::kEntryBytes]);
    if (!s.ok()) return s;
  }
  CrashPoint("area-after-write");
  s = cow_->Sync();
  if (!s.ok()) return s;
  {
    MutexLock l(&commit_mu_);
    zeroed_area_ = std::max(zeroed_area_, need_zeroed);
  }
  if (last_area > first_area || (last + 1) % epa_ == 0) ForgetAreasBefore((last + 1) / epa_);
  return Status::OK();
}

void PersistentStore::FailAll(const Status& s) {
  std::map<uint64_t, Ready> failed;
  {
    MutexLock l(&commit_mu_);
    failed.swap(ready_);
  }
  for (auto& [seq, r] : failed) r.cb(s);
}

Status PersistentStore::Drop() {
  valid_ = false;
  uint8_t head[fmtc::kHeaderBytes];
  Status s = cow_->ReadAt(0, sizeof head, head);
  if (s.ok()) {
    le::Put32(head + fmtc::kOffValid, 0);
    CrashPoint("header-before-rewrite");
    s = cow_->WriteAt(0, sizeof head, head);
    CrashPoint("header-after-rewrite");
  }
  if (s.ok()) s = cow_->Sync();
  FailAll(Status::Error(EIO, cow_->name() + ": snapshot is invalid"));
  return s;
}

Status PersistentStore::Sync() { return cow_->Sync(); }

StoreUsage PersistentStore::Usage() const {
  const uint64_t sectors = chunk_bytes_ / fmtc::kSectorBytes;
  MutexLock l(&alloc_mu_);
  StoreUsage u;
  u.sectors_allocated = next_free_ * sectors;
  uint64_t areas = next_seq_ / epa_ + 1;
  u.metadata_sectors = (areas + fmtc::kHeaderChunks) * sectors;
  uint64_t full = fmtc::kHeaderChunks + origin_chunks_ + (origin_chunks_ + epa_ - 1) / epa_ + 1;
  u.total_sectors = (max_chunks_ != 0 ? max_chunks_ : full) * sectors;
  return u;
}

}  // namespace snapcow
