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
    o.unlink = OpUnlink;
    o.rmdir = OpUnlink;
    o.mkdir = OpMkdir;
    o.mknod = OpMknod;
    o.create = OpCreate;
    o.rename = OpRename;
    o.symlink = OpSymlink;
    o.link = OpLink;
    return o;
  }();
  return ops;
}

}  // namespace snapcow::fusefs
