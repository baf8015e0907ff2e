// The attributes snapcowfs reports for its three kinds of inode.
#pragma once

#include <sys/stat.h>

#include "engine/status.h"
#include "fusefs/fs.h"

namespace snapcow::fusefs {

// Attribute and entry cache timeout: sizes never change and deletes invalidate explicitly.
inline constexpr double kAttrTimeout = 1.0;

// ENOENT when `t` names a snapshot the namespace does not show.
Status FillAttr(Fs& fs, const Target& t, struct stat* st);

}  // namespace snapcow::fusefs
