#include "fusefs/systemd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace snapcow::fusefs {

Status NotifySystemdReady() {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return Status::OK();
  const std::string what = std::string("NOTIFY_SOCKET ") + path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  // A path, or '@' for a name in the abstract namespace (a leading NUL byte).
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path))
    return Status::Error(EINVAL, what + ": not a unix socket address");
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno(errno, what);
  constexpr std::string_view kReady = "READY=1";
  const auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n;
  do {
    n = sendto(fd, kReady.data(), kReady.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), addr_len);
  } while (n < 0 && errno == EINTR);
  const int err = errno;
  close(fd);
  if (n < 0) return Status::FromErrno(err, what);
  return Status::OK();
}

}  // namespace snapcow::fusefs
