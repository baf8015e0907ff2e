// Faults injected through the engine's file layer (issue 4): dm semantics. A failing store
// invalidates its snapshot (or overflows it in keep mode); the origin keeps working; an error
// reaches only the writer whose own write failed; nothing hangs.
#include <catch2/catch.hpp>

#include "tests/engine_rig.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {
constexpr uint64_t kMiB = 1 << 20;
}  // namespace

TEST_CASE("a COW flush failing invalidates the snapshot, not the origin write") {
  EngineRig r(kMiB);
  REQUIRE(r.Fill(0, kMiB, 1).ok());
  auto s = r.Add(1);
  r.cows[1]->sync_error = EIO;
  CHECK(r.Fill(0, 4096, 2).ok());
  CHECK_FALSE(s->valid());
  CHECK(s->Info().StatusLine() == "Invalid");
  CHECK(r.ReadOrigin(0, 4096) == Pattern(4096, 2));
  // Later writes need nothing from the invalid snapshot.
  CHECK(r.Fill(65536, 4096, 3).ok());
}

TEST_CASE("ENOSPC on COW data in keep mode: the snapshot writer sees ENOSPC, reads go on") {
  EngineRig r(kMiB);
  REQUIRE(r.Fill(0, kMiB, 1).ok());
  auto s = r.FullKeepSnapshot(1);
  auto b = Pattern(16384, 9);
  CHECK(r.origin->WriteSnapshot(*s, 0, 16384, b.data()).err() == ENOSPC);
  CHECK(s->Info().StatusLine() == "Overflow");
  r.cows[1]->write_error = 0;
  CHECK(r.ReadSnap(*s, 0, 16384) == Pattern(16384, 1));
  CHECK(r.origin->WriteSnapshot(*s, 16384, 16384, b.data()).err() == ENOSPC);
}

TEST_CASE("ENOSPC on COW data for an origin write invalidates even in keep mode") {
  // dm's PO mode: only the snapshot's own writes overflow; an origin write that cannot
  // preserve the old data must not let the snapshot lie.
  EngineRig r(kMiB);
  REQUIRE(r.Fill(0, kMiB, 1).ok());
  auto s = r.FullKeepSnapshot(1);
  CHECK(r.Fill(0, 4096, 2).ok());
  CHECK_FALSE(s->valid());
}

TEST_CASE("an origin write error reaches that writer only and changes no snapshot") {
  EngineRig r(kMiB);
  REQUIRE(r.Fill(0, kMiB, 1).ok());
  auto s = r.Add(1);
  r.origin_file->write_error = EIO;
  CHECK(r.Fill(0, 4096, 2).err() == EIO);
  r.origin_file->write_error = 0;
  CHECK(s->valid());
  CHECK(r.ReadSnap(*s, 0, 4096) == Pattern(4096, 1));
  CHECK(r.ReadOrigin(0, 4096) == Pattern(4096, 1));
  CHECK(r.Fill(0, 4096, 3).ok());
  CHECK(r.ReadSnap(*s, 0, 4096) == Pattern(4096, 1));
}

TEST_CASE("fsync of the origin reports an origin flush failure") {
  EngineRig r(kMiB);
  r.Add(1);
  r.origin_file->sync_error = EIO;
  CHECK(r.origin->Sync().err() == EIO);
  r.origin_file->sync_error = 0;
  CHECK(r.origin->Sync().ok());
}

TEST_CASE("a snapshot's commit failing fails only that snapshot's writer") {
  EngineRig r(kMiB);
  REQUIRE(r.Fill(0, kMiB, 1).ok());
  auto s1 = r.Add(1);
  auto s2 = r.Add(2);
  r.cows[1]->sync_error = EIO;
  auto b = Pattern(4096, 7);
  CHECK(r.origin->WriteSnapshot(*s1, 0, 4096, b.data()).err() == EIO);
  CHECK(r.origin->WriteSnapshot(*s2, 0, 4096, b.data()).ok());
  CHECK(r.ReadSnap(*s2, 0, 4096) == Pattern(4096, 7));
  CHECK(s2->valid());
  CHECK_FALSE(s1->valid());
}
