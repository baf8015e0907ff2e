// What a snapshot is asked to be (SnapshotConfig) and what it reports (SnapshotInfo).
#pragma once

#include <cstdint>
#include <string>

namespace snapcow {

using chunk_t = uint64_t;

enum class OverflowMode : uint8_t {
  kInvalidate,  // dm "P": a full COW invalidates the snapshot
  kKeep,        // dm "PO": snapshot writes that find the COW full fail with ENOSPC, reads go on
};

inline constexpr uint32_t kMinChunkBytes = 4096;
inline constexpr uint32_t kMaxChunkBytes = 1u << 30;
inline constexpr uint32_t kDefaultChunkBytes = 16384;
inline constexpr uint32_t kDefaultCowThreshold = 2048;

struct SnapshotConfig {
  uint32_t chunk_bytes = kDefaultChunkBytes;  // power of two, kMinChunkBytes..kMaxChunkBytes
  bool persistent = true;
  bool read_only = false;
  uint64_t max_cow_bytes = 0;  // 0: unlimited
  OverflowMode overflow = OverflowMode::kInvalidate;
};

// Returns "" when `c` is acceptable, else one line saying what is wrong.
std::string ValidateSnapshotConfig(const SnapshotConfig& c);

struct SnapshotInfo {
  uint32_t number = 0;
  std::string name;  // "snap-N"
  SnapshotConfig config;
  uint64_t size_bytes = 0;  // origin size when the snapshot was taken
  int64_t created_unix = 0;
  bool valid = true;
  bool overflowed = false;
  uint64_t sectors_allocated = 0;
  uint64_t total_sectors = 0;
  uint64_t metadata_sectors = 0;

  // dm's status line: "<sectors_allocated>/<total_sectors> <metadata_sectors>", "Invalid"
  // or "Overflow".
  std::string StatusLine() const;
};

// "snap-N" for N >= 1; ParseSnapshotName returns false for anything else (no sign, no
// leading zero, no trailing text, N fits in 32 bits and is not 0).
std::string SnapshotName(uint32_t number);
bool ParseSnapshotName(const std::string& name, uint32_t* number);

}  // namespace snapcow
