#include "engine/log.h"

#include <cstdio>

namespace snapcow {
namespace {

LogSink& Sink() {
  static LogSink sink = [](LogLevel, const std::string& line) {
    std::fprintf(stderr, "snapcowfs: %s\n", line.c_str());
  };
  return sink;
}

}  // namespace

void SetLogSink(LogSink sink) { Sink() = std::move(sink); }
void Log(LogLevel level, const std::string& line) { Sink()(level, line); }

}  // namespace snapcow
