// FaultFile: an in-memory File that remembers what was synced (LevelDB's
// fault_injection_test.cc idea). DropUnsynced() is a power cut: every write since the last
// Sync() is forgotten. Errors can be injected per operation.
#pragma once

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/file.h"

namespace snapcow::test {

class FaultFile final : public File {
 public:
  explicit FaultFile(std::string name, uint64_t size = 0) : name_(std::move(name)) {
    live_.resize(size);
    durable_ = live_;
  }

  Status ReadAt(uint64_t off, size_t len, void* buf) override {
    if (before_read) before_read(off, len);
    ++reads;
    if (int e = read_error.load()) return Status::Error(e, name_ + ": injected read error");
    std::lock_guard<std::mutex> l(mu_);
    auto* p = static_cast<uint8_t*>(buf);
    for (size_t i = 0; i < len; ++i) p[i] = off + i < live_.size() ? live_[off + i] : 0;
    return Status::OK();
  }
  Status WriteAt(uint64_t off, size_t len, const void* buf) override {
    if (before_write) before_write(off, len);
    if (int e = write_error.load()) return Status::Error(e, name_ + ": injected write error");
    std::lock_guard<std::mutex> l(mu_);
    if (live_.size() < off + len) live_.resize(off + len);
    std::memcpy(&live_[off], buf, len);
    const auto* b = static_cast<const uint8_t*>(buf);
    unsynced_.push_back({off, std::vector<uint8_t>(b, b + len)});
    ++writes;
    return Status::OK();
  }
  Status Sync() override {
    if (before_sync) before_sync(0, 0);
    if (int e = sync_error.load()) return Status::Error(e, name_ + ": injected sync error");
    std::lock_guard<std::mutex> l(mu_);
    durable_ = live_;
    unsynced_.clear();
    ++syncs;
    return Status::OK();
  }
  Status Size(uint64_t* size) override {
    std::lock_guard<std::mutex> l(mu_);
    *size = live_.size();
    return Status::OK();
  }
  Status PunchHole(uint64_t off, uint64_t len) override {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t i = off; i < off + len && i < live_.size(); ++i) live_[i] = 0;
    if (off < live_.size())
      unsynced_.push_back({off, std::vector<uint8_t>(std::min(len, live_.size() - off), 0)});
    return Status::OK();
  }
  const std::string& name() const override { return name_; }

  // A power cut: forget every write not synced.
  void DropUnsynced() {
    std::lock_guard<std::mutex> l(mu_);
    live_ = durable_;
    unsynced_.clear();
  }
  // What a disk may hold after a power cut now: the synced bytes plus any subset of the
  // writes since (a disk reorders what was not flushed).
  template <typename Rng>
  std::unique_ptr<FaultFile> CrashCopy(Rng& rng) const {
    std::lock_guard<std::mutex> l(mu_);
    auto f = std::make_unique<FaultFile>(name_);
    f->live_ = durable_;
    for (const auto& w : unsynced_) {
      if (rng() % 2 == 0) continue;
      if (f->live_.size() < w.off + w.bytes.size()) f->live_.resize(w.off + w.bytes.size());
      std::memcpy(&f->live_[w.off], w.bytes.data(), w.bytes.size());
    }
    f->durable_ = f->live_;
    return f;
  }
  // A copy of what is on "disk" after a power cut now, as a new file.
  std::unique_ptr<FaultFile> DurableCopy() const {
    std::lock_guard<std::mutex> l(mu_);
    auto f = std::make_unique<FaultFile>(name_);
    f->live_ = durable_;
    f->durable_ = durable_;
    return f;
  }
  std::unique_ptr<FaultFile> LiveCopy() const {
    std::lock_guard<std::mutex> l(mu_);
    auto f = std::make_unique<FaultFile>(name_);
    f->live_ = live_;
    f->durable_ = live_;
    return f;
  }
  std::vector<uint8_t> Contents() const {
    std::lock_guard<std::mutex> l(mu_);
    return live_;
  }
  void SetContents(std::vector<uint8_t> bytes) {
    std::lock_guard<std::mutex> l(mu_);
    live_ = std::move(bytes);
    durable_ = live_;
    unsynced_.clear();
  }

  std::atomic<int> read_error{0}, write_error{0}, sync_error{0};
  std::atomic<int> reads{0}, writes{0}, syncs{0};
  // Called before each read / write; may block (race tests). Set before threads start.
  std::function<void(uint64_t, size_t)> before_read, before_write, before_sync;

 private:
  const std::string name_;
  mutable std::mutex mu_;
  struct Write {
    uint64_t off;
    std::vector<uint8_t> bytes;
  };
  std::vector<uint8_t> live_, durable_;
  std::vector<Write> unsynced_;
};

// A File that forwards to a FaultFile owned elsewhere, so a test keeps its handle.
class SharedFile final : public File {
 public:
  explicit SharedFile(FaultFile* f) : f_(f) {}
  Status ReadAt(uint64_t o, size_t l, void* b) override { return f_->ReadAt(o, l, b); }
  Status WriteAt(uint64_t o, size_t l, const void* b) override { return f_->WriteAt(o, l, b); }
  Status Sync() override { return f_->Sync(); }
  Status Size(uint64_t* s) override { return f_->Size(s); }
  Status PunchHole(uint64_t o, uint64_t l) override { return f_->PunchHole(o, l); }
  const std::string& name() const override { return f_->name(); }

 private:
  FaultFile* const f_;
};

}  // namespace snapcow::test
