#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/file.h"

namespace snapcow {
namespace {

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  ~PosixFile() override { ::close(fd_); }

  Status ReadAt(uint64_t off, size_t len, void* buf) override {
    auto* p = static_cast<char*>(buf);
    while (len > 0) {
      ssize_t n = ::pread(fd_, p, len, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "read " + name_);
      }
      if (n == 0) {  // past the end: a sparse tail reads as zeros
        std::memset(p, 0, len);
        return Status::OK();
      }
      p += n;
      off += static_cast<uint64_t>(n);
      len -= static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status WriteAt(uint64_t off, size_t len, const void* buf) override {
    const auto* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t n = ::pwrite(fd_, p, len, static_cast<off_t>(off));
      if (n < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "write " + name_);
      }
      if (n == 0) return Status::Error(ENOSPC, "write " + name_ + ": no progress");
      p += n;
      off += static_cast<uint64_t>(n);
      len -= static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status Sync() override {
    if (::fdatasync(fd_) != 0) return Status::FromErrno(errno, "fdatasync " + name_);
    return Status::OK();
  }

  Status Size(uint64_t* size) override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat " + name_);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status PunchHole(uint64_t off, uint64_t len) override {
    if (::fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                    static_cast<off_t>(len)) != 0)
      return Status::FromErrno(errno, "punch hole in " + name_);
    return Status::OK();
  }

  int fd() const override { return fd_; }
  const std::string& name() const override { return name_; }

 private:
  const int fd_;
  const std::string name_;
};

}  // namespace

Status OpenPosixFileAt(int dirfd, const std::string& name, const std::string& display, int flags,
                       mode_t mode, std::unique_ptr<File>* out) {
  int fd = ::openat(dirfd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == ELOOP) return Status::Error(ELOOP, display + ": is a symbolic link, refused");
    return Status::FromErrno(errno, "open " + display);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Status::FromErrno(err, "stat " + display);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::Error(EINVAL, display + ": not a regular file");
  }
  out->reset(new PosixFile(fd, display));
  return Status::OK();
}

Status OpenPosixFile(const std::string& path, int flags, mode_t mode, std::unique_ptr<File>* out) {
  return OpenPosixFileAt(AT_FDCWD, path, path, flags, mode, out);
}

}  // namespace snapcow
