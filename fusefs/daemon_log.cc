#include "fusefs/daemon_log.h"

#include <fuse_log.h>
#include <syslog.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>

#include "engine/log.h"
#include "engine/mutex.h"

namespace snapcow::fusefs {
namespace {

std::atomic<bool> g_syslog{false};
std::atomic<bool> g_hold_fuse_errors{false};
Mutex g_fuse_error_mu;
// libfuse writes one message in several calls ("unknown option(s): `" "-o a " "-o b'\n"):
// pieces gather in g_fuse_partial up to the newline.
std::string g_fuse_partial GUARDED_BY(g_fuse_error_mu);
std::string g_fuse_error GUARDED_BY(g_fuse_error_mu);

void FuseLog(fuse_log_level level, const char* fmt, va_list ap) {
  char line[1024];
  std::vsnprintf(line, sizeof line, fmt, ap);
  if (level <= FUSE_LOG_ERR && g_hold_fuse_errors.load(std::memory_order_relaxed)) {
    MutexLock l(&g_fuse_error_mu);
    g_fuse_partial += line;
    if (g_fuse_partial.empty() || g_fuse_partial.back() != '\n') return;
    while (!g_fuse_partial.empty() && g_fuse_partial.back() == '\n') g_fuse_partial.pop_back();
    if (g_fuse_partial.rfind("fuse: ", 0) == 0) g_fuse_partial.erase(0, 6);
    g_fuse_error.swap(g_fuse_partial);
    g_fuse_partial.clear();
    return;
  }
  if (g_syslog.load(std::memory_order_relaxed))
    syslog(level <= FUSE_LOG_ERR ? LOG_ERR : LOG_INFO, "%s", line);
  else
    std::fputs(line, stderr);
}

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return LOG_ERR;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kInfo: return LOG_INFO;
  }
  return LOG_INFO;
}

}  // namespace

void InstallLogSink() {
  SetLogSink([](LogLevel level, const std::string& line) {
    if (g_syslog.load(std::memory_order_relaxed))
      syslog(Priority(level), "%s", line.c_str());
    else
      std::fprintf(stderr, "snapcowfs: %s\n", line.c_str());
  });
}

void HoldFuseErrors(bool hold) {
  fuse_set_log_func(FuseLog);
  g_hold_fuse_errors.store(hold);
}

std::string TakeFuseError() {
  MutexLock l(&g_fuse_error_mu);
  std::string e;
  e.swap(g_fuse_error);
  return e;
}

void SwitchLogToSyslog() {
  openlog("snapcowfs", LOG_PID, LOG_DAEMON);
  g_syslog.store(true);
}

void LogError(const std::string& line) { Log(LogLevel::kError, line); }
void LogWarning(const std::string& line) { Log(LogLevel::kWarning, line); }
void LogInfo(const std::string& line) { Log(LogLevel::kInfo, line); }

}  // namespace snapcow::fusefs
