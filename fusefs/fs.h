// Fs: the daemon's state, reached from every FUSE handler through fuse_req_userdata().
#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <string>

#include "engine/image_dir.h"
#include "fusefs/namespace.h"
#include "fusefs/passthrough.h"

namespace snapcow::fusefs {

struct Fs {
  // Constant after main() has mounted.
  ImageDir* dir = nullptr;
  Origin* origin = nullptr;
  bool read_only = false;       // -o ro: every file is 0444 and refuses writes
  uid_t owner_uid = 0;          // who mounted: the control channel admits it and root
  int imagedir_fd = -1;         // statfs() answers for the image directory
  std::string control_name;     // user.snapcowfs.control on the root directory
  fuse_session* session = nullptr;

  Namespace ns;             // thread-safe on its own
  Passthrough passthrough;  // thread-safe on its own
};

inline Fs& FsOf(fuse_req_t req) { return *static_cast<Fs*>(fuse_req_userdata(req)); }

}  // namespace snapcow::fusefs
