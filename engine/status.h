// Status: the result of every engine call on the I/O path (LevelDB style, no exceptions).
// Carries an errno value, which the daemon hands to FUSE unchanged, and a message for logs.
#pragma once

#include <string>
#include <utility>

namespace snapcow {

class Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  static Status Error(int err, std::string msg) { return Status(err, std::move(msg)); }
  // An error built from errno after a failed system call on `what`.
  static Status FromErrno(int err, const std::string& what);

  bool ok() const { return err_ == 0; }
  int err() const { return err_; }  // positive errno, 0 when ok
  const std::string& message() const { return msg_; }
  std::string ToString() const;

 private:
  Status(int err, std::string msg) : err_(err), msg_(std::move(msg)) {}
  int err_ = 0;
  std::string msg_;
};

}  // namespace snapcow
