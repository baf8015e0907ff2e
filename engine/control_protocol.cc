#include "engine/control_protocol.h"

#include <fmt/format.h>

#include <array>
#include <limits>

namespace snapcow {
namespace {

constexpr size_t kMaxTokens = 16;

// Splits on single spaces; false on an empty token (leading, trailing or double space), on
// too many tokens, or on a byte outside printable ASCII.
bool Tokenize(std::string_view line, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      if (i == start || out->size() == kMaxTokens) return false;
      out->push_back(line.substr(start, i - start));
      start = i + 1;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (ch < '0' || ch > '9') return false;
    const uint64_t d = static_cast<uint64_t>(ch - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// "key=<value>" with exactly this key.
bool Value(std::string_view token, std::string_view key, std::string_view* value) {
  if (token.size() <= key.size() || token.compare(0, key.size(), key) != 0 ||
      token[key.size()] != '=')
    return false;
  *value = token.substr(key.size() + 1);
  return true;
}

bool U64Field(std::string_view token, std::string_view key, uint64_t* out) {
  std::string_view v;
  return Value(token, key, &v) && ParseU64(v, out);
}

bool U32Field(std::string_view token, std::string_view key, uint32_t* out) {
  uint64_t v = 0;
  if (!U64Field(token, key, &v) || v > std::numeric_limits<uint32_t>::max()) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool BoolField(std::string_view token, std::string_view key, bool* out) {
  std::string_view v;
  if (!Value(token, key, &v)) return false;
  if (v == "0") *out = false;
  else if (v == "1") *out = true;
  else return false;
  return true;
}

bool OverflowField(std::string_view token, std::string_view key, OverflowMode* out) {
  std::string_view v;
  return Value(token, key, &v) && ParseOverflowMode(v, out);
}

bool Fail(std::string* error, std::string msg) {
  *error = std::move(msg);
  return false;
}

// Splits a reply into lines; every line must end with '\n'.
bool SplitLines(std::string_view text, size_t max_lines, std::vector<std::string_view>* out) {
  out->clear();
  size_t start = 0;
  while (start < text.size()) {
    const size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos || out->size() == max_lines) return false;
    out->push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return true;
}

std::string EncodeSnapshot(const SnapshotInfo& s) {
  return fmt::format(
      "number={} size={} chunk={} persistent={} ro={} overflow={} max={} created={} valid={} "
      "overflowed={} allocated={} total={} metadata={}\n",
      s.number, s.size_bytes, s.config.chunk_bytes, s.config.persistent ? 1 : 0,
      s.config.read_only ? 1 : 0, OverflowModeName(s.config.overflow), s.config.max_cow_bytes,
      s.created_unix < 0 ? 0 : s.created_unix, s.valid ? 1 : 0, s.overflowed ? 1 : 0,
      s.sectors_allocated, s.total_sectors, s.metadata_sectors);
}

bool DecodeSnapshot(std::string_view line, SnapshotInfo* s) {
  if (line.size() > kMaxSnapshotLineBytes) return false;
  std::vector<std::string_view> t;
  if (!Tokenize(line, &t) || t.size() != 13) return false;
  uint64_t created = 0;
  if (!U32Field(t[0], "number", &s->number) || s->number == 0 ||
      !U64Field(t[1], "size", &s->size_bytes) ||
      !U32Field(t[2], "chunk", &s->config.chunk_bytes) ||
      !BoolField(t[3], "persistent", &s->config.persistent) ||
      !BoolField(t[4], "ro", &s->config.read_only) ||
      !OverflowField(t[5], "overflow", &s->config.overflow) ||
      !U64Field(t[6], "max", &s->config.max_cow_bytes) || !U64Field(t[7], "created", &created) ||
      created > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      !BoolField(t[8], "valid", &s->valid) || !BoolField(t[9], "overflowed", &s->overflowed) ||
      !U64Field(t[10], "allocated", &s->sectors_allocated) ||
      !U64Field(t[11], "total", &s->total_sectors) ||
      !U64Field(t[12], "metadata", &s->metadata_sectors))
    return false;
  s->created_unix = static_cast<int64_t>(created);
  s->name = SnapshotName(s->number);
  return true;
}

bool IsMessageByte(unsigned char c) { return c >= 0x20 && c != 0x7f; }

}  // namespace

const char* OverflowModeName(OverflowMode m) {
  return m == OverflowMode::kKeep ? "keep" : "invalidate";
}

bool ParseOverflowMode(std::string_view text, OverflowMode* out) {
  if (text == "invalidate") *out = OverflowMode::kInvalidate;
  else if (text == "keep") *out = OverflowMode::kKeep;
  else return false;
  return true;
}

std::string EncodeRequest(const ControlRequest& req) {
  switch (req.kind) {
    case RequestKind::kCreate:
      return fmt::format("create chunk={} transient={} ro={} max={} overflow={}\n",
                         req.config.chunk_bytes, req.config.persistent ? 0 : 1,
                         req.config.read_only ? 1 : 0, req.config.max_cow_bytes,
                         OverflowModeName(req.config.overflow));
    case RequestKind::kDelete:
      return fmt::format("delete {}\n", SnapshotName(req.number));
    case RequestKind::kList:
      return "list\n";
    case RequestKind::kStatus:
      return "status\n";
  }
  return "list\n";
}

bool DecodeRequest(std::string_view line, ControlRequest* out, std::string* error) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() >= kMaxRequestBytes) return Fail(error, "request too long");
  std::vector<std::string_view> t;
  if (line.empty() || !Tokenize(line, &t)) return Fail(error, "malformed request");
  ControlRequest req;
  if (t[0] == "list" || t[0] == "status") {
    if (t.size() != 1) return Fail(error, fmt::format("{} takes no arguments", t[0]));
    req.kind = t[0] == "list" ? RequestKind::kList : RequestKind::kStatus;
  } else if (t[0] == "delete") {
    req.kind = RequestKind::kDelete;
    if (t.size() != 2) return Fail(error, "delete takes one snapshot name");
    if (!ParseSnapshotName(std::string(t[1]), &req.number))
      return Fail(error, "invalid snapshot name (expected snap-N)");
  } else if (t[0] == "create") {
    req.kind = RequestKind::kCreate;
    bool transient = false;
    if (t.size() != 6 || !U32Field(t[1], "chunk", &req.config.chunk_bytes) ||
        !BoolField(t[2], "transient", &transient) ||
        !BoolField(t[3], "ro", &req.config.read_only) ||
        !U64Field(t[4], "max", &req.config.max_cow_bytes) ||
        !OverflowField(t[5], "overflow", &req.config.overflow))
      return Fail(error, "malformed create request");
    req.config.persistent = !transient;
  } else {
    return Fail(error, "unknown request");
  }
  *out = req;
  return true;
}

std::string EncodeError(std::string_view message) {
  std::string m(message.substr(0, kMaxMessageBytes));
  for (char& c : m)
    if (!IsMessageByte(static_cast<unsigned char>(c))) c = ' ';
  if (m.empty()) m = "error";
  return "err " + m + "\n";
}

std::string EncodeReply(RequestKind kind, const ControlReply& reply) {
  if (!reply.ok) return EncodeError(reply.error);
  switch (kind) {
    case RequestKind::kCreate:
      return fmt::format("ok {}\n", SnapshotName(reply.number));
    case RequestKind::kDelete:
      return "ok\n";
    case RequestKind::kList:
    case RequestKind::kStatus:
      break;
  }
  const size_t n = std::min(reply.snapshots.size(), kMaxReplySnapshots);
  std::string out = fmt::format("ok {}\n", n);
  for (size_t i = 0; i < n; ++i) out += EncodeSnapshot(reply.snapshots[i]);
  return out;
}

bool DecodeReply(RequestKind kind, std::string_view text, ControlReply* out, std::string* error) {
  if (text.size() > kMaxReplyBytes) return Fail(error, "reply too long");
  std::vector<std::string_view> lines;
  if (text.empty() || !SplitLines(text, kMaxReplySnapshots + 1, &lines))
    return Fail(error, "malformed reply");
  const std::string_view first = lines[0];
  ControlReply r;
  if (first.substr(0, 4) == "err ") {
    const std::string_view msg = first.substr(4);
    if (lines.size() != 1 || msg.empty() || msg.size() > kMaxMessageBytes)
      return Fail(error, "malformed error reply");
    for (char c : msg)
      if (!IsMessageByte(static_cast<unsigned char>(c))) return Fail(error, "malformed error reply");
    r.ok = false;
    r.error = std::string(msg);
    *out = std::move(r);
    return true;
  }
  r.ok = true;
  switch (kind) {
    case RequestKind::kDelete:
      if (lines.size() != 1 || first != "ok") return Fail(error, "malformed reply to delete");
      break;
    case RequestKind::kCreate:
      if (lines.size() != 1 || first.substr(0, 3) != "ok " ||
          !ParseSnapshotName(std::string(first.substr(3)), &r.number))
        return Fail(error, "malformed reply to create");
      break;
    case RequestKind::kList:
    case RequestKind::kStatus: {
      uint64_t n = 0;
      if (first.substr(0, 3) != "ok " || !ParseU64(first.substr(3), &n) ||
          n > kMaxReplySnapshots || lines.size() != n + 1)
        return Fail(error, "malformed reply to list");
      r.snapshots.resize(n);
      for (size_t i = 0; i < n; ++i)
        if (!DecodeSnapshot(lines[i + 1], &r.snapshots[i]))
          return Fail(error, fmt::format("malformed snapshot line {} in reply", i + 1));
      break;
    }
  }
  *out = std::move(r);
  return true;
}

bool ParseSize(std::string_view text, uint64_t* out, std::string* error) {
  const std::string shown(text.substr(0, 64));
  const auto bad = [&] {
    return Fail(error, fmt::format("invalid size '{}' (expected a number with an optional "
                                   "K, M, G or T suffix)",
                                   shown));
  };
  if (text.empty() || text.size() > 24) return bad();
  unsigned shift = 0;
  switch (text.back()) {
    case 'K': case 'k': shift = 10; break;
    case 'M': case 'm': shift = 20; break;
    case 'G': case 'g': shift = 30; break;
    case 'T': case 't': shift = 40; break;
    default: break;
  }
  std::string_view digits = shift ? text.substr(0, text.size() - 1) : text;
  // Leading zeros are harmless in a size typed by a user ("0016K"); strip them.
  while (digits.size() > 1 && digits[0] == '0') digits.remove_prefix(1);
  uint64_t v = 0;
  if (!ParseU64(digits, &v)) {
    for (char c : digits)
      if (c < '0' || c > '9') return bad();
    if (digits.empty()) return bad();
    return Fail(error, fmt::format("size '{}' is too large", shown));
  }
  if (shift && v > (std::numeric_limits<uint64_t>::max() >> shift))
    return Fail(error, fmt::format("size '{}' is too large", shown));
  *out = v << shift;
  return true;
}

}  // namespace snapcow
