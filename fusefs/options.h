// The daemon's command line (DESIGN §3).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace snapcow::fusefs {

struct Options {
  bool help = false;
  bool version = false;
  bool foreground = false;
  bool debug = false;      // implies foreground, as in libfuse
  bool read_only = false;  // -o ro
  bool read_passthrough = false;  // --read-passthrough (always on with -o ro)
  bool write_journal = true;      // off with --no-write-journal
  bool io_uring = false;          // --io-uring
  std::vector<std::string> fuse_options;  // every -o, split at commas
  unsigned threads = 16;
  unsigned active_threads = 2;  // --active-threads, 0 there resolved to one per CPU (>= 2)
  unsigned poll_us = 50;  // --poll-us
  uint32_t cow_threshold = 0;  // 0: the engine's default
  std::string imagedir;
  std::string mountpoint;
};

// Throws std::exception with a one-line message on bad input.
Options ParseOptions(int argc, char** argv);
std::string Usage();

}  // namespace snapcow::fusefs
