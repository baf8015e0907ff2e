#include "engine/mapped_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace snapcow {

Status MappedRegion::Map(File& file, size_t bytes, std::unique_ptr<MappedRegion>* out) {
  const int fd = file.fd();
  if (fd < 0) return Status::Error(ENOTSUP, "map " + file.name() + ": no descriptor");
  // Mode 0 allocates holes and unwritten ranges alike and keeps what is already written;
  // unwritten blocks read as zeros.
  if (::fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0)
    return Status::FromErrno(errno, "allocate " + file.name());
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Status::FromErrno(errno, "map " + file.name());
  out->reset(new MappedRegion(static_cast<uint8_t*>(p), bytes));
  return Status::OK();
}

bool MappedRegion::Populate(size_t off, size_t len) const {
  if (populate_refused_.load(std::memory_order_relaxed) || off >= size_) return false;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t from = off / page * page, to = std::min(size_, off + len);
  if (::madvise(data_ + from, to - from, MADV_POPULATE_WRITE) == 0) return true;
  populate_refused_.store(true, std::memory_order_relaxed);
  return false;
}

MappedRegion::~MappedRegion() { ::munmap(data_, size_); }

}  // namespace snapcow
