// engine/control_protocol: round trips, the exact bytes on the wire, and a strict decoder.
#include "engine/control_protocol.h"

#include <catch2/catch.hpp>
#include <random>
#include <string>

using namespace snapcow;

namespace {

SnapshotInfo SampleInfo(uint32_t number) {
  SnapshotInfo s;
  s.number = number;
  s.name = SnapshotName(number);
  s.config.chunk_bytes = 65536;
  s.config.persistent = true;
  s.config.read_only = true;
  s.config.max_cow_bytes = 1ull << 40;
  s.config.overflow = OverflowMode::kKeep;
  s.size_bytes = 1073741824;
  s.created_unix = 1795321899;
  s.valid = true;
  s.overflowed = false;
  s.sectors_allocated = 24;
  s.total_sectors = 2097152;
  s.metadata_sectors = 16;
  return s;
}

bool SameInfo(const SnapshotInfo& a, const SnapshotInfo& b) {
  return a.number == b.number && a.name == b.name && a.config.chunk_bytes == b.config.chunk_bytes &&
         a.config.persistent == b.config.persistent && a.config.read_only == b.config.read_only &&
         a.config.max_cow_bytes == b.config.max_cow_bytes && a.config.overflow == b.config.overflow &&
         a.size_bytes == b.size_bytes && a.created_unix == b.created_unix && a.valid == b.valid &&
         a.overflowed == b.overflowed && a.sectors_allocated == b.sectors_allocated &&
         a.total_sectors == b.total_sectors && a.metadata_sectors == b.metadata_sectors;
}

bool Decodes(const std::string& line) {
  ControlRequest r;
  std::string error;
  return DecodeRequest(line, &r, &error);
}

}  // namespace

TEST_CASE("requests have fixed bytes on the wire") {
  ControlRequest c;
  c.kind = RequestKind::kCreate;
  CHECK(EncodeRequest(c) == "create chunk=16384 transient=0 ro=0 max=0 overflow=invalidate\n");
  c.config.chunk_bytes = 4096;
  c.config.persistent = false;
  c.config.read_only = true;
  c.config.max_cow_bytes = 1 << 20;
  c.config.overflow = OverflowMode::kKeep;
  CHECK(EncodeRequest(c) == "create chunk=4096 transient=1 ro=1 max=1048576 overflow=keep\n");

  ControlRequest d;
  d.kind = RequestKind::kDelete;
  d.number = 12;
  CHECK(EncodeRequest(d) == "delete snap-12\n");
  d.kind = RequestKind::kList;
  CHECK(EncodeRequest(d) == "list\n");
  d.kind = RequestKind::kStatus;
  CHECK(EncodeRequest(d) == "status\n");
}

TEST_CASE("requests round-trip") {
  ControlRequest c;
  c.kind = RequestKind::kCreate;
  c.config.chunk_bytes = 1u << 30;
  c.config.persistent = false;
  c.config.read_only = true;
  c.config.max_cow_bytes = UINT64_MAX;
  c.config.overflow = OverflowMode::kKeep;
  ControlRequest out;
  std::string error;
  REQUIRE(DecodeRequest(EncodeRequest(c), &out, &error));
  CHECK(out.kind == RequestKind::kCreate);
  CHECK(out.config.chunk_bytes == c.config.chunk_bytes);
  CHECK(out.config.persistent == false);
  CHECK(out.config.read_only == true);
  CHECK(out.config.max_cow_bytes == UINT64_MAX);
  CHECK(out.config.overflow == OverflowMode::kKeep);

  ControlRequest d;
  d.kind = RequestKind::kDelete;
  d.number = UINT32_MAX;
  REQUIRE(DecodeRequest(EncodeRequest(d), &out, &error));
  CHECK(out.kind == RequestKind::kDelete);
  CHECK(out.number == UINT32_MAX);

  REQUIRE(DecodeRequest("status", &out, &error));
  CHECK(out.kind == RequestKind::kStatus);
  REQUIRE(DecodeRequest("list\n", &out, &error));
  CHECK(out.kind == RequestKind::kList);
}

