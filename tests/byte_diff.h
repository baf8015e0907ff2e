// Diff: compares two byte vectors for a CHECK without Catch printing every byte of both.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace snapcow::test {

// "" when equal, else the first difference.
inline std::string Diff(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
  if (got.size() != want.size())
    return "size " + std::to_string(got.size()) + ", want " + std::to_string(want.size());
  auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin());
  if (g == got.end()) return "";
  return "byte " + std::to_string(g - got.begin()) + " is " + std::to_string(*g) + ", want " +
         std::to_string(*w);
}

}  // namespace snapcow::test
