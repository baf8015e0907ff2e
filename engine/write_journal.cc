#include "engine/write_journal.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/crc32c.h"
#include "engine/le.h"

namespace snapcow {
namespace {

using le::Get32;
using le::Get64;
using le::Put32;
using le::Put64;

constexpr uint32_t kHeaderMagic = 0x4a574353;  // "SCWJ"
constexpr uint32_t kRecordMagic = 0x52574353;  // "SCWR"
constexpr uint32_t kVersion = 1;
constexpr uint32_t kStatePending = 1;
constexpr uint32_t kStateWritten = 2;
constexpr size_t kHeaderBytes = 20;
constexpr size_t kRecordHeader = 64;
constexpr size_t kAlign = 512;
constexpr uint32_t kMaxLength = 64u << 20;

uint64_t RecordBytes(uint64_t len) { return (kRecordHeader + len + kAlign - 1) / kAlign * kAlign; }

uint32_t HeaderCrc(const uint8_t* h) {
  uint8_t copy[40];
  std::memcpy(copy, h, sizeof copy);
  Put32(copy + 4, 0);  // the state is outside the CRC
  return Crc32c(copy, sizeof copy);
}

// The 64-byte header of a record not yet in origin.img; bytes 44-63 are left as they are.
void FillRecordHeader(uint8_t* h, uint64_t generation, uint64_t sequence, uint64_t off,
                      size_t len, uint32_t data_crc) {
  Put32(h, kRecordMagic);
  Put32(h + 4, kStatePending);
  Put64(h + 8, generation);
  Put64(h + 16, sequence);
  Put64(h + 24, off);
  Put32(h + 32, static_cast<uint32_t>(len));
  Put32(h + 36, data_crc);
  Put32(h + 40, HeaderCrc(h));
}

}  // namespace

Status WriteJournal::Open(std::unique_ptr<File> file, uint64_t capacity,
                          std::unique_ptr<WriteJournal>* out) {
  std::unique_ptr<WriteJournal> j(new WriteJournal(std::move(file), capacity));
  Status s = j->ReadHeader();
  if (!s.ok()) return s;
  *out = std::move(j);
  return Status::OK();
}

Status WriteJournal::ReadHeader() {
  uint8_t h[kHeaderBytes];
  Status s = file_->ReadAt(0, sizeof h, h);  // past the end reads as zeros: a fresh journal
  if (!s.ok()) return s;
  if (Get32(h) == kHeaderMagic && Get32(h + 4) == kVersion && Get32(h + 16) == Crc32c(h, 16))
    generation_ = Get64(h + 8);
  else
    generation_ = 0;
  return Status::OK();
}

Status WriteJournal::Replay(const ApplyFn& apply, uint64_t* replayed) {
  *replayed = 0;
  uint64_t pos = kRecordsStart, size = 0;
  Status s = file_->Size(&size);
  if (!s.ok()) return s;
  std::vector<uint8_t> data;
  for (uint64_t seq = 1; pos + kRecordHeader <= size; ++seq) {
    uint8_t h[kRecordHeader];
    s = file_->ReadAt(pos, sizeof h, h);
    if (!s.ok()) return s;
    const uint32_t state = Get32(h + 4), len = Get32(h + 32);
    if (Get32(h) != kRecordMagic || Get64(h + 8) != generation_ || Get64(h + 16) != seq ||
        Get32(h + 40) != HeaderCrc(h) || len == 0 || len > kMaxLength ||
        (state != kStatePending && state != kStateWritten) || pos + kRecordHeader + len > size)
      break;
    data.resize(len);
    s = file_->ReadAt(pos + kRecordHeader, len, data.data());
    if (!s.ok()) return s;
    if (Get32(h + 36) != Crc32c(data.data(), len)) break;
    if (state == kStatePending) {
      s = apply(Get64(h + 24), len, data.data());
      if (!s.ok()) return s;
      ++*replayed;
    }
    pos += RecordBytes(len);
  }
  return Status::OK();
}

Status WriteJournal::Append(uint64_t off, size_t len, const void* data, uint64_t* pos) {
  if (len == 0 || len > kMaxLength) return Status::Error(EINVAL, "journal: bad record length");
  const uint64_t bytes = RecordBytes(len);
  if (!fresh_) return Status::Error(EINVAL, "journal: appended before reset");
  if (used() + bytes > capacity_) return Status::Error(ENOSPC, "journal full");
  if (map_) {
    // The data and its padding first, the header last: a daemon killed half-way leaves a
    // record whose CRCs fail, or an older generation's header, and replay stops there.
    uint8_t* at = map_->data() + end_;
    std::memcpy(at + kRecordHeader, data, len);
    std::memset(at + kRecordHeader + len, 0, bytes - kRecordHeader - len);
    uint8_t h[kRecordHeader] = {};
    FillRecordHeader(h, generation_, next_sequence_, off, len, Crc32c(data, len));
    std::memcpy(at, h, sizeof h);
    *pos = end_;
    end_ += bytes;
    ++next_sequence_;
    return Status::OK();
  }
  scratch_.assign(bytes, 0);
  uint8_t* h = scratch_.data();
  std::memcpy(h + kRecordHeader, data, len);
  FillRecordHeader(h, generation_, next_sequence_, off, len, Crc32c(data, len));
  // Past the record, a stale header of an older generation may follow: it fails the
  // generation or sequence check, so the journal still ends here.
  Status s = file_->WriteAt(end_, bytes, h);
  if (!s.ok()) return s;
  *pos = end_;
  end_ += bytes;
  ++next_sequence_;
  return Status::OK();
}

const uint8_t* WriteJournal::RecordData(uint64_t pos) const {
  return map_ ? map_->data() + pos + kRecordHeader : nullptr;
}

bool WriteJournal::NextPrefault(const MappedRegion** region, uint64_t* off, uint64_t* len) {
  const uint64_t limit = kRecordsStart + capacity_;
  if (!map_ || end_ + kPrefaultBytes / 2 < prefaulted_) return false;
  // Records may have run past the last stretch (it was being populated): go on from them.
  const uint64_t from = std::max(prefaulted_, end_);
  if (from >= limit) return false;
  *region = map_.get();
  *off = from;
  *len = std::min(kPrefaultBytes, limit - from);
  prefaulted_ = from + *len;
  return true;
}

Status WriteJournal::MarkWritten(uint64_t pos) {
  uint8_t state[4];
  Put32(state, kStateWritten);
  if (map_) {
    std::memcpy(map_->data() + pos + 4, state, sizeof state);
    return Status::OK();
  }
  return file_->WriteAt(pos + 4, sizeof state, state);
}

Status WriteJournal::Reset(bool durable) {
  if (!fresh_) {
    Status s = ClearRecords();
    if (!s.ok()) return s;
    durable = true;
  }
  uint8_t h[kHeaderBytes];
  Put32(h, kHeaderMagic);
  Put32(h + 4, kVersion);
  Put64(h + 8, generation_ + 1);
  Put32(h + 16, Crc32c(h, 16));
  Status s = file_->WriteAt(0, sizeof h, h);
  if (!s.ok()) return s;
  // The new header is in the file (page cache) even if the sync below fails: records must
  // follow it, or a killed daemon's replay would stop at the first of them.
  ++generation_;
  fresh_ = true;
  header_synced_ = false;
  next_sequence_ = 1;
  end_ = kRecordsStart;
  prefaulted_ = kRecordsStart;
  if (!map_tried_) {
    // After the old records are gone (above): the allocation reads as zeros. Where it cannot
    // be had, records are written with write(2), as before.
    map_tried_ = true;
    (void)MappedRegion::Map(*file_, kRecordsStart + capacity_, &map_);
  }
  if (durable) {
    s = file_->Sync();
    if (!s.ok()) return s;
    header_synced_ = true;
  }
  return Status::OK();
}

// Deallocates every record, durably; a filesystem without hole punching gets zeros.
Status WriteJournal::ClearRecords() {
  uint64_t size = 0;
  Status s = file_->Size(&size);
  if (!s.ok() || size <= kRecordsStart) return s;
  s = file_->PunchHole(kRecordsStart, size - kRecordsStart);
  if (!s.ok()) {
    const std::vector<uint8_t> zeros(1 << 20, 0);
    s = Status::OK();
    for (uint64_t pos = kRecordsStart; pos < size && s.ok(); pos += zeros.size())
      s = file_->WriteAt(pos, std::min<uint64_t>(zeros.size(), size - pos), zeros.data());
  }
  if (s.ok()) s = file_->Sync();
  return s;
}

}  // namespace snapcow
