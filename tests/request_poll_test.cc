// The FUSE workers' look for the next request (fusefs/request_poll.h), on a pipe standing in
// for /dev/fuse: what Read() returns, whether the fd is left blocking, and when a worker looks
// (counted by found()/missed()) and when it does not. Nothing here asserts a time.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "fusefs/request_poll.h"

using snapcow::fusefs::RequestPoll;
using namespace std::chrono_literals;

namespace {

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { REQUIRE(pipe(fd) == 0); }
  ~Pipe() {
    for (int f : fd)
      if (f >= 0) close(f);
  }
  // No Catch assertion inside: it may run on another thread (Catch2 v2 is not thread-safe).
  bool Write(const std::string& s) const {
    return write(fd[1], s.data(), s.size()) == static_cast<ssize_t>(s.size());
  }
  void Put(const std::string& s) const { REQUIRE(Write(s)); }
  void CloseWriter() {
    close(fd[1]);
    fd[1] = -1;
  }
  bool NonBlocking() const { return (fcntl(fd[0], F_GETFL) & O_NONBLOCK) != 0; }
};

std::string Take(RequestPoll& poll, int fd) {
  char buf[64];
  const ssize_t n = poll.Read(fd, buf, sizeof(buf));
  REQUIRE(n > 0);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("with no budget the fd stays blocking and nobody looks") {
  Pipe p;
  RequestPoll poll(p.fd[0], 0us);
  CHECK_FALSE(p.NonBlocking());
  p.Put("one");
  CHECK(Take(poll, p.fd[0]) == "one");
  CHECK(poll.found() + poll.missed() == 0);
}

TEST_CASE("an idle worker looks and finds a queued request") {
  Pipe p;
  RequestPoll poll(p.fd[0], 50us);
  CHECK(p.NonBlocking());
  p.Put("one");
  CHECK(Take(poll, p.fd[0]) == "one");
  CHECK(poll.found() == 1);
  CHECK(poll.missed() == 0);
}

TEST_CASE("a look that finds nothing sleeps until a request comes") {
  Pipe p;
  RequestPoll poll(p.fd[0], 50us);
  bool wrote = false;
  std::thread later([&] {
    std::this_thread::sleep_for(300ms);
    wrote = p.Write("late");
  });
  CHECK(Take(poll, p.fd[0]) == "late");
  later.join();
  CHECK(wrote);
  // One look, whichever way it ended (a descheduled test thread may see the write).
  CHECK(poll.found() + poll.missed() == 1);
}

TEST_CASE("no look while another request is in flight or the engine has work") {
  Pipe p;
  bool engine_idle = true;
  RequestPoll poll(p.fd[0], 50us, [&] { return engine_idle; });
  p.Put("a");
  std::string first;
  // Another worker takes a request and keeps it (it never comes back to Read()).
  std::thread holder([&] { first = Take(poll, p.fd[0]); });
  holder.join();
  CHECK(first == "a");
  CHECK(poll.found() == 1);
  p.Put("b");
  CHECK(Take(poll, p.fd[0]) == "b");
  CHECK(poll.found() + poll.missed() == 1);  // the holder is busy: no look

  // This thread's request is finished at its next Read(); the holder's never is. A fresh
  // RequestPoll sees only its own requests.
  RequestPoll other(p.fd[0], 50us, [&] { return engine_idle; });
  engine_idle = false;
  p.Put("c");
  CHECK(Take(other, p.fd[0]) == "c");
  CHECK(other.found() + other.missed() == 0);  // the engine has work: no look
  engine_idle = true;
  p.Put("d");
  CHECK(Take(other, p.fd[0]) == "d");  // finishes "c" first: idle, so it looks
  CHECK(other.found() == 1);
}

TEST_CASE("the end of the stream reaches the caller, looking or asleep") {
  Pipe p;
  RequestPoll poll(p.fd[0], 50us);
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    p.CloseWriter();
  });
  char buf[8];
  CHECK(poll.Read(p.fd[0], buf, sizeof(buf)) == 0);
  later.join();
}
