// What libfuse 3.14 cannot say in its replies, added on the way out (PERFORMANCE.md).
//
// - Parallel direct writes: without FOPEN_PARALLEL_DIRECT_WRITES the kernel serialises writes
//   to one file on its inode lock. libfuse 3.14.0 has no field for the flag (it arrived in
//   3.14.1); later versions use the real field.
// - Passthrough (libfuse 3.17 has an API for it): the INIT reply asks for FUSE_PASSTHROUGH
//   when the kernel offers it, and an OPEN reply may carry FOPEN_PASSTHROUGH and a backing id.
//
// A custom writev hook changes only the INIT or OPEN reply that the current thread is sending,
// marked by a thread-local flag set around the fuse_reply_*() call; everything else passes
// through untouched. A custom read hook looks at the INIT request (the first one), and holds
// back the workers that the request gate (request_gate.h) does not let through.
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "fusefs/passthrough.h"
#include "fusefs/request_gate.h"
#include "fusefs/request_poll.h"

namespace snapcow::fusefs {

// After fuse_session_mount(), before the loop; `pt` lives as long as the session. False when
// the hook could not be installed (writes still work, serialised per file; no passthrough).
bool InstallReplyHook(fuse_session* se, Passthrough* pt);
// Called from the INIT handler: the INIT reply this thread sends next asks for passthrough
// when pt->wanted() and the kernel offered it, and for io_uring when SetIoUringWanted() and
// the kernel offered it (fuse.enable_uring=Y at mount): the connection then keeps its ring
// even if the parameter goes back to N, which would otherwise refuse every later commit.
void MarkInitReply();
void SetIoUringWanted(bool wanted);  // before the loop starts
// Before the loop starts (after InstallReplyHook, which it needs): every worker passes
// `gate` before it reads a request from /dev/fuse; `gate` outlives the loop and is built
// with an `ended` check on the session, which is what lets parked workers go at exit.
void SetRequestGate(RequestGate* gate);
// The same for `poll`: every worker reads its requests through it (and not at all without
// the hook). `poll` outlives the loop.
void SetRequestPoll(RequestPoll* poll);
// fuse_reply_open(), asking the kernel for parallel direct writes when `parallel` is set and
// direct_io is on, and for passthrough to `backing_id` when it is > 0.
int ReplyOpen(fuse_req_t req, fuse_file_info* fi, bool parallel, int backing_id = 0);
// How many OPEN replies the hook has given parallel direct writes (log and tests).
unsigned long ReplyHookHits();
bool ReplyHookInstalled();

// Where this thread's replies go instead of /dev/fuse: the FUSE ring transport's current
// ring entry (uring_transport.h). Send() returns what writev() would, or -1 with errno
// ENOENT for a reply that is not to the entry's request (it then goes to /dev/fuse).
class ReplySink {
 public:
  virtual ssize_t Send(const iovec* iov, int count) = 0;

 protected:
  ~ReplySink() = default;
};
void SetThreadReplySink(ReplySink* sink);

}  // namespace snapcow::fusefs
