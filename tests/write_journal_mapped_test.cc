// The origin write journal on a real file, where its records are stores into a shared
// mapping (engine/mapped_region.h) instead of writes: the bytes must be those the written
// journal (write_journal_test, over a file that has no descriptor) leaves, and a second
// holder of the file -- the next mount after a killed daemon -- must replay them with no
// sync in between, from the page cache.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/mapped_region.h"
#include "engine/write_journal.h"
#include "tests/byte_diff.h"
#include "tests/fault_file.h"
#include "tests/journal_records.h"
#include "tests/temp_dir.h"

using namespace snapcow;
using namespace snapcow::test;
namespace {

constexpr uint64_t kCapacity = 1 << 20;

std::unique_ptr<WriteJournal> OpenPath(const std::string& path, uint64_t capacity = kCapacity) {
  std::unique_ptr<File> f;
  Status s = OpenPosixFile(path, O_RDWR | O_CREAT, 0600, &f);
  INFO(s.message());
  REQUIRE(s.ok());
  std::unique_ptr<WriteJournal> j;
  s = WriteJournal::Open(std::move(f), capacity, &j);
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

// Pages of [off, off+len) of `region` with no page table entry in this process
// (/proc/self/pagemap, bit 63): a store into one of them takes a page fault.
size_t PagesUnmapped(const MappedRegion& region, uint64_t off, uint64_t len) {
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = reinterpret_cast<uintptr_t>(region.data() + off) / page;
  const uint64_t last = (reinterpret_cast<uintptr_t>(region.data() + off + len) - 1) / page;
  std::vector<uint64_t> entries(last - first + 1);
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const ssize_t n = ::pread(fd, entries.data(), entries.size() * 8, static_cast<off_t>(first * 8));
  ::close(fd);
  REQUIRE(n == static_cast<ssize_t>(entries.size() * 8));
  return static_cast<size_t>(
      std::count_if(entries.begin(), entries.end(), [](uint64_t e) { return (e >> 63) == 0; }));
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

TEST_CASE("mapped journal: the pages ahead of the records are populated a stretch at a time, "
          "their bytes unchanged") {
  TempDir dir("/var/tmp/snapcow-journal");
  const std::string path = dir.path + "/journal";
  constexpr uint64_t kStretch = WriteJournal::kPrefaultBytes;
  constexpr uint64_t kBig = 4 * kStretch;
  auto j = OpenPath(path, kBig);
  const MappedRegion* region = nullptr;
  uint64_t off = 0, len = 0;
  CHECK_FALSE(j->NextPrefault(&region, &off, &len));  // not mapped before the first Reset
  REQUIRE(j->Reset(true).ok());

  const Record a{0, Pattern(4096, 1)};
  const uint64_t end_a = AppendOk(*j, a) + 4096 + 512;
  REQUIRE(j->NextPrefault(&region, &off, &len));
  CHECK(region != nullptr);
  CHECK(off == end_a);  // from the records on
  CHECK(len == kStretch);
  // Nothing has stored into the far half of the stretch yet: no page of it is mapped (a fault
  // maps the pages around it at most, however much the file's read-ahead brought in).
  REQUIRE(PagesUnmapped(*region, off + len / 2, len / 2) > 0);
  CHECK(region->Populate(off, len));
  CHECK(PagesUnmapped(*region, off, len) == 0);
  CHECK(ReplayAll(*OpenPath(path, kBig)) == std::vector<Record>{a});
  const std::vector<uint8_t> c = ReadFile(path, off + len);
  CHECK(std::all_of(c.begin() + static_cast<ptrdiff_t>(end_a), c.end(),
                    [](uint8_t b) { return b == 0; }));

  // The next stretch is due only once the records are within half a stretch of its end.
  CHECK_FALSE(j->NextPrefault(&region, &off, &len));
  const Record b{8192, Pattern(kStretch / 2, 2)};
  AppendOk(*j, b);
  REQUIRE(j->NextPrefault(&region, &off, &len));
  CHECK(off == end_a + kStretch);
  CHECK(len == kStretch);
  CHECK(region->Populate(off, len));
  CHECK(ReplayAll(*OpenPath(path, kBig)) == std::vector<Record>{a, b});

  // Records that ran past the stretches handed out: the next starts from them, and the last
  // ends at the capacity.
  const Record big{0, Pattern(11 * kStretch / 4, 3)};  // ends less than a stretch from the end
  const uint64_t end_big = AppendOk(*j, big) + (64 + big.data.size() + 511) / 512 * 512;
  REQUIRE(WriteJournal::kRecordsStart + kBig - end_big < kStretch);
  REQUIRE(j->NextPrefault(&region, &off, &len));
  CHECK(off == end_big);
  CHECK(off + len == WriteJournal::kRecordsStart + kBig);
  CHECK_FALSE(j->NextPrefault(&region, &off, &len));

  // After a Reset, from the first record again.
  REQUIRE(j->Reset(false).ok());
  REQUIRE(j->NextPrefault(&region, &off, &len));
  CHECK(off == WriteJournal::kRecordsStart);
  CHECK(len == kStretch);
  CHECK(ReplayAll(*OpenPath(path, kBig)).empty());
}
