// See number_parse.h. The C library does the digit work; we add memcached's acceptance rules.
// Short runs of plain digits (the flags, exptime and lengths nearly every request carries) take
// a fast path first, inline in the header: for them the C library's answer is simply their
// value. What reaches this file is everything else.
#include "common/number_parse.h"

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

namespace memshield {
namespace {

// Copies into a NUL-terminated buffer; long inputs (a value of many digits) go to the heap.
class CString {
 public:
  explicit CString(std::string_view s) {
    if (s.size() < sizeof(small_)) {
      memcpy(small_, s.data(), s.size());
      small_[s.size()] = '\0';
      ptr_ = small_;
    } else {
      big_.assign(s);
      ptr_ = big_.c_str();
    }
  }
  const char* get() const { return ptr_; }

 private:
  char small_[64];
  std::string big_;
  const char* ptr_;
};

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// memcached accepts a number followed by whitespace or the end of the string.
bool ends_ok(const char* start, const char* end) {
  return is_space(*end) || (*end == '\0' && end != start);
}

}  // namespace

namespace number_detail {

bool parse_u32_slow(std::string_view s, uint32_t* out) {
  CString c(s);
  char* end = nullptr;
  errno = 0;
  unsigned long v = strtoul(c.get(), &end, 10);
  if (errno == ERANGE || end == c.get()) return false;
  if (!ends_ok(c.get(), end)) return false;
  if (static_cast<long>(v) < 0 && memchr(c.get(), '-', end - c.get()) != nullptr) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool parse_i32_slow(std::string_view s, int32_t* out) {
  CString c(s);
  char* end = nullptr;
  errno = 0;
  *out = 0;
  long v = strtol(c.get(), &end, 10);
  if (errno == ERANGE || end == c.get()) return false;
  if (!ends_ok(c.get(), end)) return false;
  *out = static_cast<int32_t>(v);
  return true;
}

bool parse_u64_slow(std::string_view s, uint64_t* out) {
  CString c(s);
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(c.get(), &end, 10);
  if (errno == ERANGE || end == c.get()) return false;
  if (!ends_ok(c.get(), end)) return false;
  if (static_cast<long long>(v) < 0 && memchr(c.get(), '-', end - c.get()) != nullptr) return false;
  *out = v;
  return true;
}

}  // namespace number_detail
}  // namespace memshield
