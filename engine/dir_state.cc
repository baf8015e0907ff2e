#include "engine/dir_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>

#include "engine/file.h"

namespace snapcow {
namespace {

// Generous: a few bytes per stale snapshot.
constexpr uint64_t kMaxStateBytes = 1 << 20;

bool ParseNumber(const std::string& text, uint64_t max, uint64_t* out) {
  if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != std::string::npos)
    return false;
  errno = 0;
  const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0 || v > max) return false;
  *out = v;
  return true;
}

bool ParseStale(const std::string& list, std::set<uint32_t>* out) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    uint64_t n = 0;
    if (!ParseNumber(list.substr(pos, comma - pos), UINT32_MAX, &n)) return false;
    out->insert(static_cast<uint32_t>(n));
    pos = comma + 1;
  }
  return true;
}

bool Parse(const std::string& text, DirState* out) {
  bool have_next = false;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    const std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    if (key == "next") {
      if (!ParseNumber(value, uint64_t{UINT32_MAX} + 1, &out->next)) return false;
      have_next = true;
    } else if (key == "stale") {
      if (!value.empty() && !ParseStale(value, &out->stale)) return false;
    }
  }
  return have_next;
}

}  // namespace

Status ReadDirState(int dir_fd, const std::string& dir, DirState* out) {
  const std::string display = dir + "/" + kStateFile;
  *out = DirState();
  std::unique_ptr<File> f;
  Status s = OpenPosixFileAt(dir_fd, kStateFile, display, O_RDONLY, 0, &f);
  if (!s.ok()) return s.err() == ENOENT ? Status::OK() : s;
  uint64_t size = 0;
  s = f->Size(&size);
  if (!s.ok()) return s;
  if (size > kMaxStateBytes) return Status::Error(EUCLEAN, display + ": unreadable (too big)");
  std::string text(size, '\0');
  if (size > 0) s = f->ReadAt(0, size, text.data());
  if (!s.ok()) return s;
  if (!Parse(text, out)) {
    *out = DirState();
    return Status::Error(EUCLEAN, display + ": unreadable");
  }
  return Status::OK();
}

Status WriteDirState(int dir_fd, const std::string& dir, const DirState& state) {
  std::string text = fmt::format("next={}\n", state.next);
  if (!state.stale.empty()) {
    text += "stale=";
    for (uint32_t n : state.stale) text += fmt::format("{}{}", n == *state.stale.begin() ? "" : ",", n);
    text += "\n";
  }
  const std::string tmp = std::string(kStateFile) + ".tmp";
  std::unique_ptr<File> f;
  Status s = OpenPosixFileAt(dir_fd, tmp, dir + "/" + tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600, &f);
  if (s.ok()) s = f->WriteAt(0, text.size(), text.data());
  if (s.ok()) s = f->Sync();
  if (!s.ok()) return s;
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, kStateFile) != 0)
    return Status::FromErrno(errno, "rename " + dir + "/" + kStateFile);
  if (::fsync(dir_fd) != 0) return Status::FromErrno(errno, "fsync " + dir);
  return Status::OK();
}

Status MarkStale(int dir_fd, const std::string& dir, const std::set<uint32_t>& numbers) {
  DirState state;
  Status s = ReadDirState(dir_fd, dir, &state);
  if (!s.ok()) return s;
  state.stale.insert(numbers.begin(), numbers.end());
  return WriteDirState(dir_fd, dir, state);
}

}  // namespace snapcow
