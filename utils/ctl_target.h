// Where a snapcowctl command goes: DIR is a snapcowfs mountpoint (its root carries the
// control socket's name), an image directory a daemon serves (its lock file names the
// socket), or an image directory nobody serves (edited offline, under the same lock).
#pragma once

#include <string>

#include "engine/control_protocol.h"
#include "engine/status.h"

namespace snapcow::ctl {

// Runs `req` on DIR; a refusal by the daemon comes back as a non-OK Status with its message.
Status RunOn(const std::string& dir, const ControlRequest& req, ControlReply* reply);

}  // namespace snapcow::ctl
