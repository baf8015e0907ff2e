#include "engine/journal_replay.h"

#include <algorithm>
#include <atomic>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/mutex.h"

namespace snapcow {
namespace {

// Enough writers in the first pass for the group commits to fill up; the copies are bounded
// by the origin's throttle as for any writers.
constexpr unsigned kCopyThreads = 16;

struct Record {
  uint64_t off;
  std::vector<uint8_t> data;
};

}  // namespace

Status ReplayJournal(WriteJournal& journal, Origin& origin, uint64_t* replayed) {
  *replayed = 0;
  std::vector<Record> records;
  const uint64_t size = origin.size();
  uint64_t found = 0;
  Status s = journal.Replay(
      [&](uint64_t off, size_t len, const void* data) {
        if (off >= size) return Status::OK();  // the origin shrank since
        const auto* b = static_cast<const uint8_t*>(data);
        const uint64_t kept = std::min<uint64_t>(len, size - off);  // cut at the end
        records.push_back(Record{off, std::vector<uint8_t>(b, b + kept)});
        return Status::OK();
      },
      &found);
  if (!s.ok()) return s;

  std::atomic<size_t> next{0};
  Mutex mu;
  Status first_error;  // guarded by mu (a local: no annotation)
  auto copy = [&] {
    for (size_t i; (i = next.fetch_add(1)) < records.size();) {
      Status c = origin.CopyBeforeWrite(records[i].off, records[i].data.size());
      if (c.ok()) continue;
      MutexLock l(&mu);
      if (first_error.ok()) first_error = c;
    }
  };
  std::vector<std::thread> threads;
  const unsigned count = static_cast<unsigned>(std::min<size_t>(kCopyThreads, records.size()));
  for (unsigned t = 1; t < count; ++t) {
    try {
      threads.emplace_back(copy);
    } catch (const std::system_error&) {
      break;  // out of threads: those started, and this one, do the rest
    }
  }
  copy();
  for (auto& t : threads) t.join();
  {
    MutexLock l(&mu);
    if (!first_error.ok()) return first_error;
  }
  for (const Record& r : records) {
    s = origin.Write(r.off, r.data.size(), r.data.data());
    if (!s.ok()) return s;
  }
  *replayed = records.size();
  return Status::OK();
}

}  // namespace snapcow
