#include "engine/mapped_region.h"

#include <fcntl.h>
#include <sys/mman.h>

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

MappedRegion::~MappedRegion() { ::munmap(data_, size_); }

}  // namespace snapcow
