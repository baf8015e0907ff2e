// Parallel direct writes on libfuse 3.14 (PERFORMANCE.md).
//
// Without FOPEN_PARALLEL_DIRECT_WRITES the kernel serialises writes to one file on its inode
// lock. libfuse 3.14.0 has no field for the flag (parallel_direct_writes arrived in 3.14.1),
// so on 3.14 a custom writev hook adds it to the OPEN reply that the current thread is
// sending, and to nothing else. Later libfuse versions use the real field and no hook.
#pragma once

#include <fuse_lowlevel.h>

namespace snapcow::fusefs {

// After fuse_session_mount(); false when the hook could not be installed (writes still work,
// serialised per file).
bool InstallReplyHook(fuse_session* se);
// fuse_reply_open(), asking the kernel for parallel direct writes when `parallel` is set and
// direct_io is on.
int ReplyOpen(fuse_req_t req, fuse_file_info* fi, bool parallel);
// How many OPEN replies the hook has changed (for the debug log and the tests).
unsigned long ReplyHookHits();

}  // namespace snapcow::fusefs
