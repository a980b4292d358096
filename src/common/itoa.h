// Decimal formatting for the response hot path (VALUE lines, incr results): no locale, no
// printf parsing. Writes at most 20 characters and returns the end pointer.
#pragma once

#include <cstdint>

namespace memshield {

inline char* write_u64(char* p, uint64_t v) {
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = tmp[--n];
  return p;
}

}  // namespace memshield
