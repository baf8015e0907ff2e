// Handle: what fi->fh points to for an open image file.
#pragma once

#include <fuse_lowlevel.h>

#include <memory>

#include "engine/snapshot.h"
#include "fusefs/namespace.h"
#include "fusefs/passthrough.h"
#include "fusefs/sync_habit.h"

namespace snapcow::fusefs {

struct Handle {
  Target target;                   // kOrigin or kSnapshot
  std::shared_ptr<Snapshot> snap;  // kSnapshot: kept alive (and counted open) until release
  Passthrough::Mode origin_mode = Passthrough::Mode::kNone;  // kOrigin: counted until release
  SyncHabit sync_habit;  // kOrigin writes: whether they may go through the journal
};

inline Handle& HandleOf(fuse_file_info* fi) { return *reinterpret_cast<Handle*>(fi->fh); }

// The size of the image behind `h`.
inline uint64_t ImageSize(Origin& origin, const Handle& h) {
  return h.snap ? h.snap->size() : origin.size();
}

}  // namespace snapcow::fusefs
