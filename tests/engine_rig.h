// EngineRig: an Origin over in-memory fault-injecting files, with helpers to add snapshots and
// to reload their stores as a restarted daemon would.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "engine/origin.h"
#include "engine/snapshot.h"
#include "tests/fault_file.h"

namespace snapcow::test {

struct EngineRig {
  explicit EngineRig(uint64_t size, uint32_t cow_threshold = kDefaultCowThreshold) {
    origin_file = new FaultFile("origin.img", size);
    origin = std::make_unique<Origin>(std::unique_ptr<File>(origin_file), size, cow_threshold);
  }

  std::shared_ptr<Snapshot> Add(uint32_t n, SnapshotConfig c = {}) {
    cows[n] = std::make_unique<FaultFile>("snap-" + std::to_string(n) + ".cow");
    std::shared_ptr<Snapshot> s;
    Status st = Snapshot::Create(n, c, origin->size(), 1700000000 + n,
                                 std::make_unique<SharedFile>(cows[n].get()), &s);
    if (!st.ok()) throw std::runtime_error(st.message());
    Origin::Quiesce q(origin.get());
    origin->AddSnapshot(s);
    return s;
  }

  // Loads snapshot n's store from what is durable (power cut) or from everything written.
  Status Load(uint32_t n, bool durable_only, std::shared_ptr<Snapshot>* out) {
    std::unique_ptr<FaultFile> copy =
        durable_only ? cows.at(n)->DurableCopy() : cows.at(n)->LiveCopy();
    return Snapshot::Load(n, std::move(copy), origin->size(), out);
  }

  // Writes `len` bytes of value v to the origin.
  Status Fill(uint64_t off, size_t len, uint8_t v) {
    std::vector<uint8_t> b(len, v);
    return origin->Write(off, len, b.data());
  }
  // A keep-mode snapshot whose COW file fails every write with ENOSPC.
  std::shared_ptr<Snapshot> FullKeepSnapshot(uint32_t n) {
    SnapshotConfig c;
    c.overflow = OverflowMode::kKeep;
    auto s = Add(n, c);
    cows[n]->write_error = ENOSPC;
    return s;
  }

  std::vector<uint8_t> ReadOrigin(uint64_t off, size_t len) {
    std::vector<uint8_t> b(len);
    Status s = origin->Read(off, len, b.data());
    if (!s.ok()) throw std::runtime_error(s.message());
    return b;
  }
  std::vector<uint8_t> ReadSnap(Snapshot& s, uint64_t off, size_t len) {
    std::vector<uint8_t> b(len);
    Status st = origin->ReadSnapshot(s, off, len, b.data());
    if (!st.ok()) throw std::runtime_error(st.message());
    return b;
  }

  FaultFile* origin_file;  // owned by origin
  std::unique_ptr<Origin> origin;
  std::map<uint32_t, std::unique_ptr<FaultFile>> cows;
};

inline std::vector<uint8_t> Pattern(size_t len, uint8_t v) { return std::vector<uint8_t>(len, v); }
// An origin before any test write (journal tests): every 4 KiB block its own byte.
inline uint8_t OldByte(uint64_t x) { return static_cast<uint8_t>(0x40 + (x / 4096) % 64); }
inline std::vector<uint8_t> Old(uint64_t off, size_t len) {
  std::vector<uint8_t> b(len);
  for (size_t i = 0; i < len; ++i) b[i] = OldByte(off + i);
  return b;
}

}  // namespace snapcow::test
