#include "fusefs/daemonize.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace snapcow::fusefs {
namespace {

int g_ready_fd = -1;  // the child's end of the pipe to the waiting parent

}  // namespace

void ForkAndWait() {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "snapcowfs: pipe: %s\n", std::strerror(errno));
    std::exit(1);
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    std::fprintf(stderr, "snapcowfs: fork: %s\n", std::strerror(errno));
    std::exit(1);
  }
  if (pid == 0) {
    close(p[0]);
    g_ready_fd = p[1];
    setsid();
    return;
  }
  close(p[1]);
  char c = 0;
  ssize_t n;
  do {
    n = read(p[0], &c, 1);
  } while (n < 0 && errno == EINTR);
  if (n == 1) _exit(0);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) _exit(WEXITSTATUS(status) ? WEXITSTATUS(status) : 1);
  std::fprintf(stderr, "snapcowfs: the daemon died during start-up\n");
  _exit(1);
}

void DetachFromParent() {
  if (g_ready_fd < 0) return;
  if (chdir("/") != 0) {
  }
  const int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  const char c = 'R';
  while (write(g_ready_fd, &c, 1) < 0 && errno == EINTR) {
  }
  close(g_ready_fd);
  g_ready_fd = -1;
}

}  // namespace snapcow::fusefs
