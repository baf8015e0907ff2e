// Byte-level tests of the COW store against the kernel's dm-snapshot layout (FORMAT.md).
#include <catch2/catch.hpp>

#include <cstring>
#include <functional>
#include <vector>

#include "engine/crc32c.h"
#include "engine/format.h"
#include "engine/le.h"
#include "engine/persistent_store.h"
#include "tests/fault_file.h"

using namespace snapcow;
using namespace snapcow::test;

namespace {

StoreParams Params(uint32_t chunk, uint64_t origin_bytes = 64ull << 20) {
  StoreParams p;
  p.config.chunk_bytes = chunk;
  p.identity.number = 7;
  p.identity.origin_bytes = origin_bytes;
  p.identity.created_unix = 1700000000;
  p.origin_chunks = origin_bytes / chunk;
  return p;
}

void CommitSync(ExceptionStore& s, chunk_t old_chunk, Exception* e) {
  e->old_chunk = old_chunk;
  REQUIRE(s.Prepare(e).ok());
  std::vector<uint8_t> data(s.chunk_bytes(), static_cast<uint8_t>(old_chunk));
  REQUIRE(s.cow().WriteAt(e->new_chunk * s.chunk_bytes(), data.size(), data.data()).ok());
  Status got = Status::Error(-1, "not called");
  s.Commit(*e, [&](const Status& st) { got = st; });
  REQUIRE(got.ok());
}

Status LoadFrom(const FaultFile& f, StoreParams* p, std::vector<std::pair<chunk_t, chunk_t>>* ex) {
  std::unique_ptr<ExceptionStore> st;
  return PersistentStore::Load(f.LiveCopy(), 64ull << 20, p,
                               [&](chunk_t o, chunk_t n) { ex->emplace_back(o, n); }, &st);
}

}  // namespace

TEST_CASE("a fresh 4 KiB-chunk store starts with the kernel's header") {
  FaultFile f("s.cow");
  std::unique_ptr<ExceptionStore> st;
  REQUIRE(PersistentStore::Create(std::make_unique<SharedFile>(&f), Params(4096), &st).ok());
  auto bytes = f.Contents();
  const uint8_t expect[16] = {0x53, 0x6e, 0x41, 0x70, 0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x08, 0, 0, 0};
  REQUIRE(bytes.size() >= 2 * 4096);
  CHECK(std::equal(expect, expect + 16, bytes.begin()));
  // Area 0 (chunk 1) is all zeros: an empty table.
  CHECK(std::all_of(bytes.begin() + 4096, bytes.begin() + 8192, [](uint8_t b) { return b == 0; }));
  // Extension block magic "SCWX" at 512.
  CHECK(le::Get32(&bytes[512]) == format::kExtMagic);
  CHECK(f.syncs >= 1);
}

TEST_CASE("entries 255, 256, 257 of a 4 KiB-chunk store straddle areas 0 and 1") {
  FaultFile f("s.cow");
  std::unique_ptr<ExceptionStore> st;
  REQUIRE(PersistentStore::Create(std::make_unique<SharedFile>(&f), Params(4096), &st).ok());
  std::vector<Exception> es(258);
  for (chunk_t i = 0; i < 258; ++i) CommitSync(*st, 1000 + i, &es[i]);
  // Data chunks: 2..257 for area 0's entries, then 258 is area 1 and is skipped.
  CHECK(es[0].new_chunk == 2);
  CHECK(es[255].new_chunk == 257);
  CHECK(es[256].new_chunk == 259);
  CHECK(es[257].new_chunk == 260);
  auto b = f.Contents();
  CHECK(le::Get64(&b[4096 + 255 * 16]) == 1255);
  CHECK(le::Get64(&b[4096 + 255 * 16 + 8]) == 257);
  CHECK(le::Get64(&b[258 * 4096]) == 1256);
  CHECK(le::Get64(&b[258 * 4096 + 8]) == 259);
  CHECK(le::Get64(&b[258 * 4096 + 16]) == 1257);
  CHECK(le::Get64(&b[258 * 4096 + 24]) == 260);
  // Terminator after entry 257.
  CHECK(le::Get64(&b[258 * 4096 + 32 + 8]) == 0);

  StoreParams p;
  std::vector<std::pair<chunk_t, chunk_t>> ex;
  REQUIRE(LoadFrom(f, &p, &ex).ok());
  REQUIRE(ex.size() == 258);
  CHECK(ex[256] == std::make_pair(chunk_t{1256}, chunk_t{259}));
  CHECK(p.identity.number == 7);
  CHECK(p.config.chunk_bytes == 4096);
}

TEST_CASE("a reloaded store continues allocating after its highest chunk") {
  FaultFile f("s.cow");
  std::unique_ptr<ExceptionStore> st;
  REQUIRE(PersistentStore::Create(std::make_unique<SharedFile>(&f), Params(4096), &st).ok());
  Exception e;
  for (chunk_t i = 0; i < 256; ++i) CommitSync(*st, i, &e);  // fills area 0 exactly
  st.reset();
  StoreParams p;
  std::unique_ptr<ExceptionStore> again;
  size_t n = 0;
  REQUIRE(PersistentStore::Load(f.LiveCopy(), 64ull << 20, &p, [&](chunk_t, chunk_t) { ++n; },
                                &again)
              .ok());
  CHECK(n == 256);
  Exception next;
  next.old_chunk = 999;
  REQUIRE(again->Prepare(&next).ok());
  CHECK(next.new_chunk == 259);  // 258 is area 1
}

