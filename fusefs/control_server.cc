#include "fusefs/control_server.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/control_protocol.h"
#include "fusefs/daemon_log.h"

namespace snapcow::fusefs {
namespace {

constexpr int kBacklog = 16;
// A client that does not send its request (or read its reply) within this is dropped.
constexpr int kIoTimeoutSeconds = 10;

// Reads one request: up to '\n' or end of stream. False on error, timeout or overlength.
bool ReadRequest(int fd, std::string* out) {
  char buf[kMaxRequestBytes + 1];
  size_t used = 0;
  while (used < sizeof(buf)) {
    const ssize_t n = read(fd, buf + used, sizeof(buf) - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) break;
    used += static_cast<size_t>(n);
    if (std::memchr(buf, '\n', used)) break;
  }
  const void* nl = std::memchr(buf, '\n', used);
  if (!nl && used == sizeof(buf)) return false;
  const size_t len = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf) : used;
  out->assign(buf, len);
  return true;
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    const ssize_t n = send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

Status ControlServer::Bind(std::unique_ptr<ControlServer>* out) {
  std::unique_ptr<ControlServer> s(new ControlServer);
  s->name_ = kControlSocketPrefix + std::to_string(getpid());
  s->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Status::FromErrno(errno, "control socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, s->name_.data(), s->name_.size());
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + s->name_.size());
  if (bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0)
    return Status::FromErrno(errno, "bind control socket @" + s->name_);
  if (listen(s->listen_fd_, kBacklog) != 0)
    return Status::FromErrno(errno, "listen on control socket");
  s->wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (s->wake_fd_ < 0) return Status::FromErrno(errno, "eventfd");
  *out = std::move(s);
  return Status::OK();
}

ControlServer::~ControlServer() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status ControlServer::Start(Handler handler) {
  handler_ = std::move(handler);
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  try {
    thread_ = std::thread([this] { Run(); });
  } catch (const std::system_error& e) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return Status::Error(e.code().value(), std::string("control thread: ") + e.what());
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return Status::OK();
}

void ControlServer::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) LogWarning("cannot wake the control thread");
  thread_.join();
}

void ControlServer::Run() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      LogError(std::string("control socket: poll: ") + std::strerror(errno));
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int conn = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    Serve(conn);
  }
}

void ControlServer::Serve(int conn) {
  const timeval tv{kIoTimeoutSeconds, 0};
  setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(conn, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ucred peer{};
  socklen_t peer_len = sizeof(peer);
  std::string request;
  Result result;
  try {
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0) {
      result.reply = EncodeError("cannot identify the peer");
    } else if (!ReadRequest(conn, &request)) {
      result.reply = EncodeError("malformed request");
    } else {
      result = handler_(peer, request);
    }
    WriteAll(conn, result.reply);
  } catch (const std::exception& e) {
    LogError(std::string("control request failed: ") + e.what());
  }
  close(conn);
  try {
    if (result.after) result.after();
  } catch (const std::exception& e) {
    LogError(std::string("control request follow-up failed: ") + e.what());
  }
}

}  // namespace snapcow::fusefs
