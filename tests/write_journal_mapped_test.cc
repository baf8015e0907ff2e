// The origin write journal on a real file, where its records are stores into a shared
// mapping (engine/mapped_region.h) instead of writes: the bytes must be those the written
// journal (write_journal_test, over a file that has no descriptor) leaves, and a second
// holder of the file -- the next mount after a killed daemon -- must replay them with no
// sync in between, from the page cache.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/write_journal.h"
#include "tests/byte_diff.h"
#include "tests/fault_file.h"
#include "tests/journal_records.h"
#include "tests/temp_dir.h"

using namespace snapcow;
using namespace snapcow::test;
namespace {

constexpr uint64_t kCapacity = 1 << 20;

std::unique_ptr<WriteJournal> OpenPath(const std::string& path) {
  std::unique_ptr<File> f;
  Status s = OpenPosixFile(path, O_RDWR | O_CREAT, 0600, &f);
  INFO(s.message());
  REQUIRE(s.ok());
  std::unique_ptr<WriteJournal> j;
  s = WriteJournal::Open(std::move(f), kCapacity, &j);
  INFO(s.message());
  REQUIRE(s.ok());
  return j;
}

std::unique_ptr<WriteJournal> OpenFault(FaultFile* f) {
  std::unique_ptr<WriteJournal> j;
  REQUIRE(WriteJournal::Open(std::make_unique<SharedFile>(f), kCapacity, &j).ok());
  return j;
}

std::vector<uint8_t> ReadFile(const std::string& path, uint64_t len) {
  std::unique_ptr<File> f;
  REQUIRE(OpenPosixFile(path, O_RDONLY, 0, &f).ok());
  std::vector<uint8_t> b(len);
  REQUIRE(f->ReadAt(0, len, b.data()).ok());
  return b;
}

std::vector<uint8_t> Pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> b(len);
  for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(seed + i * 7);
  return b;
}

}  // namespace

TEST_CASE("mapped journal: allocated up front, the same bytes as written records, replayed "
          "by the next holder without a sync") {
  TempDir dir("/var/tmp/snapcow-journal");
  const std::string path = dir.path + "/journal";
  auto j = OpenPath(path);
  FaultFile ref("reference");  // no descriptor: the same operations, as writes
  auto r = OpenFault(&ref);
  REQUIRE(j->Reset(true).ok());
  REQUIRE(r->Reset(true).ok());

  // Mapped: the file holds the header and the whole capacity, every block allocated (a store
  // into a hole that the filesystem cannot fill would be SIGBUS).
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) == WriteJournal::kRecordsStart + kCapacity);
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 >= WriteJournal::kRecordsStart + kCapacity);

  const std::vector<Record> recs = {
      {0x0102030405060708ull, Pattern(1000, 1)}, {512, Pattern(3, 2)}, {4096, Pattern(4096, 3)}};
  std::vector<uint64_t> pos;
  for (const auto& rec : recs) {
    pos.push_back(AppendOk(*j, rec));
    CHECK(AppendOk(*r, rec) == pos.back());
  }
  REQUIRE(j->MarkWritten(pos[1]).ok());
  REQUIRE(r->MarkWritten(pos[1]).ok());
  const uint64_t end = pos[2] + 4096 + 512;  // 64 + 4096 bytes padded to 9 sectors
  CHECK(j->used() == end - WriteJournal::kRecordsStart);
  CHECK(Diff(ReadFile(path, end), ref.Contents()) == "");

  // The next holder (no sync, no close: the daemon was killed) replays what is not written.
  CHECK(ReplayAll(*OpenPath(path)) == std::vector<Record>{recs[0], recs[2]});

  // A new generation, fewer records: the next holder stops at the older generation's tail.
  REQUIRE(j->Reset(false).ok());
  const Record n1{8192, Pattern(100, 9)};
  CHECK(AppendOk(*j, n1) == WriteJournal::kRecordsStart);
  CHECK(ReplayAll(*OpenPath(path)) == std::vector<Record>{n1});

  // Past the capacity Append refuses, and nothing is stored beyond the mapping.
  uint64_t p = 0;
  const std::vector<uint8_t> big = Pattern(kCapacity, 4);
  CHECK(j->Append(0, big.size(), big.data(), &p).err() == ENOSPC);
  CHECK(ReplayAll(*OpenPath(path)) == std::vector<Record>{n1});
}

TEST_CASE("mapped journal: the first Reset after Open kills every record of the last holder") {
  TempDir dir("/var/tmp/snapcow-journal");
  const std::string path = dir.path + "/journal";
  {
    auto j = OpenPath(path);
    REQUIRE(j->Reset(true).ok());
    AppendOk(*j, {0, Pattern(600, 1)});
    AppendOk(*j, {1024, Pattern(600, 2)});
  }
  auto j = OpenPath(path);
  REQUIRE(ReplayAll(*j).size() == 2);
  REQUIRE(j->Reset(true).ok());
  // Deallocated, then allocated again for the mapping: the old records read as zeros.
  const std::vector<uint8_t> c = ReadFile(path, WriteJournal::kRecordsStart + kCapacity);
  CHECK(std::all_of(c.begin() + WriteJournal::kRecordsStart, c.end(),
                    [](uint8_t b) { return b == 0; }));
  CHECK(ReplayAll(*OpenPath(path)).empty());
}
