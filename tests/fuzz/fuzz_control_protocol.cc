// libFuzzer target: the control protocol decoders (engine/control_protocol.h), fed raw
// bytes as a daemon or a client would receive them. Properties: no crash, no sanitizer
// report, and what decodes is canonical: encoding it again gives the same bytes back and
// decodes to the same value.
#include <string>
#include <string_view>

#include "engine/control_protocol.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool SameConfig(const snapcow::SnapshotConfig& a, const snapcow::SnapshotConfig& b) {
  return a.chunk_bytes == b.chunk_bytes && a.persistent == b.persistent &&
         a.read_only == b.read_only && a.max_cow_bytes == b.max_cow_bytes &&
         a.overflow == b.overflow;
}

void Request(std::string_view in) {
  snapcow::ControlRequest req;
  std::string err;
  if (!snapcow::DecodeRequest(in, &req, &err)) {
    FUZZ_CHECK(!err.empty());
    return;
  }
  const std::string enc = snapcow::EncodeRequest(req);
  FUZZ_CHECK(!enc.empty() && enc.back() == '\n');
  std::string_view line = in;
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  FUZZ_CHECK(std::string_view(enc).substr(0, enc.size() - 1) == line);
  snapcow::ControlRequest again;
  FUZZ_CHECK(snapcow::DecodeRequest(enc, &again, &err));
  FUZZ_CHECK(again.kind == req.kind && again.number == req.number);
  FUZZ_CHECK(SameConfig(again.config, req.config));
}

void Reply(snapcow::RequestKind kind, std::string_view in) {
  snapcow::ControlReply rep;
  std::string err;
  if (!snapcow::DecodeReply(kind, in, &rep, &err)) {
    FUZZ_CHECK(!err.empty());
    return;
  }
  FUZZ_CHECK(rep.snapshots.size() <= snapcow::kMaxReplySnapshots);
  const std::string enc = rep.ok ? snapcow::EncodeReply(kind, rep) : snapcow::EncodeError(rep.error);
  snapcow::ControlReply again;
  FUZZ_CHECK(snapcow::DecodeReply(kind, enc, &again, &err));
  FUZZ_CHECK(again.ok == rep.ok && again.number == rep.number);
  FUZZ_CHECK(again.snapshots.size() == rep.snapshots.size());
  if (!rep.ok) FUZZ_CHECK(again.error == rep.error);
  for (size_t i = 0; i < rep.snapshots.size(); ++i) {
    const auto &a = rep.snapshots[i], &b = again.snapshots[i];
    FUZZ_CHECK(a.number == b.number && a.size_bytes == b.size_bytes && a.valid == b.valid &&
               a.overflowed == b.overflowed && SameConfig(a.config, b.config) &&
               a.sectors_allocated == b.sectors_allocated && a.created_unix == b.created_unix);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the decoder; the rest is the text.
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: Request(text); break;
    case 1: Reply(snapcow::RequestKind::kCreate, text); break;
    case 2: Reply(snapcow::RequestKind::kDelete, text); break;
    case 3: Reply(snapcow::RequestKind::kList, text); break;
    case 4: Reply(snapcow::RequestKind::kStatus, text); break;
    default: {
      uint64_t v = 0;
      std::string err;
      if (!snapcow::ParseSize(text, &v, &err)) FUZZ_CHECK(!err.empty());
      snapcow::OverflowMode m;
      (void)snapcow::ParseOverflowMode(text, &m);
    }
  }
  return 0;
}
