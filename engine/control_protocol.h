// The control protocol between snapcowctl and a running snapcowfs daemon.
//
// One request per connection on a Unix stream socket: the client writes one request line
// (at most kMaxRequestBytes, '\n'-terminated) and shuts its side down; the daemon writes one
// reply and closes. Tokens are separated by exactly one space; nothing else is accepted.
//
//   create chunk=<bytes> transient=0|1 ro=0|1 max=<bytes> overflow=invalidate|keep
//   delete snap-N
//   list
//   status
//
// Replies:
//   err <message>                       one printable line, at most kMaxMessageBytes
//   ok                                  delete
//   ok snap-N                           create
//   ok <count>                          list, status; then <count> lines, one per snapshot:
//   number=N size=B chunk=B persistent=0|1 ro=0|1 overflow=invalidate|keep max=B created=T
//     valid=0|1 overflowed=0|1 allocated=S total=S metadata=S
//
// The decoders are strict (every key exactly once, in this order; decimal numbers without
// sign or leading zeros; no stray bytes) and bounded, and never throw: they are fed
// untrusted bytes (and a fuzzer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/snapshot_config.h"

namespace snapcow {

// The extended attribute of a snapcowfs mountpoint that names its control socket, and the
// prefix of that name (an abstract Unix socket: "snapcowfs-<pid>").
inline constexpr char kControlXattr[] = "user.snapcowfs.control";
inline constexpr char kControlSocketPrefix[] = "snapcowfs-";

inline constexpr size_t kMaxRequestBytes = 512;
inline constexpr size_t kMaxMessageBytes = 1024;
inline constexpr size_t kMaxReplySnapshots = 1u << 16;
inline constexpr size_t kMaxSnapshotLineBytes = 512;
inline constexpr size_t kMaxReplyBytes = 64 + kMaxReplySnapshots * kMaxSnapshotLineBytes;

enum class RequestKind : uint8_t { kCreate, kDelete, kList, kStatus };

struct ControlRequest {
  RequestKind kind = RequestKind::kList;
  SnapshotConfig config;  // kCreate
  uint32_t number = 0;    // kDelete
};

struct ControlReply {
  bool ok = false;
  std::string error;                    // !ok
  uint32_t number = 0;                  // ok reply to kCreate
  std::vector<SnapshotInfo> snapshots;  // ok reply to kList / kStatus
};

// The request line, with its trailing '\n'.
std::string EncodeRequest(const ControlRequest& req);
// `line` is one request without the trailing '\n' (a lone trailing '\n' is tolerated).
// Returns false and one line in *error for anything the grammar above does not produce.
bool DecodeRequest(std::string_view line, ControlRequest* out, std::string* error);

// The whole reply to a request of `kind`. Error messages are flattened to one printable
// line and cut to kMaxMessageBytes.
std::string EncodeReply(RequestKind kind, const ControlReply& reply);
std::string EncodeError(std::string_view message);
// `text` is everything the daemon sent. A well-formed "err" reply decodes to ok=false.
bool DecodeReply(RequestKind kind, std::string_view text, ControlReply* out, std::string* error);

// "16K", "1G", "4096": a byte count with an optional binary K/M/G/T suffix (either case).
// Returns false and one line in *error for anything else, including overflow.
bool ParseSize(std::string_view text, uint64_t* out, std::string* error);

const char* OverflowModeName(OverflowMode m);
bool ParseOverflowMode(std::string_view text, OverflowMode* out);

}  // namespace snapcow
