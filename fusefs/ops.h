// The FUSE low-level handlers, one group of operations per file. Each is noexcept and ends
// every path in exactly one fuse_reply_*. The table that names them is in ops_table.cc.
#pragma once

#include <fuse_lowlevel.h>

namespace snapcow::fusefs {

const fuse_lowlevel_ops& Operations();

// op_init.cc
void OpInit(void* userdata, fuse_conn_info* conn) noexcept;
// op_entry.cc
void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
               fuse_file_info* fi) noexcept;
// op_readdir.cc
void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               fuse_file_info* fi) noexcept;
// op_open.cc
void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void OpFsync(fuse_req_t req, fuse_ino_t ino, int datasync, fuse_file_info* fi) noexcept;
// op_read.cc
void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) noexcept;
// op_write.cc
void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
             fuse_file_info* fi) noexcept;
// op_fallocate.cc
void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                 fuse_file_info* fi) noexcept;
// op_statfs.cc
void OpStatfs(fuse_req_t req, fuse_ino_t ino) noexcept;
// op_xattr.cc
void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) noexcept;
void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) noexcept;

// op_refuse.cc: the namespace cannot be changed through the mount.
void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) noexcept;
void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) noexcept;
void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
             dev_t rdev) noexcept;
void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
              fuse_file_info* fi) noexcept;
void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
              const char* newname, unsigned int flags) noexcept;
void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) noexcept;
void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname) noexcept;

}  // namespace snapcow::fusefs
