// Text protocol request parsing: finds a complete line in the input and turns it into a Request,
// with memcached 1.6's exact acceptance rules and error strings. Pure: no store, no sockets.
#pragma once

#include <cstddef>
#include <string_view>

#include "protocol/text/request.h"

namespace memshield::protocol::text {

inline constexpr size_t kKeyMaxLength = 250;
// memcached closes a connection whose unterminated line passes this, unless it is a get/gets.
inline constexpr size_t kMaxLineWithoutNewline = 2048;
// Our bound on a multi-key get line (memcached's is unbounded). 
inline constexpr size_t kMaxGetLine = 8u << 20;

enum class LineStatus { kLine, kNeedMore, kTooLong };

struct Line {
  std::string_view text;  // without "\n" or "\r\n", cut at the first NUL as memcached's strlen does
  size_t consumed = 0;    // bytes of input including the newline
};

// Finds the next request line at the start of `in`.
LineStatus find_line(std::string_view in, Line* line);

// Parses one complete line.
void parse_line(std::string_view line, Request* req);

}  // namespace memshield::protocol::text
