#include "engine/exception_table.h"

#include <algorithm>
#include <bit>

namespace snapcow {
namespace {

constexpr size_t kMinBuckets = 64;
constexpr size_t kMaxBuckets = 16384;

bool SameGroup(chunk_t a, chunk_t b) {
  return (a >> ExceptionTable::kGroupShift) == (b >> ExceptionTable::kGroupShift);
}

}  // namespace

ExceptionTable::ExceptionTable(chunk_t chunks) {
  chunk_t groups = (chunks >> kGroupShift) + 1;
  size_t n = std::bit_ceil(std::clamp<size_t>(static_cast<size_t>(groups), kMinBuckets,
                                              kMaxBuckets));
  mask_ = n - 1;
  complete_ = std::make_unique<CompleteBucket[]>(n);
  pending_ = std::make_unique<PendingBucket[]>(n);
}

size_t ExceptionTable::BucketOf(chunk_t c) const {
  // Fibonacci hashing of the group spreads neighbouring groups over the buckets.
  uint64_t g = c >> kGroupShift;
  return static_cast<size_t>((g * 0x9e3779b97f4a7c15ull) >> 40) & mask_;
}

bool ExceptionTable::Find(const std::vector<Run>& runs, chunk_t c, chunk_t* new_chunk) {
  auto it = std::upper_bound(runs.begin(), runs.end(), c,
                             [](chunk_t v, const Run& r) { return v < r.old_chunk; });
  if (it == runs.begin()) return false;
  --it;
  if (c - it->old_chunk >= it->length()) return false;
  *new_chunk = it->new_chunk() + (c - it->old_chunk);
  return true;
}

void ExceptionTable::Insert(std::vector<Run>& runs, chunk_t c, chunk_t new_chunk) {
  auto next = std::upper_bound(runs.begin(), runs.end(), c,
                               [](chunk_t v, const Run& r) { return v < r.old_chunk; });
  if (next != runs.begin()) {
    auto prev = next - 1;
    uint32_t len = prev->length();
    if (prev->old_chunk + len == c && prev->new_chunk() + len == new_chunk && len < kMaxRun &&
        SameGroup(prev->old_chunk, c)) {
      *prev = MakeRun(prev->old_chunk, prev->new_chunk(), len + 1);
      if (next != runs.end() && next->old_chunk == c + 1 && next->new_chunk() == new_chunk + 1 &&
          len + 1 + next->length() <= kMaxRun && SameGroup(c, next->old_chunk)) {
        *prev = MakeRun(prev->old_chunk, prev->new_chunk(), len + 1 + next->length());
        runs.erase(next);
      }
      return;
    }
  }
  if (next != runs.end() && next->old_chunk == c + 1 && next->new_chunk() == new_chunk + 1 &&
      next->length() < kMaxRun && SameGroup(c, next->old_chunk)) {
    *next = MakeRun(c, new_chunk, next->length() + 1);
    return;
  }
  runs.insert(next, MakeRun(c, new_chunk, 1));
}

ExceptionTable::Found ExceptionTable::MapForWrite(chunk_t c, chunk_t* new_chunk,
                                                  std::shared_ptr<PendingException>* pe) {
  size_t b = BucketOf(c);
  CompleteBucket* cb = &complete_[b];
  PendingBucket* pb = &pending_[b];
  Locked l(cb, pb);
  if (Find(cb->runs, c, new_chunk)) return Found::kComplete;
  auto it = pb->pending.find(c);
  if (it != pb->pending.end()) {
    *pe = it->second;
    return Found::kPending;
  }
  *pe = std::make_shared<PendingException>(c);
  pb->pending.emplace(c, *pe);
  return Found::kCreated;
}

bool ExceptionTable::LookupComplete(chunk_t c, chunk_t* new_chunk) {
  CompleteBucket* cb = &complete_[BucketOf(c)];
  MutexLock l(&cb->mu);
  return Find(cb->runs, c, new_chunk);
}

bool ExceptionTable::NeedsCopy(chunk_t c) {
  size_t b = BucketOf(c);
  CompleteBucket* cb = &complete_[b];
  PendingBucket* pb = &pending_[b];
  Locked l(cb, pb);
  chunk_t unused;
  return !Find(cb->runs, c, &unused) && pb->pending.count(c) == 0;
}

bool ExceptionTable::MapForRead(chunk_t c, chunk_t* new_chunk) {
  size_t b = BucketOf(c);
  CompleteBucket* cb = &complete_[b];
  PendingBucket* pb = &pending_[b];
  Locked l(cb, pb);
  if (Find(cb->runs, c, new_chunk)) return true;
  ++pb->tracked[c];
  return false;
}

void ExceptionTable::EndTrackedRead(chunk_t c) {
  PendingBucket* pb = &pending_[BucketOf(c)];
  MutexLock l(&pb->mu);
  auto it = pb->tracked.find(c);
  if (--it->second == 0) {
    pb->tracked.erase(it);
    pb->drained.SignalAll();
  }
}

void ExceptionTable::WaitForTrackedReads(chunk_t c) {
  PendingBucket* pb = &pending_[BucketOf(c)];
  MutexLock l(&pb->mu);
  while (pb->tracked.count(c) != 0) pb->drained.Wait(&pb->mu);
}

void ExceptionTable::CompletePending(chunk_t c, chunk_t new_chunk) {
  size_t b = BucketOf(c);
  CompleteBucket* cb = &complete_[b];
  PendingBucket* pb = &pending_[b];
  Locked l(cb, pb);
  Insert(cb->runs, c, new_chunk);
  pb->pending.erase(c);
}

void ExceptionTable::RemovePending(chunk_t c) {
  size_t b = BucketOf(c);
  CompleteBucket* cb = &complete_[b];
  PendingBucket* pb = &pending_[b];
  Locked l(cb, pb);
  pb->pending.erase(c);
}

void ExceptionTable::LoadInsert(chunk_t old_chunk, chunk_t new_chunk) {
  CompleteBucket* cb = &complete_[BucketOf(old_chunk)];
  MutexLock l(&cb->mu);
  // dm writes entries in allocation order, so a sequentially copied origin arrives as
  // consecutive entries: extend the bucket's last run rather than storing one per chunk.
  if (!cb->runs.empty()) {
    Run& last = cb->runs.back();
    const uint32_t len = last.length();
    if (last.old_chunk + len == old_chunk && last.new_chunk() + len == new_chunk &&
        len < kMaxRun && SameGroup(last.old_chunk, old_chunk)) {
      last = MakeRun(last.old_chunk, last.new_chunk(), len + 1);
      return;
    }
  }
  cb->runs.push_back(MakeRun(old_chunk, new_chunk, 1));
}

bool ExceptionTable::FinishLoad(chunk_t* duplicate) {
  for (size_t b = 0; b <= mask_; ++b) {
    CompleteBucket* cb = &complete_[b];
    MutexLock l(&cb->mu);
    auto& runs = cb->runs;
    if (runs.empty()) continue;
    std::sort(runs.begin(), runs.end(),
              [](const Run& a, const Run& z) { return a.old_chunk < z.old_chunk; });
    // Merge in place: single-chunk runs sorted by old_chunk into maximal runs.
    size_t out = 0;
    for (size_t i = 1; i < runs.size(); ++i) {
      Run& last = runs[out];
      uint32_t len = last.length();
      const Run& r = runs[i];
      if (r.old_chunk < last.old_chunk + len) {
        *duplicate = r.old_chunk;
        return false;
      }
      if (last.old_chunk + len == r.old_chunk && last.new_chunk() + len == r.new_chunk() &&
          len + r.length() <= kMaxRun && SameGroup(last.old_chunk, r.old_chunk)) {
        last = MakeRun(last.old_chunk, last.new_chunk(), len + r.length());
      } else {
        runs[++out] = r;
      }
    }
    runs.resize(out + 1);
    runs.shrink_to_fit();
  }
  return true;
}

size_t ExceptionTable::RunCount() {
  size_t n = 0;
  for (size_t b = 0; b <= mask_; ++b) {
    CompleteBucket* cb = &complete_[b];
    MutexLock l(&cb->mu);
    n += cb->runs.size();
  }
  return n;
}

size_t ExceptionTable::MemoryBytes() {
  size_t n = (mask_ + 1) * (sizeof(CompleteBucket) + sizeof(PendingBucket));
  for (size_t b = 0; b <= mask_; ++b) {
    CompleteBucket* cb = &complete_[b];
    MutexLock l(&cb->mu);
    n += cb->runs.capacity() * sizeof(Run);
  }
  return n;
}

}  // namespace snapcow
