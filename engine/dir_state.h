// DirState: the image directory's state file, .snapcowfs.state. One "key=value" line each:
//
//   next=N        the next snapshot number: numbers are never reused, even after a crash
//   stale=N,M,..  snapshots whose COW file could not be loaded by a holder that went on to
//                 write the origin. They missed copies, so they load Invalid from then on,
//                 whatever their header says (a transient EACCES, EMFILE or EIO must not bring
//                 a snapshot back valid with wrong data). Numbers stay listed for good.
//
// Written whole and durably (temporary file, fsync, rename, directory fsync), so a crash
// leaves the old state or the new one. A missing file is the state of a new directory;
// unknown keys are ignored (a later version may add some).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "engine/status.h"

namespace snapcow {

inline constexpr char kStateFile[] = ".snapcowfs.state";

struct DirState {
  uint64_t next = 1;
  std::set<uint32_t> stale;
};

// EUCLEAN naming the file when it cannot be parsed.
Status ReadDirState(int dir_fd, const std::string& dir, DirState* out);
Status WriteDirState(int dir_fd, const std::string& dir, const DirState& state);
// Adds `numbers` to the stale list (read, add, write back whole).
Status MarkStale(int dir_fd, const std::string& dir, const std::set<uint32_t>& numbers);

}  // namespace snapcow
