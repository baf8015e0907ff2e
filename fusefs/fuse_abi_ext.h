// The parts of the FUSE kernel protocol (7.40, Linux 6.9+) that Debian 12's headers and
// libfuse 3.14 predate: passthrough. Values and offsets are the kernel's UAPI
// (include/uapi/linux/fuse.h); they are ABI and never change.
#pragma once

#include <linux/fuse.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace snapcow::fusefs::abi {

inline constexpr uint32_t kOpInit = 26;  // FUSE_INIT

// fuse_init_in / fuse_init_out flags.
inline constexpr uint32_t kInitExt = 1u << 30;           // FUSE_INIT_EXT: flags2 is valid
inline constexpr uint32_t kPassthroughFlags2 = 1u << 5;  // FUSE_PASSTHROUGH (bit 37) >> 32
inline constexpr uint32_t kOverIoUringFlags2 = 1u << 9;  // FUSE_OVER_IO_URING (bit 41) >> 32

// Byte offsets inside fuse_init_in (after fuse_in_header) and fuse_init_out.
inline constexpr size_t kInitInFlags = 12;
inline constexpr size_t kInitInFlags2 = 16;
inline constexpr size_t kInitOutFlags = 12;
inline constexpr size_t kInitOutFlags2 = 32;
inline constexpr size_t kInitOutMaxStackDepth = 36;  // after flags2; was unused[0]
inline constexpr size_t kInitOutSize = 64;

// fuse_open_out: { u64 fh; u32 open_flags; i32 backing_id; } (backing_id was padding).
inline constexpr uint32_t kOpenPassthrough = 1u << 7;  // FOPEN_PASSTHROUGH
inline constexpr size_t kOpenOutFlags = 8;
inline constexpr size_t kOpenOutBackingId = 12;
inline constexpr size_t kOpenOutSize = 16;

static_assert(offsetof(fuse_init_in, flags) == kInitInFlags);
static_assert(offsetof(fuse_init_in, flags2) == kInitInFlags2);
static_assert(offsetof(fuse_init_out, flags) == kInitOutFlags);
static_assert(offsetof(fuse_init_out, flags2) == kInitOutFlags2);
static_assert(sizeof(fuse_init_out) == kInitOutSize);
static_assert(offsetof(fuse_open_out, open_flags) == kOpenOutFlags);
static_assert(sizeof(fuse_open_out) == kOpenOutSize);
static_assert(FUSE_INIT == kOpInit);

struct BackingMap {  // struct fuse_backing_map
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
inline constexpr unsigned long kDevIocBackingOpen = _IOW(229, 1, BackingMap);
inline constexpr unsigned long kDevIocBackingClose = _IOW(229, 2, uint32_t);

// FUSE over io_uring (Linux 6.14+, protocol 7.42; Documentation/filesystems/fuse-io-uring.rst).
// Each ring entry is an IORING_OP_URING_CMD on /dev/fuse with two buffers: a 288-byte header
// and a payload. A request: fuse_in_header at kUringInOut, the opcode's own header (the first
// in-argument) at kUringOpIn, every other in-argument packed from payload offset 0, and
// UringEntInOut at kUringEntInOut. A reply: fuse_out_header at kUringInOut, every out-argument
// packed from payload offset 0, their total in UringEntInOut::payload_sz.
inline constexpr uint32_t kUringCmdRegister = 1;        // FUSE_IO_URING_CMD_REGISTER
inline constexpr uint32_t kUringCmdCommitAndFetch = 2;  // FUSE_IO_URING_CMD_COMMIT_AND_FETCH
inline constexpr size_t kUringInOut = 0;
inline constexpr size_t kUringOpIn = 128;
inline constexpr size_t kUringOpInBytes = 128;
inline constexpr size_t kUringEntInOut = 256;
inline constexpr size_t kUringHeaderBytes = 288;  // struct fuse_uring_req_header

struct UringCmdReq {  // struct fuse_uring_cmd_req, in the SQE's 80 command bytes
  uint64_t flags;
  uint64_t commit_id;  // the request's unique, on COMMIT_AND_FETCH
  uint16_t qid;        // the queue: one per possible CPU, the CPU the request came from
  uint8_t padding[6];
};
struct UringEntInOut {  // struct fuse_uring_ent_in_out
  uint64_t flags;
  uint64_t commit_id;
  uint32_t payload_sz;
  uint32_t padding;
  uint64_t reserved;
};
static_assert(sizeof(UringCmdReq) == 24);
static_assert(sizeof(UringEntInOut) == 32 && kUringEntInOut + 32 == kUringHeaderBytes);

}  // namespace snapcow::fusefs::abi
