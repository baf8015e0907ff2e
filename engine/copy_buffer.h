// CopyBuffer: page-aligned scratch memory for copies, kept by its owner from one batch to the
// next. A copier that allocated its buffers per batch touched fresh pages at every batch (a
// fault each, and on some virtual machines one in the host too), and O_DIRECT writes need
// aligned buffers (File::WriteRunAt).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>

#include "engine/file.h"

namespace snapcow {

class CopyBuffer {
 public:
  // At least `bytes` of kDirectAlign-aligned memory, its old contents lost; null when no
  // memory could be had.
  uint8_t* Get(size_t bytes) {
    if (bytes <= size_) return mem_.get();
    const size_t align = File::kDirectAlign;
    const size_t rounded = (bytes + align - 1) / align * align;
    mem_.reset(static_cast<uint8_t*>(std::aligned_alloc(File::kDirectAlign, rounded)));
    size_ = mem_ ? rounded : 0;
    return mem_.get();
  }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> mem_;
  size_t size_ = 0;
};

}  // namespace snapcow
