// Checks that bytes a session wrote are well-formed memcached text replies: whole CRLF lines
// from the known set (meta answers included), and every VALUE / VA header followed by exactly
// the data it announces. Shared by the connection and UDP service targets.
#pragma once

#include <cstddef>
#include <string_view>

#include "fuzz_check.h"

namespace memshield::fuzz {

inline bool reply_is_number(std::string_view s) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

inline bool reply_starts(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "VALUE <key> <flags> <bytes>[ <cas>]": returns the data length, or -1 if malformed.
inline long long reply_value_length(std::string_view header) {
  std::string_view f[6];
  size_t n = 0;
  size_t i = 0;
  while (i <= header.size() && n < 6) {
    size_t sp = header.find(' ', i);
    if (sp == std::string_view::npos) sp = header.size();
    f[n++] = header.substr(i, sp - i);
    i = sp + 1;
  }
  if (i <= header.size() || (n != 4 && n != 5)) return -1;
  if (f[1].empty() || f[1].size() > 250) return -1;
  if (!reply_is_number(f[2]) || !reply_is_number(f[3])) return -1;
  if (n == 5 && !reply_is_number(f[4])) return -1;
  if (f[3].size() > 12) return -1;
  long long len = 0;
  for (char c : f[3]) len = len * 10 + (c - '0');
  return len;
}

inline bool reply_known_line(std::string_view line) {
  static constexpr std::string_view kExact[] = {
      "END", "STORED", "NOT_STORED", "EXISTS", "NOT_FOUND", "DELETED", "TOUCHED", "OK", "ERROR"};
  for (std::string_view e : kExact) {
    if (line == e) return true;
  }
  if (reply_is_number(line)) return true;  // incr / decr
  if (line.find('\n') != std::string_view::npos || line.find('\0') != std::string_view::npos) {
    return false;
  }
  // meta answers: a two-letter code, alone or with return flags; me's debug line
  static constexpr std::string_view kMeta[] = {"HD", "EN", "NF", "NS", "EX", "MN"};
  for (std::string_view m : kMeta) {
    if (line == m || (reply_starts(line, m) && line.size() > 3 && line[2] == ' ')) return true;
  }
  // refresh_certs answers OK or its error line as memcached does ("Error TLS not enabled",
  // "Error loading the key: ...").
  return reply_starts(line, "CLIENT_ERROR ") || reply_starts(line, "SERVER_ERROR ") ||
         reply_starts(line, "ERROR: ") || reply_starts(line, "VERSION ") ||
         reply_starts(line, "ME ") || reply_starts(line, "Error ");
}

// Meta "VA <bytes>[ <flags>]": returns the data length, or -1 if malformed.
inline long long reply_meta_value_length(std::string_view header) {
  std::string_view n = header.substr(3, header.find(' ', 3) - 3);
  if (!reply_is_number(n) || n.size() > 12) return -1;
  long long len = 0;
  for (char c : n) len = len * 10 + (c - '0');
  return len;
}

// Aborts unless `out` is a sequence of whole, well-formed replies.
inline void check_replies(std::string_view out) {
  size_t pos = 0;
  while (pos < out.size()) {
    size_t eol = out.find("\r\n", pos);
    FUZZ_CHECK(eol != std::string_view::npos);
    std::string_view line = out.substr(pos, eol - pos);
    pos = eol + 2;
    const bool meta_value = reply_starts(line, "VA ");
    if (reply_starts(line, "VALUE ") || meta_value) {
      long long len = meta_value ? reply_meta_value_length(line) : reply_value_length(line);
      FUZZ_CHECK(len >= 0);
      FUZZ_CHECK(out.size() - pos >= static_cast<size_t>(len) + 2);
      pos += static_cast<size_t>(len);
      FUZZ_CHECK(out.substr(pos, 2) == "\r\n");
      pos += 2;
      continue;
    }
    FUZZ_CHECK(reply_known_line(line));
  }
}

}  // namespace memshield::fuzz
