// Small pieces both load generators (loadgen.cc over TCP, udp_bench.cc over UDP) share: the
// monotonic clock, strict number parsing for their options, and the key format, which is the
// same in both so a server prefilled by either tool serves the other.
#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace memshield::bench {

inline constexpr uint64_t kNsPerSec = 1'000'000'000ULL;

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// Decimal digits only: no sign, no spaces, no trailing junk, no overflow.
inline bool ParseU64(const char* s, uint64_t* out) {
  if (*s == '\0' || *s == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

inline bool ParseInt(const char* s, int lo, int hi, int* out) {
  uint64_t v;
  if (!ParseU64(s, &v) || v < static_cast<uint64_t>(lo) || v > static_cast<uint64_t>(hi)) {
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

inline bool ParseDouble(const char* s, double lo, double hi, double* out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

inline int DecimalDigits(uint64_t v) {
  int n = 1;
  for (; v >= 10; v /= 10) ++n;
  return n;
}

// Key `index` as 'k' followed by zero-padded decimal digits, exactly key_size bytes.
inline void AppendKey(std::string* out, uint64_t index, int key_size) {
  size_t at = out->size();
  out->resize(at + key_size);
  char* p = out->data() + at;
  p[0] = 'k';
  for (int i = key_size - 1; i >= 1; --i) {
    p[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

}  // namespace memshield::bench
