// The client end of the control channel (engine/control_protocol.h).
#pragma once

#include <string>

#include "engine/control_protocol.h"
#include "engine/status.h"

namespace snapcow::ctl {

// Sends `req` to the daemon listening on the abstract socket `control` and decodes its reply.
// A transport failure is a non-OK Status; a refusal by the daemon is an OK Status with
// reply->ok == false.
Status Call(const std::string& control, const ControlRequest& req, ControlReply* reply);

}  // namespace snapcow::ctl
