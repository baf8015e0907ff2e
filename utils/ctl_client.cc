#include "utils/ctl_client.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace snapcow::ctl {
namespace {

// Creating a snapshot waits for in-flight origin writes; give it time.
constexpr int kTimeoutSeconds = 300;

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Status Call(const std::string& control, const ControlRequest& req, ControlReply* reply) {
  sockaddr_un addr{};
  if (control.empty() || control.size() + 1 > sizeof(addr.sun_path))
    return Status::Error(EINVAL, "invalid control socket name");
  Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return Status::FromErrno(errno, "socket");
  const timeval tv{kTimeoutSeconds, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, control.data(), control.size());
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + control.size());
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return Status::FromErrno(errno, "cannot reach the snapcowfs daemon (@" + control + ")");

  const std::string line = EncodeRequest(req);
  size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = send(fd.get(), line.data() + done, line.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::FromErrno(errno, "sending to the snapcowfs daemon");
    done += static_cast<size_t>(n);
  }
  shutdown(fd.get(), SHUT_WR);

  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(errno, "reading from the snapcowfs daemon");
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxReplyBytes) return Status::Error(EPROTO, "reply from the daemon is too long");
  }
  if (text.empty()) return Status::Error(EPROTO, "the snapcowfs daemon closed the connection without a reply");
  std::string error;
  if (!DecodeReply(req.kind, text, reply, &error))
    return Status::Error(EPROTO, "bad reply from the snapcowfs daemon: " + error);
  return Status::OK();
}

}  // namespace snapcow::ctl
