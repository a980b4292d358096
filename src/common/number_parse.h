// memcached's safe_strto* number rules, reproduced so that edge cases (leading '+', trailing
// whitespace, 2^32 flags truncating, "-0") answer exactly as memcached does. Input need not be
// NUL-terminated.
#pragma once

#include <cstdint>
#include <string_view>

namespace memshield {
namespace number_detail {

// The value of 1 to max_digits decimal digits and nothing else; false for anything else, which
// then goes through the C library. Inline: short plain numbers (flags, exptime, lengths) are on
// every storage command, and a call with the slow path's frame cost as much as the digits.
inline bool plain_digits(std::string_view s, size_t max_digits, uint64_t* out) {
  if (s.empty() || s.size() > max_digits) return false;
  uint64_t v = 0;
  for (char ch : s) {
    const auto d = static_cast<unsigned>(static_cast<unsigned char>(ch) - '0');
    if (d > 9) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool parse_u32_slow(std::string_view s, uint32_t* out);
bool parse_i32_slow(std::string_view s, int32_t* out);
bool parse_u64_slow(std::string_view s, uint64_t* out);

}  // namespace number_detail

// Unsigned 32-bit (flags, verbosity): like strtoul into a 64-bit long, then truncated to 32 bits.
inline bool parse_u32(std::string_view s, uint32_t* out) {
  uint64_t v;
  if (!number_detail::plain_digits(s, 9, &v)) return number_detail::parse_u32_slow(s, out);
  *out = static_cast<uint32_t>(v);
  return true;
}

// Signed 32-bit (exptime, length): parsed as a 64-bit long, then truncated to 32 bits, as
// memcached 1.6.18 does (2147483648 becomes -2147483648: an exptime in the past).
inline bool parse_i32(std::string_view s, int32_t* out) {
  uint64_t v;
  if (!number_detail::plain_digits(s, 9, &v)) return number_detail::parse_i32_slow(s, out);
  *out = static_cast<int32_t>(v);
  return true;
}

// Unsigned 64-bit (cas, delta, incr/decr stored value).
inline bool parse_u64(std::string_view s, uint64_t* out) {
  return number_detail::plain_digits(s, 19, out) || number_detail::parse_u64_slow(s, out);
}

}  // namespace memshield
