// ImageDir on a real directory: create/delete/reload, numbering, locking, bad files.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>

#include "engine/crash_point.h"
#include "engine/image_dir.h"
#include "engine/snapshot.h"

using namespace snapcow;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/snapcow-imagedir-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

void MakeOrigin(const std::string& dir, uint64_t size, char fill) {
  std::ofstream f(dir + "/origin.img", std::ios::binary);
  std::string block(4096, fill);
  for (uint64_t i = 0; i < size; i += block.size()) f.write(block.data(), block.size());
}

std::unique_ptr<ImageDir> OpenOk(const std::string& dir) {
  std::unique_ptr<ImageDir> d;
  Status s = ImageDir::Open(dir, {}, &d);
  INFO(s.message());
  REQUIRE(s.ok());
  return d;
}

}  // namespace

TEST_CASE("snapshots survive a reopen; numbers are never reused") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  uint32_t n1 = 0, n2 = 0, n3 = 0;
  {
    auto d = OpenOk(t.path);
    REQUIRE(d->CreateSnapshot({}, &n1).ok());
    std::string b(4096, 'b');
    REQUIRE(d->origin().Write(0, b.size(), b.data()).ok());
    REQUIRE(d->CreateSnapshot({}, &n2).ok());
    REQUIRE(d->DeleteSnapshot(n2).ok());
    CHECK_FALSE(fs::exists(t.path + "/snap-2.cow"));
    REQUIRE(d->Close().ok());
  }
  CHECK(n1 == 1);
  CHECK(n2 == 2);
  auto d = OpenOk(t.path);
  REQUIRE(d->List().size() == 1);
  CHECK(d->List()[0].name == "snap-1");
  REQUIRE(d->CreateSnapshot({}, &n3).ok());
  CHECK(n3 == 3);  // 2 was deleted, and is not given out again
  std::string got(4096, 0);
  REQUIRE(d->origin().ReadSnapshot(*d->origin().Find(1), 0, got.size(), got.data()).ok());
  CHECK(got == std::string(4096, 'a'));
  CHECK(d->DeleteSnapshot(2).err() == ENOENT);
}

TEST_CASE("a second opener is refused with a message naming the holder") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  auto d = OpenOk(t.path);
  REQUIRE(d->SetHolder("/mnt/x", "snapcowfs-1").ok());
  std::unique_ptr<ImageDir> second;
  Status s = ImageDir::Open(t.path, {}, &second);
  CHECK(s.err() == EBUSY);
  CHECK(s.message() == t.path + ": in use by snapcowfs pid " + std::to_string(::getpid()) +
                           ", mounted at /mnt/x");
  Holder h;
  REQUIRE(ImageDir::ReadHolder(t.path, &h).ok());  // the refusal left the record alone
  CHECK(h.mountpoint == "/mnt/x");
  CHECK(h.control == "snapcowfs-1");
  d.reset();
  CHECK(ImageDir::ReadHolder(t.path, &h).err() == ENOENT);
}

TEST_CASE("bad image directories get one clear error") {
  TempDir t;
  std::unique_ptr<ImageDir> d;
  CHECK(ImageDir::Open(t.path + "/nope", {}, &d).message() ==
        t.path + "/nope: No such file or directory");
  CHECK(ImageDir::Open(t.path, {}, &d).message() == t.path + ": no origin.img in it");
  fs::create_symlink("/etc/hostname", t.path + "/origin.img");
  CHECK(ImageDir::Open(t.path, {}, &d).message() ==
        t.path + "/origin.img: is a symbolic link, refused");
}

