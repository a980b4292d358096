// Decimal formatting for the response hot path (VALUE lines, incr results): no locale, no
// printf parsing. Writes at most 20 characters and returns the end pointer. Counts the digits
// first and then writes two at a time from the back (one division per pair), since most
// numbers here are short flags and lengths.
#pragma once

#include <cstdint>
#include <cstring>

namespace memshield {

namespace itoa_detail {
inline constexpr char kPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

inline int digits(uint64_t v) {
  int n = 1;
  for (;;) {
    if (v < 10) return n;
    if (v < 100) return n + 1;
    if (v < 1000) return n + 2;
    if (v < 10000) return n + 3;
    v /= 10000;
    n += 4;
  }
}
}  // namespace itoa_detail

inline char* write_u64(char* p, uint64_t v) {
  if (v < 10) {
    *p = static_cast<char>('0' + v);
    return p + 1;
  }
  const int n = itoa_detail::digits(v);
  char* q = p + n;
  while (v >= 100) {
    q -= 2;
    memcpy(q, itoa_detail::kPairs + (v % 100) * 2, 2);
    v /= 100;
  }
  if (v >= 10) {
    q -= 2;
    memcpy(q, itoa_detail::kPairs + v * 2, 2);
  } else {
    *--q = static_cast<char>('0' + v);
  }
  return p + n;
}

}  // namespace memshield
