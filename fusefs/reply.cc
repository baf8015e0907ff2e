#include "fusefs/reply.h"

#include <cerrno>

#include "fusefs/daemon_log.h"

namespace snapcow::fusefs {

void ReplyError(fuse_req_t req, const Status& st) noexcept {
  const int err = st.err() > 0 ? st.err() : EIO;
  // Expected refusals (ENOENT, EROFS, ENOSPC past the end, ...) are not worth a log line.
  if (err == EIO) {
    try {
      LogError(st.ToString());
    } catch (...) {
    }
  }
  fuse_reply_err(req, err);
}

}  // namespace snapcow::fusefs