TEST_CASE("a corrupt COW file is left out and named; the rest is served") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  {
    auto d = OpenOk(t.path);
    uint32_t n;
    REQUIRE(d->CreateSnapshot({}, &n).ok());
    REQUIRE(d->CreateSnapshot({}, &n).ok());
  }
  {
    std::fstream f(t.path + "/snap-1.cow", std::ios::in | std::ios::out | std::ios::binary);
    f.write("JUNK", 4);
  }
  auto d = OpenOk(t.path);
  REQUIRE(d->load_errors().size() == 1);
  CHECK(d->load_errors()[0] == t.path +
                                   "/snap-1.cow: offset 0: bad magic number (not a dm-snapshot "
                                   "store) (snapshot left out)");
  REQUIRE(d->List().size() == 1);
  CHECK(d->List()[0].number == 2);
  // Left untouched on disk.
  std::ifstream f(t.path + "/snap-1.cow", std::ios::binary);
  char magic[4];
  f.read(magic, 4);
  CHECK(std::string(magic, 4) == "JUNK");
}

TEST_CASE("a transient snapshot leaves no file and does not survive a reopen") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  {
    auto d = OpenOk(t.path);
    SnapshotConfig c;
    c.persistent = false;
    uint32_t n;
    REQUIRE(d->CreateSnapshot(c, &n).ok());
    std::string b(4096, 'z');
    REQUIRE(d->origin().Write(0, b.size(), b.data()).ok());
    std::string got(4096, 0);
    REQUIRE(d->origin().ReadSnapshot(*d->origin().Find(n), 0, got.size(), got.data()).ok());
    CHECK(got == std::string(4096, 'a'));
    for (const auto& e : fs::directory_iterator(t.path))
      CHECK(e.path().filename().string().find("snap-") == std::string::npos);
  }
  auto d = OpenOk(t.path);
  CHECK(d->List().empty());
}

TEST_CASE("create refuses a bad configuration and changes nothing") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  auto d = OpenOk(t.path);
  SnapshotConfig c;
  c.chunk_bytes = 3072;
  uint32_t n = 0;
  Status s = d->CreateSnapshot(c, &n);
  CHECK(s.err() == EINVAL);
  CHECK(s.message() == "chunk size 3072 is not a power of two between 4K and 1G");
  CHECK(d->List().empty());
  CHECK_FALSE(fs::exists(t.path + "/.snapcowfs.state"));
}

#ifdef SNAPCOW_TEST_HOOKS
namespace {
// For the crash point hook below (a plain function: no captures).
ImageDir* g_dir = nullptr;
std::future<bool> g_write;
bool g_write_held = false, g_write_held_after_unlink = false;

void WriteDuringDelete(const char* name) {
  if (std::strcmp(name, "delete-after-unlink") == 0) {
    g_write_held_after_unlink =
        g_write.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout;
    return;
  }
  if (std::strcmp(name, "delete-before-unlink") != 0) return;
  g_write = std::async(std::launch::async, [] {
    const std::string b(4096, 'b');
    return g_dir->origin().Write(0, b.size(), b.data()).ok();
  });
  // Not collected here: the write may only go on once the delete is done.
  g_write_held = g_write.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout;
}
}  // namespace

// A write let through before the file is gone preserves nothing for the snapshot; had the
// daemon been killed right then, the snapshot would come back without that chunk's old data.
TEST_CASE("delete holds origin writes back until the store's file is gone") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  auto d = OpenOk(t.path);
  uint32_t n = 0;
  REQUIRE(d->CreateSnapshot({}, &n).ok());
  REQUIRE(fs::exists(t.path + "/snap-" + std::to_string(n) + ".cow"));
  g_dir = d.get();
  SetCrashPointHook(WriteDuringDelete);
  const Status s = d->DeleteSnapshot(n);
  SetCrashPointHook(nullptr);
  REQUIRE(s.ok());
  REQUIRE(g_write.valid());
  CHECK(g_write_held);
  CHECK(g_write_held_after_unlink);
  CHECK(g_write.get());
  CHECK_FALSE(fs::exists(t.path + "/snap-" + std::to_string(n) + ".cow"));
  std::string got(4096, 0);
  REQUIRE(d->origin().Read(0, got.size(), got.data()).ok());
  CHECK(got == std::string(4096, 'b'));
}
#endif
