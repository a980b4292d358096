// Finding the next separator on a command line. Keys are short (tens of bytes), where a libc
// memchr call's set-up costs more than the scan itself: this looks at 16 bytes at a time
// inline (SSE2, part of every x86-64), byte by byte elsewhere and for the last few bytes. It
// never reads past `end`.
#pragma once

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace memshield::protocol::text {

// The first space in [p, end), or end.
inline const char* next_space(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  while (end - p >= 16) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const auto hits = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(chunk, space)));
    if (hits != 0) return p + __builtin_ctz(hits);
    p += 16;
  }
#endif
  while (p < end && *p != ' ') ++p;
  return p;
}

}  // namespace memshield::protocol::text
