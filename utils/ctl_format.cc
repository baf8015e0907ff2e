#include "utils/ctl_format.h"

#include <fmt/format.h>

#include <ctime>

#include "engine/control_protocol.h"

namespace snapcow::ctl {
namespace {

constexpr uint64_t kSector = 512;

// dm's persistence letters: P persistent, PO persistent with overflow kept, N transient.
std::string Mode(const SnapshotInfo& s) {
  std::string m = s.config.persistent ? "P" : "N";
  if (s.config.overflow == OverflowMode::kKeep) m += "O";
  return m + (s.config.read_only ? ",ro" : ",rw");
}

}  // namespace

std::string IsoTime(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  if (!gmtime_r(&t, &tm)) return "?";
  char buf[32];
  if (strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) return "?";
  return buf;
}

std::string ListLine(const SnapshotInfo& s) {
  return fmt::format("{}  size={} chunk={} {} {} created={} status={}", s.name, s.size_bytes,
                     s.config.chunk_bytes, s.config.persistent ? "persistent" : "transient",
                     s.config.read_only ? "ro" : "rw", IsoTime(s.created_unix), s.StatusLine());
}

std::string StatusLine(const SnapshotInfo& s) {
  return fmt::format("{}: 0 {} snapshot {} size={} chunk={} mode={} created={}", s.name,
                     s.size_bytes / kSector, s.StatusLine(), s.size_bytes, s.config.chunk_bytes,
                     Mode(s), IsoTime(s.created_unix));
}

std::string Json(const std::vector<SnapshotInfo>& snapshots) {
  std::string out = "[";
  for (size_t i = 0; i < snapshots.size(); ++i) {
    const SnapshotInfo& s = snapshots[i];
    out += fmt::format(
        "{}\n  {{\"name\": \"{}\", \"number\": {}, \"size\": {}, \"chunk_size\": {}, "
        "\"persistent\": {}, \"read_only\": {}, \"overflow\": \"{}\", \"max_size\": {}, "
        "\"created\": \"{}\", \"created_unix\": {}, \"valid\": {}, \"overflowed\": {}, "
        "\"sectors_allocated\": {}, \"total_sectors\": {}, \"metadata_sectors\": {}, "
        "\"status\": \"{}\"}}",
        i ? "," : "", s.name, s.number, s.size_bytes, s.config.chunk_bytes,
        s.config.persistent, s.config.read_only, OverflowModeName(s.config.overflow),
        s.config.max_cow_bytes, IsoTime(s.created_unix), s.created_unix, s.valid, s.overflowed,
        s.sectors_allocated, s.total_sectors, s.metadata_sectors, s.StatusLine());
  }
  out += snapshots.empty() ? "]" : "\n]";
  return out;
}

}  // namespace snapcow::ctl
