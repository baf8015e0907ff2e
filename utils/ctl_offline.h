// Offline: snapcowctl edits an image directory that no daemon serves, under the same lock.
#pragma once

#include <string>

#include "engine/control_protocol.h"
#include "engine/status.h"

namespace snapcow::ctl {

// Runs `req` on the image directory `dir` as the daemon would. A failure is a non-OK Status
// and leaves the directory as it was.
Status RunOffline(const std::string& dir, const ControlRequest& req, ControlReply* reply);

}  // namespace snapcow::ctl
