// See reply.h.
#include "audit/reply.h"

namespace memshield::audit {
namespace {
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string_view strip_eol(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}
}  // namespace

ReplyKind classify_text_reply(std::string_view line, std::string* version) {
  line = strip_eol(line);
  if (starts_with(line, "VERSION ")) {
    *version = std::string(line.substr(8));
    return ReplyKind::kVersion;
  }
  if (starts_with(line, "CLIENT_ERROR unauthenticated") ||
      starts_with(line, "CLIENT_ERROR authentication")) {
    return ReplyKind::kAuthRequired;
  }
  if (line == "ERROR" || starts_with(line, "CLIENT_ERROR") || starts_with(line, "SERVER_ERROR")) {
    return ReplyKind::kError;
  }
  return ReplyKind::kOther;
}

bool stats_reply_complete(std::string_view buf) {
  if (buf.size() >= 5 && buf.substr(buf.size() - 5) == "END\r\n") return true;
  if (buf.find("\r\n") == std::string_view::npos) return false;
  return !starts_with(buf, "STAT ");  // an error line instead of a stats block
}

std::map<std::string, std::string> parse_stats(std::string_view buf) {
  std::map<std::string, std::string> out;
  while (!buf.empty()) {
    size_t eol = buf.find('\n');
    std::string_view line = strip_eol(buf.substr(0, eol));
    buf = eol == std::string_view::npos ? std::string_view() : buf.substr(eol + 1);
    if (!starts_with(line, "STAT ")) continue;
    line.remove_prefix(5);
    size_t sp = line.find(' ');
    if (sp == 0 || sp == std::string_view::npos) continue;
    out[std::string(line.substr(0, sp))] = std::string(line.substr(sp + 1));
  }
  return out;
}

std::string printable_excerpt(std::string_view bytes, size_t max_chars) {
  std::string out;
  for (char c : bytes) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c == '\r' || c == '\n') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      out += '.';
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string binary_version_request() {
  std::string req(24, '\0');
  req[0] = static_cast<char>(0x80);  // request magic
  req[1] = 0x0b;                     // version
  req[15] = 0x01;                    // opaque, so a reply can be told from noise
  return req;
}

BinaryReply classify_binary_reply(std::string_view buf, std::string* version) {
  if (buf.empty()) return BinaryReply::kIncomplete;
  if (static_cast<uint8_t>(buf[0]) != 0x81) return BinaryReply::kOther;
  if (buf.size() < 24) return BinaryReply::kIncomplete;
  auto u8 = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(buf[i])); };
  const uint32_t status = (u8(6) << 8) | u8(7);
  const uint32_t body = (u8(8) << 24) | (u8(9) << 16) | (u8(10) << 8) | u8(11);
  if (status == 0x20) return BinaryReply::kAuthRequired;
  if (status != 0) return BinaryReply::kError;
  if (body > 256) return BinaryReply::kOther;
  if (buf.size() < 24 + body) return BinaryReply::kIncomplete;
  *version = std::string(buf.substr(24, body));
  return BinaryReply::kVersion;
}

bool listens_on_all_interfaces(std::string_view inter) {
  if (inter == "NULL" || inter.empty()) return true;
  while (!inter.empty()) {
    size_t comma = inter.find(',');
    std::string_view e = inter.substr(0, comma);
    inter = comma == std::string_view::npos ? std::string_view() : inter.substr(comma + 1);
    while (!e.empty() && e.front() == ' ') e.remove_prefix(1);
    if (e == "0.0.0.0" || e == "::" || e == "[::]" || e == "*" || starts_with(e, "0.0.0.0:") ||
        starts_with(e, "[::]:") || starts_with(e, "*:")) {
      return true;
    }
  }
  return false;
}

}  // namespace memshield::audit
