// File: the engine's only door to bytes on disk. The daemon uses POSIX files; the crash tests
// substitute a layer that forgets writes that were never synced (tests/fault_file.h).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/status.h"

namespace snapcow {

class File {
 public:
  virtual ~File() = default;

  // Reads exactly `len` bytes at `off`; bytes past the end of the file read as zeros.
  virtual Status ReadAt(uint64_t off, size_t len, void* buf) = 0;
  // Writes exactly `len` bytes at `off` (retrying short writes), or fails.
  virtual Status WriteAt(uint64_t off, size_t len, const void* buf) = 0;
  // Writes `n` buffers to consecutive bytes from `off`, as one request where it can. A long
  // run whose offset, lengths and buffers are kDirectAlign-aligned may bypass the page cache
  // (O_DIRECT): the copier's COW data is written once and read back rarely, and its fresh
  // page-cache pages cost more CPU than the copy itself on some virtual machines (bench/README).
  // Durable only after Sync, as WriteAt. This default writes each buffer with WriteAt.
  virtual Status WriteRunAt(uint64_t off, const struct iovec* iov, int n);
  static constexpr size_t kDirectAlign = 4096;
  // Makes every completed write durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Size(uint64_t* size) = 0;
  // Deallocates [off, off+len) keeping the size; it reads back as zeros.
  virtual Status PunchHole(uint64_t off, uint64_t len) = 0;
  // The kernel descriptor, for the daemon's splice/passthrough paths; -1 when there is none.
  virtual int fd() const { return -1; }
  virtual const std::string& name() const = 0;
};

// Opens `path` with open(2) `flags | O_NOFOLLOW | O_CLOEXEC`; refuses anything but a regular
// file. With O_TMPFILE in `flags`, `path` names the directory and the file has no name.
Status OpenPosixFile(const std::string& path, int flags, mode_t mode, std::unique_ptr<File>* out);
// The same, relative to the directory `dirfd` (which may be hidden under a mount since);
// `display` names the file in messages.
Status OpenPosixFileAt(int dirfd, const std::string& name, const std::string& display, int flags,
                       mode_t mode, std::unique_ptr<File>* out);

}  // namespace snapcow
