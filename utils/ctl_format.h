// How snapcowctl prints snapshots: plain lines for people, JSON for programs.
#pragma once

#include <string>
#include <vector>

#include "engine/snapshot_config.h"

namespace snapcow::ctl {

// "2026-11-22T04:00:00Z"
std::string IsoTime(int64_t unix_seconds);
// snapshot list: "snap-1  size=1073741824 chunk=16384 persistent rw created=... status=24/2097152 16"
std::string ListLine(const SnapshotInfo& s);
// status: the dm table-style status line, then size, chunk size, mode and creation time:
// "snap-1: 0 2097152 snapshot 24/2097152 16 size=1073741824 chunk=16384 mode=P,rw created=..."
std::string StatusLine(const SnapshotInfo& s);
// A JSON array with one object per snapshot (every SnapshotInfo field).
std::string Json(const std::vector<SnapshotInfo>& snapshots);

}  // namespace snapcow::ctl
