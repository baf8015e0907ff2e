// What the daemon does with a control request: validates it (again: the client is not
// trusted), runs it against the ImageDir and keeps the FUSE namespace in step.
#pragma once

#include <string_view>

#include "fusefs/control_server.h"
#include "fusefs/fs.h"

namespace snapcow::fusefs {

// Only root and the user who mounted may talk to the daemon.
ControlServer::Result HandleControl(Fs& fs, const ucred& peer, std::string_view request);

}  // namespace snapcow::fusefs
