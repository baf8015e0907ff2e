// libFuzzer target: snapshot-name validation (ParseSnapshotName). It must agree with an
// independent reading of the rule "snap-N, N a decimal in 1..2^32-1 without sign or leading
// zero, nothing else", and an accepted name must be canonical (SnapshotName gives it back).
#include <cstdint>
#include <string>

#include "engine/snapshot_config.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool Reference(const std::string& s, uint32_t* n) {
  const std::string prefix = "snap-";
  if (s.size() <= prefix.size() || s.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string digits = s.substr(prefix.size());
  if (digits.size() > 10 || digits[0] == '0') return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v == 0 || v > UINT32_MAX) return false;
  *n = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);
  uint32_t n = 0, ref = 0;
  const bool ok = snapcow::ParseSnapshotName(s, &n);
  FUZZ_CHECK(ok == Reference(s, &ref));
  if (ok) {
    FUZZ_CHECK(n == ref && n != 0);
    FUZZ_CHECK(snapcow::SnapshotName(n) == s);
  }
  return 0;
}
