// memcached's number acceptance rules.
#include "common/number_parse.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <string>

namespace memshield {
namespace {

TEST(NumberParse, U32) {
  uint32_t v = 7;
  EXPECT_TRUE(parse_u32("42", &v));
  EXPECT_EQ(v, 42u);
  EXPECT_TRUE(parse_u32("4294967296", &v));  // truncated like memcached's safe_strtoul
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(parse_u32("-1", &v));
  EXPECT_FALSE(parse_u32("", &v));
  EXPECT_FALSE(parse_u32("1x", &v));
  EXPECT_TRUE(parse_u32("5\r", &v));  // trailing whitespace is fine
  EXPECT_FALSE(parse_u32("99999999999999999999999", &v));
}

TEST(NumberParse, I32) {
  int32_t v = 0;
  EXPECT_TRUE(parse_i32("-5", &v));
  EXPECT_EQ(v, -5);
  EXPECT_TRUE(parse_i32("2147483648", &v));  // truncated, as memcached 1.6.18 does
  EXPECT_EQ(v, INT32_MIN);
  EXPECT_TRUE(parse_i32("4294967297", &v));
  EXPECT_EQ(v, 1);
  EXPECT_TRUE(parse_i32("2147483647", &v));
  EXPECT_FALSE(parse_i32("abc", &v));
}

TEST(NumberParse, U64) {
  uint64_t v = 0;
  EXPECT_TRUE(parse_u64("18446744073709551615", &v));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(parse_u64("18446744073709551616", &v));
  EXPECT_FALSE(parse_u64("-1", &v));
  EXPECT_TRUE(parse_u64("-0", &v));
  EXPECT_TRUE(parse_u64("99 ", &v));
  EXPECT_EQ(v, 99u);
  EXPECT_TRUE(parse_u64(std::string(100, '0') + "7", &v));
  EXPECT_EQ(v, 7u);
}

// Plain digit strings take a fast path; for every length around its cut-offs (9 digits for
// the 32-bit parsers, 19 for u64) the answers must be the C library's: range errors refused,
// 32-bit results truncated as memcached's are.
TEST(NumberParse, DigitStringsAgreeWithTheCLibrary) {
  std::mt19937_64 rng(3);
  for (size_t len = 1; len <= 21; ++len) {
    for (int i = 0; i < 300; ++i) {
      std::string s;
      for (size_t k = 0; k < len; ++k) s += static_cast<char>('0' + rng() % 10);
      if (i == 0) s.assign(len, '9');
      if (i == 1) s.assign(len, '0');
      errno = 0;
      const long as_long = strtol(s.c_str(), nullptr, 10);
      const bool long_ok = errno != ERANGE;
      errno = 0;
      const unsigned long long as_ull = strtoull(s.c_str(), nullptr, 10);
      const bool ull_ok = errno != ERANGE;
      uint32_t u32 = 0;
      int32_t i32 = 0;
      uint64_t u64 = 0;
      ASSERT_EQ(parse_u32(s, &u32), ull_ok) << s;
      if (ull_ok) {
        EXPECT_EQ(u32, static_cast<uint32_t>(as_ull)) << s;
      }
      ASSERT_EQ(parse_i32(s, &i32), long_ok) << s;
      if (long_ok) {
        EXPECT_EQ(i32, static_cast<int32_t>(as_long)) << s;
      }
      ASSERT_EQ(parse_u64(s, &u64), ull_ok) << s;
      if (ull_ok) {
        EXPECT_EQ(u64, as_ull) << s;
      }
    }
  }
}

}  // namespace
}  // namespace memshield
