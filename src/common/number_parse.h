// memcached's safe_strto* number rules, reproduced so that edge cases (leading '+', trailing
// whitespace, 2^32 flags truncating, "-0") answer exactly as memcached does. Input need not be
// NUL-terminated.
#pragma once

#include <cstdint>
#include <string_view>

namespace memshield {

// Unsigned 32-bit (flags, verbosity): like strtoul into a 64-bit long, then truncated to 32 bits.
bool parse_u32(std::string_view s, uint32_t* out);
// Signed 32-bit (exptime, length): parsed as a 64-bit long, then truncated to 32 bits, as
// memcached 1.6.18 does (2147483648 becomes -2147483648: an exptime in the past).
bool parse_i32(std::string_view s, int32_t* out);
// Unsigned 64-bit (cas, delta, incr/decr stored value).
bool parse_u64(std::string_view s, uint64_t* out);

}  // namespace memshield
