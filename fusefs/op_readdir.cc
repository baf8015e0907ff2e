#include <algorithm>
#include <cerrno>
#include <vector>

#include "fusefs/fs.h"
#include "fusefs/ops.h"

namespace snapcow::fusefs {
namespace {

// Directory offsets are stable across snapshot create/delete: ".", ".." and origin.img are
// 1, 2, 3 and snap-N.img is 3 + N, so a listing resumed at an offset skips nothing.
constexpr off_t kOriginOff = 3;

}  // namespace

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               fuse_file_info* fi) noexcept {
  (void)fi;
  if (ino != kRootIno) return (void)fuse_reply_err(req, ENOTDIR);
  Fs& fs = FsOf(req);
  try {
    std::vector<char> buf(size);
    size_t used = 0;
    // Adds one entry; false when the buffer is full.
    const auto add = [&](const std::string& name, fuse_ino_t entry_ino, mode_t type,
                         off_t entry_off) {
      if (entry_off <= off) return true;
      struct stat st {};
      st.st_ino = entry_ino;
      st.st_mode = type;
      const size_t need = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(),
                                            &st, entry_off);
      if (need > size - used) return false;
      used += need;
      return true;
    };
    bool room = add(".", kRootIno, S_IFDIR, 1) && add("..", kRootIno, S_IFDIR, 2) &&
                add(kOriginName, kOriginIno, S_IFREG, kOriginOff);
    if (room) {
      std::vector<uint32_t> numbers;
      for (const std::shared_ptr<Snapshot>& s : fs.origin->Snapshots())
        numbers.push_back(s->number());
      std::sort(numbers.begin(), numbers.end());
      for (const uint32_t n : numbers) {
        if (!fs.ns.Find(n)) continue;
        if (!add(ImageName(n), SnapshotIno(n), S_IFREG, kOriginOff + static_cast<off_t>(n)))
          break;
      }
    }
    fuse_reply_buf(req, buf.data(), used);
  } catch (...) {
    fuse_reply_err(req, ENOMEM);
  }
}

}  // namespace snapcow::fusefs
