// Constants of the COW store format. engine/FORMAT.md is the specification; change both in
// the same commit.
#pragma once

#include <cstdint>

namespace snapcow::format {

inline constexpr uint32_t kMagic = 0x70416e53;  // "SnAp"
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kSectorBytes = 512;
inline constexpr uint32_t kHeaderBytes = 16;
inline constexpr uint32_t kEntryBytes = 16;
inline constexpr uint64_t kHeaderChunks = 1;

// Header field offsets.
inline constexpr uint32_t kOffMagic = 0;
inline constexpr uint32_t kOffValid = 4;
inline constexpr uint32_t kOffVersion = 8;
inline constexpr uint32_t kOffChunkSectors = 12;

// Extension block (FORMAT.md §4).
inline constexpr uint32_t kExtOffset = 512;
inline constexpr uint32_t kExtBytes = 64;
inline constexpr uint32_t kExtMagic = 0x58574353;  // "SCWX"
inline constexpr uint32_t kExtVersion = 1;
inline constexpr uint32_t kExtOffMagic = 0;
inline constexpr uint32_t kExtOffVersion = 4;
inline constexpr uint32_t kExtOffLength = 8;
inline constexpr uint32_t kExtOffCrc = 12;
inline constexpr uint32_t kExtOffOriginBytes = 16;
inline constexpr uint32_t kExtOffCreated = 24;
inline constexpr uint32_t kExtOffNumber = 32;
inline constexpr uint32_t kExtOffFlags = 36;
inline constexpr uint32_t kExtOffMaxCow = 40;
inline constexpr uint32_t kExtOffChunkBytes = 48;
inline constexpr uint32_t kFlagReadOnly = 1u << 0;
inline constexpr uint32_t kFlagOverflowKeep = 1u << 1;

// Entries per metadata area.
inline constexpr uint64_t EntriesPerArea(uint32_t chunk_bytes) { return chunk_bytes / kEntryBytes; }
// Chunk holding metadata area `area`.
inline constexpr uint64_t AreaLocation(uint64_t epa, uint64_t area) {
  return kHeaderChunks + (epa + 1) * area;
}
inline constexpr bool IsAreaChunk(uint64_t epa, uint64_t chunk) {
  return chunk >= kHeaderChunks && (chunk - kHeaderChunks) % (epa + 1) == 0;
}

}  // namespace snapcow::format
