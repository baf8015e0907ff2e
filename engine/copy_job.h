// CopyJob: one chunk of one snapshot that an origin write must preserve, owned by the thread
// that created its pending exception.
#pragma once

#include <memory>
#include <vector>

#include "engine/exception_store.h"
#include "engine/pending_exception.h"
#include "engine/snapshot.h"

namespace snapcow {

struct CopyJob {
  std::shared_ptr<Snapshot> snap;
  chunk_t chunk = 0;  // in the snapshot's chunk size
  std::shared_ptr<PendingException> pe;
  Exception e;
  bool prepared = false;

  uint64_t byte_offset() const { return chunk * snap->chunk_bytes(); }
};

// Commits `job.e` and, once durable, turns the pending exception into a complete one (or
// fails the snapshot). Completes job.pe either way.
void CommitCopy(CopyJob& job);
// Queues the commits of several jobs of one snapshot (ExceptionStore::QueueCommits): true
// when the caller must run that store's committer.
bool QueueCopies(const std::vector<CopyJob*>& jobs);
// Abandons a job whose copy could not be made: the pending entry goes, joiners see `why`.
void AbandonCopy(CopyJob& job, const Status& why);

}  // namespace snapcow
