// Namespace: the inodes snapcowfs presents and the open count of each snapshot.
//
//   ino 1        the root directory
//   ino 2        origin.img
//   ino 2 + N    snap-N.img (snapshot numbers are never reused, so neither are inodes)
//
// Inodes carry no state of their own (lookup counts need no bookkeeping): a snapshot inode
// is alive while the Origin has snapshot N and it is not being deleted.
#pragma once

#include <fuse_lowlevel.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "engine/origin.h"
#include "engine/snapshot.h"
#include "engine/status.h"

namespace snapcow::fusefs {

inline constexpr fuse_ino_t kRootIno = 1;
inline constexpr fuse_ino_t kOriginIno = 2;
inline constexpr char kOriginName[] = "origin.img";

struct Target {
  enum class Kind { kRoot, kOrigin, kSnapshot } kind = Kind::kRoot;
  uint32_t number = 0;  // kSnapshot
};

inline fuse_ino_t SnapshotIno(uint32_t number) { return kOriginIno + number; }
// False for inode numbers snapcowfs never hands out.
bool InoToTarget(fuse_ino_t ino, Target* out);
// "origin.img" or "snap-N.img"; false for anything else.
bool NameToTarget(const char* name, Target* out);
std::string ImageName(uint32_t number);  // "snap-N.img"

class Namespace {
 public:
  void set_origin(Origin* origin) { origin_ = origin; }

  // Snapshot N as the namespace shows it: nullptr when it does not exist or is being deleted.
  std::shared_ptr<Snapshot> Find(uint32_t number) const;
  // Counts an open of snapshot N; ENOENT when Find() would return nullptr.
  Status Open(uint32_t number, std::shared_ptr<Snapshot>* out);
  void Release(uint32_t number);

  // Hides snapshot N from lookups and opens, unless it is open: then EBUSY. Releases the
  // kernel sends after close(2) arrive asynchronously, so it waits up to `grace` for them.
  Status BeginDelete(uint32_t number, std::chrono::milliseconds grace);
  // Ends a BeginDelete(); when the delete failed, N is shown again.
  void EndDelete(uint32_t number);

 private:
  Origin* origin_ = nullptr;  // set once before mounting

  mutable std::mutex mu_;
  std::condition_variable released_;          // signalled when an open count drops to 0
  std::map<uint32_t, unsigned> opens_;        // guarded by mu_
  std::set<uint32_t> deleting_;               // guarded by mu_
};

}  // namespace snapcow::fusefs
