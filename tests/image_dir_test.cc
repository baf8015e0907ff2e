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
#include <iterator>
#include <set>

#include "engine/crash_point.h"
#include "engine/image_dir.h"
#include "engine/dir_state.h"
#include "engine/snapshot.h"
#include "engine/write_journal.h"
#include "tests/temp_dir.h"

using namespace snapcow;
using snapcow::test::TempDir;
namespace fs = std::filesystem;

namespace {

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

namespace {

// Overwrites the first bytes of `file` with `bytes`, returning what was there.
std::string Overwrite(const std::string& file, const std::string& bytes) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  std::string old(bytes.size(), '\0');
  f.read(old.data(), static_cast<std::streamsize>(old.size()));
  f.seekp(0);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return old;
}

std::string ReadFileText(const std::string& file) {
  std::ifstream f(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

bool ValidOf(ImageDir& d, uint32_t n) {
  for (const SnapshotInfo& i : d.List())
    if (i.number == n) return i.valid;
  FAIL("no snapshot " << n);
  return false;
}

// Two snapshots, snap-1's store unloadable (its magic overwritten) until the returned
// magic is put back: a transient failure, as an EACCES, EMFILE or EIO at mount would be.
std::string TwoSnapshotsFirstUnloadable(const std::string& dir) {
  MakeOrigin(dir, 1 << 20, 'a');
  {
    auto d = OpenOk(dir);
    uint32_t n;
    REQUIRE(d->CreateSnapshot({}, &n).ok());
    REQUIRE(d->CreateSnapshot({}, &n).ok());
  }
  return Overwrite(dir + "/snap-1.cow", "JUNK");
}

}  // namespace

TEST_CASE("a snapshot left out by a holder that writes the origin loads invalid for good") {
  TempDir t;
  const std::string magic = TwoSnapshotsFirstUnloadable(t.path);
  {
    auto d = OpenOk(t.path);  // a daemon: origin_writes
    REQUIRE(d->load_errors().size() == 1);
    CHECK(ReadFileText(t.path + "/.snapcowfs.state") == "next=3\nstale=1\n");
    std::string b(4096, 'b');
    REQUIRE(d->origin().Write(0, b.size(), b.data()).ok());  // snap-1 gets no copy of this
  }
  Overwrite(t.path + "/snap-1.cow", magic);  // the failure goes away
  {
    auto d = OpenOk(t.path);
    CHECK(d->load_errors().empty());
    REQUIRE(d->List().size() == 2);
    CHECK_FALSE(ValidOf(*d, 1));
    CHECK(ValidOf(*d, 2));
    char buf[4096];
    CHECK(d->origin().ReadSnapshot(*d->origin().Find(1), 0, sizeof buf, buf).err() == EIO);
    uint32_t n = 0;
    REQUIRE(d->CreateSnapshot({}, &n).ok());
    CHECK(n == 3);
    CHECK(ReadFileText(t.path + "/.snapcowfs.state") == "next=4\nstale=1\n");
  }
  // The header says so too (dm reads it): valid = 0.
  CHECK(ReadFileText(t.path + "/snap-1.cow").substr(4, 4) == std::string(4, '\0'));
}

TEST_CASE("an open that writes no origin data leaves a left-out snapshot as it was") {
  TempDir t;
  const std::string magic = TwoSnapshotsFirstUnloadable(t.path);
  {
    ImageDir::Options opts;  // offline snapcowctl, no journal to replay
    opts.write_journal = false;
    opts.origin_writes = false;
    std::unique_ptr<ImageDir> d;
    REQUIRE(ImageDir::Open(t.path, opts, &d).ok());
    CHECK(d->load_errors().size() == 1);
    uint32_t n = 0;
    REQUIRE(d->CreateSnapshot({}, &n).ok());
    CHECK(n == 3);
  }
  CHECK(ReadFileText(t.path + "/.snapcowfs.state") == "next=4\n");
  Overwrite(t.path + "/snap-1.cow", magic);
  auto d = OpenOk(t.path);
  CHECK(d->List().size() == 3);
  CHECK(ValidOf(*d, 1));
}

TEST_CASE("a journal replay marks the snapshots it cannot load stale before writing") {
  TempDir t;
  const std::string magic = TwoSnapshotsFirstUnloadable(t.path);
  {  // what a killed daemon leaves: a pending record of an origin write
    std::unique_ptr<File> f;
    REQUIRE(OpenPosixFile(t.path + "/" + kJournalFile, O_RDWR | O_CREAT, 0600, &f).ok());
    std::unique_ptr<WriteJournal> j;
    REQUIRE(WriteJournal::Open(std::move(f), WriteJournal::kDefaultCapacity, &j).ok());
    REQUIRE(j->Reset(true).ok());
    std::string b(4096, 'b');
    uint64_t pos = 0;
    REQUIRE(j->Append(8192, b.size(), b.data(), &pos).ok());
    REQUIRE(j->file().Sync().ok());
  }
  {
    ImageDir::Options opts;
    opts.write_journal = false;
    opts.origin_writes = false;
    std::unique_ptr<ImageDir> d;
    REQUIRE(ImageDir::Open(t.path, opts, &d).ok());
    char c = 0;
    REQUIRE(d->origin().Read(8192, 1, &c).ok());
    CHECK(c == 'b');  // replayed
  }
  CHECK(ReadFileText(t.path + "/.snapcowfs.state") == "next=3\nstale=1\n");
  Overwrite(t.path + "/snap-1.cow", magic);
  auto d = OpenOk(t.path);
  CHECK_FALSE(ValidOf(*d, 1));
  CHECK(ValidOf(*d, 2));
}

TEST_CASE("when a left-out snapshot cannot be marked stale the open fails and writes nothing") {
  TempDir t;
  TwoSnapshotsFirstUnloadable(t.path);
  const std::string before = ReadFileText(t.path + "/.snapcowfs.state");
  fs::create_directory(t.path + "/.snapcowfs.state.tmp");  // the state file cannot be written
  std::unique_ptr<ImageDir> d;
  Status s = ImageDir::Open(t.path, {}, &d);
  CHECK(s.err() == EISDIR);
  CHECK(s.message().rfind("cannot mark snap-1 stale, so the origin cannot be written without it",
                          0) == 0);
  CHECK(ReadFileText(t.path + "/.snapcowfs.state") == before);
  fs::remove(t.path + "/.snapcowfs.state.tmp");
  CHECK(ImageDir::Open(t.path, {}, &d).ok());  // and it still opens once it can
}

TEST_CASE("the state file: older files read, bad ones are refused by name") {
  TempDir t;
  const int dfd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(dfd >= 0);
  DirState st;
  REQUIRE(ReadDirState(dfd, t.path, &st).ok());  // none yet
  CHECK(st.next == 1);
  CHECK(st.stale.empty());
  const std::string file = t.path + "/.snapcowfs.state";
  std::ofstream(file) << "next=7\n";  // as every earlier version wrote it
  REQUIRE(ReadDirState(dfd, t.path, &st).ok());
  CHECK(st.next == 7);
  st.stale = {9, 4};
  REQUIRE(WriteDirState(dfd, t.path, st).ok());
  CHECK(ReadFileText(file) == "next=7\nstale=4,9\n");
  DirState back;
  REQUIRE(ReadDirState(dfd, t.path, &back).ok());
  CHECK(back.next == 7);
  CHECK(back.stale == std::set<uint32_t>{4, 9});
  for (const char* bad : {"", "next=x\n", "stale=1\n", "next=3\nstale=1,,2\n", "garbage\n",
                          "next=99999999999\n"}) {
    std::ofstream(file, std::ios::trunc) << bad;
    Status s = ReadDirState(dfd, t.path, &st);
    INFO(bad);
    CHECK(s.err() == EUCLEAN);
    CHECK(s.message() == file + ": unreadable");
  }
  ::close(dfd);
}

#ifdef SNAPCOW_TEST_HOOKS
namespace {
// For the hooks of the undone-create tests (plain functions: no captures).
bool g_fail_drop = false;
std::string g_kept_cow;  // where the store is copied to, as a power cut keeping its name would

bool FailCreateFlush(const char* name) {
  return std::strcmp(name, "create-dir-sync") == 0 ||
         (g_fail_drop && std::strcmp(name, "create-undo-drop") == 0);
}

void KeepStoreAndWrite(const char* name) {
  if (std::strcmp(name, "create-undo-dropped") != 0) return;
  for (const auto& e : fs::directory_iterator(g_dir->path()))
    if (e.path().extension() == ".cow") fs::copy_file(e.path(), g_kept_cow);
  g_write = std::async(std::launch::async, [] {
    const std::string b(4096, 'b');
    return g_dir->origin().Write(0, b.size(), b.data()).ok();
  });
  g_write_held = g_write.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout;
}

// A create whose directory flush fails, with an origin write coming in during the undo;
// returns the create's status. The store as it was before its name was removed is left at
// g_kept_cow.
Status CreateWithFailedFlush(const std::string& dir, bool fail_drop) {
  auto d = OpenOk(dir);
  g_dir = d.get();
  g_fail_drop = fail_drop;
  g_kept_cow = dir + "/../" + fs::path(dir).filename().string() + ".kept";
  fs::remove(g_kept_cow);
  SetFaultHook(FailCreateFlush);
  SetCrashPointHook(KeepStoreAndWrite);
  uint32_t n = 0;
  const Status s = d->CreateSnapshot({}, &n);
  SetCrashPointHook(nullptr);
  SetFaultHook(nullptr);
  REQUIRE(g_write.valid());
  CHECK(g_write.get());
  CHECK(d->List().empty());
  for (const auto& e : fs::directory_iterator(dir)) CHECK(e.path().extension() != ".cow");
  return s;
}

}  // namespace

// The name may survive a power cut, and the origin writes after the undo preserve nothing for
// it: it must load invalid, and they must wait until it does.
TEST_CASE("a create whose directory flush fails is undone before the origin is written") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  const Status s = CreateWithFailedFlush(t.path, false);
  CHECK(s.err() == EIO);
  CHECK(s.message() == "fsync " + t.path + " (injected)");
  CHECK(g_write_held);
  DirState state;
  const int dir_fd = ::open(t.path.c_str(), O_RDONLY | O_DIRECTORY);
  REQUIRE(ReadDirState(dir_fd, t.path, &state).ok());
  ::close(dir_fd);
  CHECK(state.stale == std::set<uint32_t>{1});
  // The power cut that kept the name, and a state file that lost the stale mark: the header
  // alone says invalid.
  fs::rename(g_kept_cow, t.path + "/snap-1.cow");
  fs::remove(t.path + "/.snapcowfs.state");
  auto d = OpenOk(t.path);
  CHECK_FALSE(ValidOf(*d, 1));
  uint32_t n = 0;
  REQUIRE(d->CreateSnapshot({}, &n).ok());
  CHECK(n == 2);
}

TEST_CASE("an undone create whose header cannot be rewritten is marked stale") {
  TempDir t;
  MakeOrigin(t.path, 1 << 20, 'a');
  CHECK(CreateWithFailedFlush(t.path, true).err() == EIO);
  CHECK(g_write_held);
  // The kept store's header still says valid: the stale mark alone keeps it invalid.
  fs::rename(g_kept_cow, t.path + "/snap-1.cow");
  auto d = OpenOk(t.path);
  CHECK_FALSE(ValidOf(*d, 1));
}
#endif
