#include "utils/ctl_target.h"

#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>

#include "engine/image_dir.h"
#include "utils/ctl_client.h"
#include "utils/ctl_offline.h"

namespace snapcow::ctl {
namespace {

// The control socket of the daemon behind DIR, or "" when there is none.
std::string FindDaemon(const std::string& dir) {
  char buf[256];
  const ssize_t n = getxattr(dir.c_str(), kControlXattr, buf, sizeof(buf));
  if (n > 0) return std::string(buf, static_cast<size_t>(n));
  Holder h;
  if (ImageDir::ReadHolder(dir, &h).ok()) return h.control;
  return "";
}

}  // namespace

Status RunOn(const std::string& dir, const ControlRequest& req, ControlReply* reply) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, dir);
  if (!S_ISDIR(st.st_mode)) return Status::Error(ENOTDIR, dir + " is not a directory");
  const std::string control = FindDaemon(dir);
  if (control.empty()) return RunOffline(dir, req, reply);
  Status s = Call(control, req, reply);
  if (!s.ok()) return s;
  if (!reply->ok) return Status::Error(EIO, reply->error);
  return Status::OK();
}

}  // namespace snapcow::ctl
