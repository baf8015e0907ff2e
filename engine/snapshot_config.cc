#include "engine/snapshot_config.h"

#include <fmt/format.h>

namespace snapcow {

std::string ValidateSnapshotConfig(const SnapshotConfig& c) {
  if (c.chunk_bytes < kMinChunkBytes || c.chunk_bytes > kMaxChunkBytes ||
      (c.chunk_bytes & (c.chunk_bytes - 1)) != 0)
    return fmt::format("chunk size {} is not a power of two between 4K and 1G", c.chunk_bytes);
  if (c.max_cow_bytes != 0 && c.max_cow_bytes < 4ull * c.chunk_bytes)
    return fmt::format("max size {} is smaller than four chunks of {} bytes", c.max_cow_bytes,
                       c.chunk_bytes);
  return "";
}

std::string SnapshotInfo::StatusLine() const {
  if (!valid) return "Invalid";
  if (overflowed) return "Overflow";
  return fmt::format("{}/{} {}", sectors_allocated, total_sectors, metadata_sectors);
}

std::string SnapshotName(uint32_t number) { return fmt::format("snap-{}", number); }

bool ParseSnapshotName(const std::string& name, uint32_t* number) {
  static constexpr char kPrefix[] = "snap-";
  constexpr size_t kPrefixLen = sizeof(kPrefix) - 1;
  if (name.size() <= kPrefixLen || name.size() > kPrefixLen + 10) return false;
  if (name.compare(0, kPrefixLen, kPrefix) != 0) return false;
  if (name[kPrefixLen] == '0') return false;
  uint64_t n = 0;
  for (size_t i = kPrefixLen; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (n == 0 || n > UINT32_MAX) return false;
  *number = static_cast<uint32_t>(n);
  return true;
}

}  // namespace snapcow
