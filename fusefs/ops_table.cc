#include "fusefs/ops.h"

namespace snapcow::fusefs {

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = [] {
    fuse_lowlevel_ops o{};
    o.init = OpInit;
    o.lookup = OpLookup;
    o.getattr = OpGetattr;
    o.setattr = OpSetattr;
    o.readdir = OpReaddir;
    o.open = OpOpen;
    o.release = OpRelease;
    o.flush = OpFlush;
    o.fsync = OpFsync;
    o.read = OpRead;
    o.write = OpWrite;
    o.fallocate = OpFallocate;
    o.statfs = OpStatfs;
    o.getxattr = OpGetxattr;
    o.listxattr = OpListxattr;
    return o;
  }();
  return ops;
}

}  // namespace snapcow::fusefs
