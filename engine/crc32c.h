// CRC32C (Castagnoli), for the extension block of the COW header.
#pragma once

#include <cstddef>
#include <cstdint>

namespace snapcow {

uint32_t Crc32c(const void* data, size_t len);

}  // namespace snapcow
