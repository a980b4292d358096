// Meta-protocol line parsing: turns "mg <key> <flags>*" and friends into a MetaRequest with
// memcached 1.6.18's acceptance rules, order of checks and exact error strings. Pure: no store.
#pragma once

#include <string>
#include <string_view>

#include "protocol/text/meta_request.h"

namespace memshield::protocol::text {

// True when the first token names a meta command ("m" + one letter), which parse_line routes here.
inline bool is_meta_command(std::string_view cmd) { return cmd.size() == 2 && cmd[0] == 'm'; }

// Parses one complete meta line (without its newline). On error sets r->error (and r->swallow).
// An unknown two-letter "m?" command gets the plain "ERROR".
void parse_meta(std::string_view line, MetaRequest* r);

// base64 as memcached's meta 'b' flag reads it: length a multiple of 4, stops at the first
// padded quad. Returns the decoded length, or 0 on an error; `out` must hold cap bytes.
size_t base64_decode(std::string_view in, char* out, size_t cap);
// Appends the standard padded base64 of `in` to `out`.
void base64_encode(std::string_view in, std::string* out);

}  // namespace memshield::protocol::text
