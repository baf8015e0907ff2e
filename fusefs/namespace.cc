#include "fusefs/namespace.h"

#include <cerrno>
#include <cstring>

#include "engine/snapshot_config.h"

namespace snapcow::fusefs {

bool InoToTarget(fuse_ino_t ino, Target* out) {
  if (ino == kRootIno) {
    *out = {Target::Kind::kRoot, 0};
  } else if (ino == kOriginIno) {
    *out = {Target::Kind::kOrigin, 0};
  } else if (ino > kOriginIno && ino - kOriginIno <= UINT32_MAX) {
    *out = {Target::Kind::kSnapshot, static_cast<uint32_t>(ino - kOriginIno)};
  } else {
    return false;
  }
  return true;
}

bool NameToTarget(const char* name, Target* out) {
  static constexpr char kSuffix[] = ".img";
  constexpr size_t kSuffixLen = sizeof(kSuffix) - 1;
  if (std::strcmp(name, kOriginName) == 0) {
    *out = {Target::Kind::kOrigin, 0};
    return true;
  }
  const size_t len = std::strlen(name);
  if (len <= kSuffixLen || std::strcmp(name + len - kSuffixLen, kSuffix) != 0) return false;
  uint32_t number = 0;
  if (!ParseSnapshotName(std::string(name, len - kSuffixLen), &number)) return false;
  *out = {Target::Kind::kSnapshot, number};
  return true;
}

std::string ImageName(uint32_t number) { return SnapshotName(number) + ".img"; }

std::shared_ptr<Snapshot> Namespace::Find(uint32_t number) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (deleting_.count(number)) return nullptr;
  }
  return origin_->Find(number);
}

Status Namespace::Open(uint32_t number, std::shared_ptr<Snapshot>* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (deleting_.count(number)) return Status::Error(ENOENT, SnapshotName(number) + " is gone");
  std::shared_ptr<Snapshot> s = origin_->Find(number);
  if (!s) return Status::Error(ENOENT, SnapshotName(number) + " is gone");
  ++opens_[number];
  *out = std::move(s);
  return Status::OK();
}

void Namespace::Release(uint32_t number) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = opens_.find(number);
  if (it == opens_.end()) return;
  if (--it->second == 0) {
    opens_.erase(it);
    released_.notify_all();
  }
}

Status Namespace::BeginDelete(uint32_t number, std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> l(mu_);
  if (deleting_.count(number)) return Status::Error(EBUSY, SnapshotName(number) + " is being deleted");
  if (!released_.wait_for(l, grace, [&] { return opens_.count(number) == 0; }))
    return Status::Error(EBUSY, SnapshotName(number) + " is open");
  deleting_.insert(number);
  return Status::OK();
}

void Namespace::EndDelete(uint32_t number) {
  std::lock_guard<std::mutex> l(mu_);
  deleting_.erase(number);
}

}  // namespace snapcow::fusefs
