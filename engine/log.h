// Engine log: one line per event worth an operator's attention (a snapshot invalidated, a
// store that failed). The daemon routes it to stderr or syslog.
#pragma once

#include <functional>
#include <string>

namespace snapcow {

enum class LogLevel { kError, kWarning, kInfo };
using LogSink = std::function<void(LogLevel, const std::string&)>;

// Not thread-safe against Log(): set once at start-up.
void SetLogSink(LogSink sink);
void Log(LogLevel level, const std::string& line);

}  // namespace snapcow
