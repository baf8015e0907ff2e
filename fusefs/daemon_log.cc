#include "fusefs/daemon_log.h"

#include <syslog.h>

#include <atomic>
#include <cstdio>

#include "engine/log.h"

namespace snapcow::fusefs {
namespace {

std::atomic<bool> g_syslog{false};

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

void SwitchLogToSyslog() {
  openlog("snapcowfs", LOG_PID, LOG_DAEMON);
  g_syslog.store(true);
}

void LogError(const std::string& line) { Log(LogLevel::kError, line); }
void LogWarning(const std::string& line) { Log(LogLevel::kWarning, line); }
void LogInfo(const std::string& line) { Log(LogLevel::kInfo, line); }

}  // namespace snapcow::fusefs
