// MappedRegion: the first bytes of a file mapped shared into memory, every block of them
// allocated first. A store into the mapping is a store into the page cache: it outlives the
// process as a write(2) would, at the cost of a memcpy instead of a system call. Allocating
// first matters: a store into a hole that the filesystem cannot fill raises SIGBUS, so a
// file that cannot be allocated is never mapped (the caller goes on with write(2)).
#pragma once

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

 private:
  MappedRegion(uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint8_t* const data_;
  const size_t size_;
};

}  // namespace snapcow
