// The one place where a failed engine call becomes a FUSE error reply.
#pragma once

#include <fuse_lowlevel.h>

#include "engine/status.h"

namespace snapcow::fusefs {

// Replies with st.err() (EIO if the status carries no errno); logs I/O errors. Must not be
// called with an OK status.
void ReplyError(fuse_req_t req, const Status& st) noexcept;

}  // namespace snapcow::fusefs
