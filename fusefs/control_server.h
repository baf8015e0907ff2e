// ControlServer: the daemon's end of the control channel (engine/control_protocol.h).
//
// A Unix stream socket in the abstract namespace, "snapcowfs-<pid>", served by one thread:
// one request per connection, answered in order. The peer's credentials (SO_PEERCRED) are
// handed to the handler, which decides who may talk to the daemon.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "engine/status.h"

namespace snapcow::fusefs {

class ControlServer {
 public:
  struct Result {
    std::string reply;
    std::function<void()> after;  // runs once the reply is sent and the connection closed
  };
  using Handler = std::function<Result(const ucred& peer, std::string_view request)>;

  // Binds and listens; nothing is served before Start().
  static Status Bind(std::unique_ptr<ControlServer>* out);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& name() const { return name_; }
  // Serves on a thread of its own, with the termination signals blocked (they belong to the
  // FUSE loop in the main thread).
  Status Start(Handler handler);
  // Stops serving; a request being handled finishes first.
  void Stop();

 private:
  ControlServer() = default;
  void Run();
  void Serve(int conn);

  // Constant after Bind().
  std::string name_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: written by Stop()

  Handler handler_;  // constant after Start()
  std::thread thread_;
};

}  // namespace snapcow::fusefs
