#include "common/itoa.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace memshield {
namespace {

std::string format(uint64_t v) {
  char buf[24];
  char* end = write_u64(buf, v);
  return std::string(buf, end);
}

TEST(WriteU64, EveryDigitCountAndItsEdges) {
  uint64_t p = 1;
  for (int d = 1; d <= 20; ++d) {
    EXPECT_EQ(format(p), std::to_string(p));
    EXPECT_EQ(format(p - 1), std::to_string(p - 1));
    EXPECT_EQ(format(p + 1), std::to_string(p + 1));
    if (d < 20) p *= 10;
  }
  EXPECT_EQ(format(UINT64_MAX), "18446744073709551615");
  EXPECT_EQ(format(UINT32_MAX), "4294967295");
}

TEST(WriteU64, MatchesToStringOnRandomValues) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() >> (rng() % 64);
    ASSERT_EQ(format(v), std::to_string(v));
  }
  for (uint64_t v = 0; v < 20000; ++v) ASSERT_EQ(format(v), std::to_string(v));
}

}  // namespace
}  // namespace memshield