TEST_CASE("corrupt stores refuse to load with file, offset and reason") {
  FaultFile f("snap-7.cow");
  std::unique_ptr<ExceptionStore> st;
  REQUIRE(PersistentStore::Create(std::make_unique<SharedFile>(&f), Params(4096), &st).ok());
  Exception e;
  CommitSync(*st, 5, &e);
  const auto good = f.Contents();
  REQUIRE(good.size() >= 8192);
  // Puts a damaged copy of the good store in f. (A function, not inline edits of a copy:
  // g++ 12 warns about writes into a copied vector it cannot size.)
  auto damage = [&](const std::function<void(uint8_t*, size_t*)>& fn) {
    std::vector<uint8_t> b(good);
    size_t size = b.size();
    fn(b.data(), &size);
    b.resize(size);
    f.SetContents(std::move(b));
  };
  StoreParams p;
  std::vector<std::pair<chunk_t, chunk_t>> ex;

  SECTION("bad magic") {
    damage([](uint8_t* b, size_t* n) { b[0] = 'X'; });
    Status s = LoadFrom(f, &p, &ex);
    CHECK(s.err() == EUCLEAN);
    CHECK(s.message() == "snap-7.cow: offset 0: bad magic number (not a dm-snapshot store)");
  }
  SECTION("bad chunk size") {
    damage([](uint8_t* b, size_t* n) { le::Put32(&b[12], 3); });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(), Catch::Contains("offset 12: bad chunk size 1536"));
  }
  SECTION("entry pointing at a metadata area") {
    damage([](uint8_t* b, size_t* n) { le::Put64(&b[4096 + 8], 1); });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(),
               Catch::Contains("offset 4096: exception 0 points to chunk 1, which is a metadata area"));
  }
  SECTION("entry pointing past the end") {
    damage([](uint8_t* b, size_t* n) { le::Put64(&b[4096 + 8], 4000); });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(), Catch::Contains("past the end of the file"));
  }
  SECTION("entry outside the image") {
    damage([](uint8_t* b, size_t* n) { le::Put64(&b[4096], 1ull << 40); });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(), Catch::Contains("outside the 16384-chunk image"));
  }
  SECTION("truncated to the header") {
    damage([](uint8_t* b, size_t* n) { *n = 4096; });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(),
               Catch::Contains("offset 4096: truncated: metadata area 0 is missing"));
  }
  SECTION("extension block damaged") {
    damage([](uint8_t* b, size_t* n) { b[512 + 20] ^= 1; });
    CHECK_THAT(LoadFrom(f, &p, &ex).message(), Catch::Contains("offset 524: extension block checksum mismatch"));
  }
  SECTION("extension block absent (a kernel rewrote the header) still loads") {
    damage([](uint8_t* b, size_t* n) { std::memset(b + 512, 0, 64); });
    REQUIRE(LoadFrom(f, &p, &ex).ok());
    CHECK_FALSE(p.identity.has_extension);
    CHECK(ex.size() == 1);
  }
  SECTION("invalid store loads as invalid, exceptions unread") {
    damage([](uint8_t* b, size_t* n) { le::Put32(&b[4], 0); });
    std::unique_ptr<ExceptionStore> again;
    REQUIRE(PersistentStore::Load(f.LiveCopy(), 64ull << 20, &p,
                                  [&](chunk_t o, chunk_t n) { ex.emplace_back(o, n); }, &again)
                .ok());
    CHECK_FALSE(again->valid());
    CHECK(ex.empty());
  }
}

TEST_CASE("invalidate writes valid = 0 durably") {
  FaultFile f("s.cow");
  std::unique_ptr<ExceptionStore> st;
  REQUIRE(PersistentStore::Create(std::make_unique<SharedFile>(&f), Params(16384), &st).ok());
  REQUIRE(st->Drop().ok());
  auto d = f.DurableCopy()->Contents();
  CHECK(le::Get32(&d[4]) == 0);
  Exception e;
  CHECK(st->Prepare(&e).err() == EIO);
}

TEST_CASE("CRC32C of the extension block is the Castagnoli CRC") {
  // The standard check value (RFC 3720 appendix B.4).
  CHECK(Crc32c("123456789", 9) == 0xe3069283u);
  const uint8_t zeros[32] = {};
  CHECK(Crc32c(zeros, sizeof zeros) == 0x8a9136aau);
}

TEST_CASE("CRC32C agrees with the bit-at-a-time definition at every length and alignment") {
  // The engine may use the CPU's crc32 instruction 8 bytes at a time: check the word loop,
  // the byte tail and unaligned starts against the polynomial itself.
  auto reference = [](const uint8_t* p, size_t len) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; ++i) {
      c ^= p[i];
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    }
    return c ^ 0xffffffffu;
  };
  std::vector<uint8_t> buf(4200);
  uint32_t x = 12345;
  for (auto& b : buf) b = static_cast<uint8_t>((x = x * 1103515245u + 12345u) >> 16);
  for (size_t start = 0; start < 8; ++start)
    for (size_t len : {0ul, 1ul, 7ul, 8ul, 9ul, 15ul, 16ul, 63ul, 64ul, 4096ul, 4160ul})
      CHECK(Crc32c(buf.data() + start, len) == reference(buf.data() + start, len));
}
