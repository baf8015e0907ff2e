// Readiness for systemd units with Type=notify (packaging/systemd/snapcowfs@.service): the
// sd_notify(3) datagram protocol, without linking libsystemd.
#pragma once

#include "engine/status.h"

namespace snapcow::fusefs {

// Sends "READY=1" to $NOTIFY_SOCKET; call once the mount is up and the control socket serves.
// Not started by systemd (no NOTIFY_SOCKET): does nothing.
Status NotifySystemdReady();

}  // namespace snapcow::fusefs
