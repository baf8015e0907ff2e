// Where the daemon's messages go: stderr until it has detached, syslog after.
#pragma once

#include <string>

namespace snapcow::fusefs {

// Routes snapcow::Log() (engine and daemon alike) to stderr; call once at start-up.
void InstallLogSink();
// From now on messages go to syslog (facility daemon, tagged snapcowfs[pid]).
void SwitchLogToSyslog();

void LogError(const std::string& line);
void LogWarning(const std::string& line);
void LogInfo(const std::string& line);

}  // namespace snapcow::fusefs