TEST_CASE("the request decoder is strict") {
  const char* bad[] = {
      "",
      "\n",
      "list ",
      " list",
      "list\n\n",
      "list x",
      "LIST",
      "stat",
      "delete",
      "delete ",
      "delete snap-0",
      "delete snap-01",
      "delete snap-",
      "delete snap-1x",
      "delete ../snap-1",
      "delete snap--1",
      "delete snap-4294967296",
      "delete snap-1 snap-2",
      "delete  snap-1",
      "delete\tsnap-1",
      "create",
      "create chunk=16384 transient=0 ro=0 max=0",
      "create chunk=16384 transient=0 ro=0 max=0 overflow=sometimes",
      "create chunk=16384 transient=2 ro=0 max=0 overflow=keep",
      "create chunk=16384 transient=0 ro=0 max=0 overflow=keep extra=1",
      "create ro=0 chunk=16384 transient=0 max=0 overflow=keep",
      "create chunk=016384 transient=0 ro=0 max=0 overflow=keep",
      "create chunk=-1 transient=0 ro=0 max=0 overflow=keep",
      "create chunk=4294967296 transient=0 ro=0 max=0 overflow=keep",
      "create chunk=16384 transient=0 ro=0 max=18446744073709551616 overflow=keep",
      "create chunk= transient=0 ro=0 max=0 overflow=keep",
      "create chunk16384 transient=0 ro=0 max=0 overflow=keep",
      "create chunk=16K transient=0 ro=0 max=0 overflow=keep",
      "create chunk=16384 transient=0 ro=0 max=0 overflow=keep\r",
  };
  for (const char* line : bad) {
    INFO(line);
    CHECK_FALSE(Decodes(line));
  }
  CHECK_FALSE(Decodes(std::string("list\0", 5)));
  CHECK_FALSE(Decodes("list" + std::string(kMaxRequestBytes, ' ')));
  CHECK_FALSE(Decodes("create chunk=" + std::string(kMaxRequestBytes, '1') +
                      " transient=0 ro=0 max=0 overflow=keep"));
  // The decoder checks syntax; whether a chunk size is acceptable is the daemon's call.
  CHECK(Decodes("create chunk=3 transient=0 ro=0 max=0 overflow=keep"));
}

TEST_CASE("replies have fixed bytes on the wire and round-trip") {
  ControlReply r;
  r.ok = true;
  r.number = 7;
  CHECK(EncodeReply(RequestKind::kCreate, r) == "ok snap-7\n");
  CHECK(EncodeReply(RequestKind::kDelete, r) == "ok\n");
  r.snapshots = {SampleInfo(1), SampleInfo(42)};
  r.snapshots[1].valid = false;
  r.snapshots[1].config.persistent = false;
  r.snapshots[1].config.overflow = OverflowMode::kInvalidate;
  const std::string text = EncodeReply(RequestKind::kList, r);
  CHECK(text.rfind(
            "ok 2\nnumber=1 size=1073741824 chunk=65536 persistent=1 ro=1 overflow=keep "
            "max=1099511627776 created=1795321899 valid=1 overflowed=0 allocated=24 "
            "total=2097152 metadata=16\n",
            0) == 0);

  ControlReply out;
  std::string error;
  REQUIRE(DecodeReply(RequestKind::kList, text, &out, &error));
  CHECK(out.ok);
  REQUIRE(out.snapshots.size() == 2);
  CHECK(SameInfo(out.snapshots[0], r.snapshots[0]));
  CHECK(SameInfo(out.snapshots[1], r.snapshots[1]));
  CHECK(out.snapshots[1].name == "snap-42");

  REQUIRE(DecodeReply(RequestKind::kCreate, "ok snap-7\n", &out, &error));
  CHECK(out.number == 7);
  REQUIRE(DecodeReply(RequestKind::kStatus, "ok 0\n", &out, &error));
  CHECK(out.snapshots.empty());
}

TEST_CASE("error replies are one printable line") {
  CHECK(EncodeError("snap-3 is open") == "err snap-3 is open\n");
  CHECK(EncodeError("two\nlines\r\x01") == "err two lines  \n");
  CHECK(EncodeError("") == "err error\n");
  CHECK(EncodeError(std::string(5000, 'x')).size() == 4 + kMaxMessageBytes + 1);

  ControlReply out;
  std::string error;
  REQUIRE(DecodeReply(RequestKind::kDelete, "err permission denied\n", &out, &error));
  CHECK_FALSE(out.ok);
  CHECK(out.error == "permission denied");
}

