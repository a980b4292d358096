// memcached's number acceptance rules.
#include "common/number_parse.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace memshield
