// Where the daemon's messages go: stderr until it has detached, syslog after.
#pragma once

#include <string>

namespace snapcow::fusefs {

// Routes snapcow::Log() (engine and daemon alike) to stderr; call once at start-up.
void InstallLogSink();
// From now on messages go to syslog (facility daemon, tagged snapcowfs[pid]).
void SwitchLogToSyslog();

// libfuse's own messages. While `hold` is set its errors are kept, not printed, so that a
// failed start-up says one line (TakeFuseError() gives the last one, without "fuse: ");
// everything else, and everything once `hold` is cleared, goes where libfuse would put it
// (stderr; syslog once detached). Debug lines (-d) are passed through unchanged.
void HoldFuseErrors(bool hold);
std::string TakeFuseError();

void LogError(const std::string& line);
void LogWarning(const std::string& line);
void LogInfo(const std::string& line);

}  // namespace snapcow::fusefs
