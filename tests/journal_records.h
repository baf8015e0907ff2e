// What the journal tests append and expect back: records, and the replay of a journal as a
// list of them.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <ostream>
#include <vector>

#include "engine/write_journal.h"

namespace snapcow::test {

struct Record {
  uint64_t off;
  std::vector<uint8_t> data;
  bool operator==(const Record& o) const { return off == o.off && data == o.data; }
};
inline std::ostream& operator<<(std::ostream& os, const Record& r) {
  return os << "{off " << r.off << ", " << r.data.size() << " bytes of "
            << (r.data.empty() ? 0 : int{r.data[0]}) << "}";
}

// Every record Replay hands over, in order (the count it reports must agree).
inline std::vector<Record> ReplayAll(WriteJournal& j) {
  std::vector<Record> out;
  uint64_t n = 0;
  Status s = j.Replay(
      [&](uint64_t off, size_t len, const void* data) {
        const auto* p = static_cast<const uint8_t*>(data);
        out.push_back({off, std::vector<uint8_t>(p, p + len)});
        return Status::OK();
      },
      &n);
  INFO(s.message());
  REQUIRE(s.ok());
  REQUIRE(n == out.size());
  return out;
}

inline uint64_t AppendOk(WriteJournal& j, const Record& r) {
  uint64_t pos = 0;
  Status s = j.Append(r.off, r.data.size(), r.data.data(), &pos);
  INFO(s.message());
  REQUIRE(s.ok());
  return pos;
}

}  // namespace snapcow::test
