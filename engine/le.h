// Little-endian coding: the only place bytes of the on-disk format are encoded or decoded.
#pragma once

#include <endian.h>

#include <cstdint>
#include <cstring>

namespace snapcow::le {

inline void Put32(uint8_t* p, uint32_t v) {
  v = htole32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void Put64(uint8_t* p, uint64_t v) {
  v = htole64(v);
  std::memcpy(p, &v, sizeof v);
}
inline uint32_t Get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return le32toh(v);
}
inline uint64_t Get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return le64toh(v);
}

}  // namespace snapcow::le
