// libFuzzer target: the COW-file loader (LoadPersistentStore and Snapshot::Load) over an
// in-memory file holding the input. Properties beyond "no crash, no sanitizer report":
//   * every exception handed out points at a data chunk inside the file, never at the header
//     or a metadata area (a corrupt store must never make the daemon read metadata as data);
//   * a loaded store allocates after every loaded new_chunk, never on a metadata area, so it
//     never overwrites preserved data;
//   * both loaders agree on whether the bytes are a store.
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/exception_store.h"
#include "engine/format.h"
#include "engine/snapshot.h"
#include "tests/fault_file.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr uint64_t kOriginBytes = 1u << 20;
constexpr size_t kMaxInput = 1u << 20;

std::unique_ptr<snapcow::File> FileOf(const uint8_t* data, size_t size) {
  auto f = std::make_unique<snapcow::test::FaultFile>("fuzz.cow");
  f->SetContents(std::vector<uint8_t>(data, data + size));
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fmtc = snapcow::format;
  if (size > kMaxInput) return 0;
  snapcow::StoreParams p;
  std::unique_ptr<snapcow::ExceptionStore> store;
  snapcow::chunk_t max_new = 0;
  uint64_t count = 0;
  snapcow::Status s = snapcow::LoadPersistentStore(
      FileOf(data, size), kOriginBytes, &p,
      [&](snapcow::chunk_t old_chunk, snapcow::chunk_t new_chunk) {
        const uint64_t chunk = p.config.chunk_bytes;
        FUZZ_CHECK(chunk >= snapcow::kMinChunkBytes && (chunk & (chunk - 1)) == 0);
        const uint64_t epa = fmtc::EntriesPerArea(p.config.chunk_bytes);
        FUZZ_CHECK(new_chunk >= fmtc::kHeaderChunks);   // not the header
        FUZZ_CHECK(!fmtc::IsAreaChunk(epa, new_chunk));  // not metadata
        FUZZ_CHECK(new_chunk < size / chunk);            // inside the file
        if (p.identity.has_extension) FUZZ_CHECK(old_chunk < p.origin_chunks);
        max_new = std::max(max_new, new_chunk);
        ++count;
      },
      &store);
  if (s.ok()) {
    FUZZ_CHECK(store != nullptr);
    FUZZ_CHECK(store->chunk_bytes() == p.config.chunk_bytes);
    (void)store->Usage();
    if (store->valid()) {
      snapcow::Exception e;
      e.old_chunk = 0;
      if (store->Prepare(&e).ok()) {
        const uint64_t epa = fmtc::EntriesPerArea(p.config.chunk_bytes);
        FUZZ_CHECK(e.new_chunk > max_new);  // never over preserved data
        FUZZ_CHECK(!fmtc::IsAreaChunk(epa, e.new_chunk));
        FUZZ_CHECK(e.new_chunk >= fmtc::kHeaderChunks + 1);
      }
    }
  } else {
    FUZZ_CHECK(!s.message().empty());
  }

  std::shared_ptr<snapcow::Snapshot> snap;
  snapcow::Status s2 = snapcow::Snapshot::Load(1, FileOf(data, size), kOriginBytes, &snap);
  if (s2.ok()) {
    FUZZ_CHECK(snap != nullptr);
    FUZZ_CHECK(s.ok());  // Snapshot::Load is stricter (duplicates, number), never laxer
    (void)snap->Info().StatusLine();
  } else {
    FUZZ_CHECK(!s2.message().empty());
  }
  return 0;
}
