// MappedRegion: the first bytes of a file mapped shared into memory, every block of them
// allocated first. A store into the mapping is a store into the page cache: it outlives the
// process as a write(2) would, at the cost of a memcpy instead of a system call. Allocating
// first matters: a store into a hole that the filesystem cannot fill raises SIGBUS, so a
// file that cannot be allocated is never mapped (the caller goes on with write(2)).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/file.h"
#include "engine/status.h"

namespace snapcow {

class MappedRegion {
 public:
  // Allocates [0, bytes) of `file` (growing it to `bytes` if it is shorter) and maps it.
  // Fails, changing nothing but the allocation, when the file has no descriptor, the
  // filesystem cannot allocate (full, or no fallocate) or the mapping is refused.
  static Status Map(File& file, size_t bytes, std::unique_ptr<MappedRegion>* out);
  ~MappedRegion();
  MappedRegion(const MappedRegion&) = delete;
  MappedRegion& operator=(const MappedRegion&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Makes the pages of [off, off+len) present and writable in one system call
  // (MADV_POPULATE_WRITE), so that later stores into them take no page fault; the bytes are
  // unchanged. Safe beside stores from other threads. False when the kernel refuses (before
  // Linux 5.14, or an error): the stores then fault as usual, and later calls do nothing.
  bool Populate(size_t off, size_t len) const;

 private:
  MappedRegion(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* const data_;
  const size_t size_;
  mutable std::atomic<bool> populate_refused_{false};
};

}  // namespace snapcow