TEST_CASE("the reply decoder is strict") {
  const std::pair<RequestKind, const char*> bad[] = {
      {RequestKind::kDelete, ""},
      {RequestKind::kDelete, "ok"},
      {RequestKind::kDelete, "ok \n"},
      {RequestKind::kDelete, "ok\nok\n"},
      {RequestKind::kDelete, "err \n"},
      {RequestKind::kDelete, "err a\nb\n"},
      {RequestKind::kDelete, "error x\n"},
      {RequestKind::kCreate, "ok\n"},
      {RequestKind::kCreate, "ok snap-0\n"},
      {RequestKind::kCreate, "ok snap-1 \n"},
      {RequestKind::kList, "ok\n"},
      {RequestKind::kList, "ok 1\n"},
      {RequestKind::kList, "ok 0\nextra\n"},
      {RequestKind::kList, "ok 01\n"},
      {RequestKind::kList, "ok 99999999999999999999999\n"},
      {RequestKind::kList,
       "ok 1\nnumber=0 size=1 chunk=4096 persistent=1 ro=0 overflow=keep max=0 created=0 "
       "valid=1 overflowed=0 allocated=0 total=0 metadata=0\n"},
      {RequestKind::kList,
       "ok 1\nnumber=1 size=1 chunk=4096 persistent=1 ro=0 overflow=keep max=0 created=0 "
       "valid=1 overflowed=0 allocated=0 total=0\n"},
      {RequestKind::kList,
       "ok 1\nnumber=1 size=1 chunk=4096 persistent=1 ro=0 overflow=keep max=0 created=0 "
       "valid=1 overflowed=0 allocated=0 total=0 metadata=0 extra=1\n"},
      {RequestKind::kList,
       "ok 1\nnumber=1 size=1 chunk=4096 persistent=1 ro=0 overflow=keep max=0 "
       "created=9223372036854775808 valid=1 overflowed=0 allocated=0 total=0 metadata=0\n"},
      {RequestKind::kList,
       "ok 1\nnumber=1 size=1 chunk=4096 persistent=yes ro=0 overflow=keep max=0 created=0 "
       "valid=1 overflowed=0 allocated=0 total=0 metadata=0\n"},
  };
  for (const auto& [kind, text] : bad) {
    INFO(text);
    ControlReply out;
    std::string error;
    CHECK_FALSE(DecodeReply(kind, text, &out, &error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("random bytes never crash the decoders") {
  std::mt19937 rng(1234);
  const std::string alphabet = "cratelisudn=0123456789 -\nokrsap\x01\xff";
  for (int i = 0; i < 20000; ++i) {
    std::string s(rng() % 200, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    ControlRequest req;
    ControlReply rep;
    std::string error;
    (void)DecodeRequest(s, &req, &error);
    (void)DecodeReply(static_cast<RequestKind>(rng() % 4), s, &rep, &error);
  }
}

TEST_CASE("sizes take binary K/M/G/T suffixes and reject garbage") {
  uint64_t v = 0;
  std::string error;
  CHECK((ParseSize("4096", &v, &error) && v == 4096));
  CHECK((ParseSize("16K", &v, &error) && v == 16384));
  CHECK((ParseSize("16k", &v, &error) && v == 16384));
  CHECK((ParseSize("1M", &v, &error) && v == 1048576));
  CHECK((ParseSize("2G", &v, &error) && v == 2147483648ull));
  CHECK((ParseSize("1T", &v, &error) && v == 1ull << 40));
  CHECK((ParseSize("0", &v, &error) && v == 0));
  CHECK((ParseSize("0016K", &v, &error) && v == 16384));
  for (const char* bad : {"", "K", "abc", "-4K", "+4K", "1.5G", "4 K", "4KB", "4KiB", "16KK",
                          "0x10", " 16K", "16K "}) {
    INFO(bad);
    CHECK_FALSE(ParseSize(bad, &v, &error));
    CHECK(error.find("invalid size") != std::string::npos);
  }
  CHECK_FALSE(ParseSize("18446744073709551616", &v, &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK_FALSE(ParseSize("16777216T", &v, &error));
  CHECK(error.find("too large") != std::string::npos);
  CHECK((ParseSize("16777215T", &v, &error) && v == 16777215ull << 40));
}
