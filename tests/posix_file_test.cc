// PosixFile's run writes: a long aligned run may go around the page cache (O_DIRECT through
// a second descriptor), and must still read back through the first, as must short and
// unaligned runs, which go through the page cache.
#include <fcntl.h>
#include <sys/uio.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/copy_buffer.h"
#include "engine/file.h"
#include "tests/temp_dir.h"

namespace snapcow {
using test::TempDir;
namespace {

constexpr size_t kPiece = 16384;

std::vector<uint8_t> ReadBack(File& f, uint64_t off, size_t len) {
  std::vector<uint8_t> got(len);
  REQUIRE(f.ReadAt(off, len, got.data()).ok());
  return got;
}

TEST_CASE("a long aligned run reads back through the page cache it went around") {
  TempDir dir;
  std::unique_ptr<File> f;
  REQUIRE(OpenPosixFile(dir.path + "/cow", O_RDWR | O_CREAT, 0600, &f).ok());
  // Old bytes first, read once so that they are in the page cache.
  std::vector<uint8_t> old(64 * kPiece, 0x11);
  REQUIRE(f->WriteAt(kPiece, old.size(), old.data()).ok());
  REQUIRE(ReadBack(*f, kPiece, old.size()) == old);

  CopyBuffer buffer;
  uint8_t* mem = buffer.Get(64 * kPiece);
  REQUIRE(mem != nullptr);
  // The pieces out of order in memory, as the copier's slots are when snapshots interleave.
  std::vector<struct iovec> iov;
  for (size_t i = 0; i < 64; ++i) {
    uint8_t* slot = mem + (63 - i) * kPiece;
    for (size_t b = 0; b < kPiece; ++b) slot[b] = static_cast<uint8_t>(i * 7 + b % 251);
    iov.push_back({slot, kPiece});
  }
  REQUIRE(f->WriteRunAt(kPiece, iov.data(), static_cast<int>(iov.size())).ok());
  std::vector<uint8_t> got = ReadBack(*f, kPiece, 64 * kPiece);
  for (size_t i = 0; i < 64; ++i) {
    INFO("piece " << i);
    REQUIRE(std::vector<uint8_t>(got.begin() + i * kPiece, got.begin() + (i + 1) * kPiece) ==
            std::vector<uint8_t>(mem + (63 - i) * kPiece, mem + (64 - i) * kPiece));
  }
  // The bytes around the run are untouched, and a new descriptor sees the same.
  REQUIRE(ReadBack(*f, 0, kPiece) == std::vector<uint8_t>(kPiece, 0));
  std::unique_ptr<File> again;
  REQUIRE(OpenPosixFile(dir.path + "/cow", O_RDONLY, 0, &again).ok());
  REQUIRE(ReadBack(*again, kPiece, 64 * kPiece) == got);
}

TEST_CASE("short and unaligned runs are written whole") {
  TempDir dir;
  std::unique_ptr<File> f;
  REQUIRE(OpenPosixFile(dir.path + "/cow", O_RDWR | O_CREAT, 0600, &f).ok());
  std::vector<uint8_t> a(100000, 0xa5), b(3, 0x5a), c(70001, 0x3c);
  std::vector<struct iovec> iov = {{a.data() + 1, a.size() - 1}, {b.data(), b.size()},
                                   {c.data(), c.size()}};
  REQUIRE(f->WriteRunAt(513, iov.data(), 3).ok());
  REQUIRE(ReadBack(*f, 513, a.size() - 1) == std::vector<uint8_t>(a.size() - 1, 0xa5));
  REQUIRE(ReadBack(*f, 513 + a.size() - 1, b.size()) == b);
  REQUIRE(ReadBack(*f, 513 + a.size() - 1 + b.size(), c.size()) == c);
  // One aligned piece: too short a run to go around the page cache, written all the same.
  CopyBuffer buffer;
  uint8_t* mem = buffer.Get(kPiece);
  REQUIRE(mem != nullptr);
  for (size_t i = 0; i < kPiece; ++i) mem[i] = static_cast<uint8_t>(i);
  struct iovec one = {mem, kPiece};
  REQUIRE(f->WriteRunAt(1 << 20, &one, 1).ok());
  REQUIRE(ReadBack(*f, 1 << 20, kPiece) == std::vector<uint8_t>(mem, mem + kPiece));
}

TEST_CASE("a run write to a file opened read-only fails and changes nothing") {
  TempDir dir;
  std::unique_ptr<File> f;
  REQUIRE(OpenPosixFile(dir.path + "/cow", O_RDWR | O_CREAT, 0600, &f).ok());
  std::vector<uint8_t> zeros(16 * kPiece, 0);
  REQUIRE(f->WriteAt(0, zeros.size(), zeros.data()).ok());
  std::unique_ptr<File> ro;
  REQUIRE(OpenPosixFile(dir.path + "/cow", O_RDONLY, 0, &ro).ok());
  CopyBuffer buffer;
  uint8_t* mem = buffer.Get(16 * kPiece);
  REQUIRE(mem != nullptr);
  std::fill(mem, mem + 16 * kPiece, 0xff);
  struct iovec all = {mem, 16 * kPiece};
  REQUIRE_FALSE(ro->WriteRunAt(0, &all, 1).ok());
  REQUIRE(ReadBack(*f, 0, zeros.size()) == zeros);
}

}  // namespace
}  // namespace snapcow
