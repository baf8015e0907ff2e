// Generation-tagged 4 KiB blocks for model tests: every 8 bytes of a block hold the tag
// {image, block, generation}, so a stale block (an older generation) or a torn one (two tags)
// is told apart from the right one.
#pragma once

#include <cstdint>
#include <cstring>
#include <set>

namespace snapcow::test {

inline constexpr uint64_t kTagBlock = 4096;

inline uint64_t Tag(uint32_t image, uint64_t block, uint64_t gen) {
  return (uint64_t{image} << 56) | (block << 32) | gen;
}
inline void Fill(uint8_t* p, uint64_t tag) {
  for (uint64_t i = 0; i < kTagBlock; i += 8) std::memcpy(p + i, &tag, 8);
}
// The block's tag, or ~0 if the block is torn (not one tag throughout).
inline uint64_t TagOf(const uint8_t* p) {
  uint64_t t;
  std::memcpy(&t, p, 8);
  for (uint64_t i = 8; i < kTagBlock; i += 8)
    if (std::memcmp(p + i, &t, 8) != 0) return ~0ull;
  return t;
}

// Per block of a model: the value durable at the last sync and those written since
// (acknowledged or in flight). After a power cut the block must hold one of them.
struct BlockModel {
  uint64_t durable = 0;
  std::set<uint64_t> since_sync;
  uint64_t current = 0;
  void Wrote(uint64_t t) {
    since_sync.insert(t);
    current = t;
  }
  void Synced() {
    durable = current;
    since_sync.clear();
  }
  bool Allows(uint64_t t) const { return t == durable || since_sync.count(t) != 0; }
};

}  // namespace snapcow::test
