#include "fusefs/ops.h"
#include "fusefs/reply_hook.h"

namespace snapcow::fusefs {

// Loop devices with direct I/O and qemu aio=native send background requests: raise the cap
// (default 12). No writeback cache: it would hold writes in the kernel where a snapshot
// cannot see them (DESIGN §4). No splice: 3.14 only splices large replies and delivers
// spliced writes misaligned (PERFORMANCE.md).
void OpInit(void* userdata, fuse_conn_info* conn) noexcept {
  (void)userdata;
  conn->max_background = 128;
  conn->congestion_threshold = 96;
  conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE);
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  MarkInitReply();  // passthrough, when wanted and offered (passthrough.h)
}

}  // namespace snapcow::fusefs
