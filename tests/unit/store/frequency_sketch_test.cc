// The frequency sketch: counts saturate at 15, popular keys stand out from rare ones, counts
// fade (halve) as traffic goes on, and the table grows with the item count.
#include "store/frequency_sketch.h"

#include <gtest/gtest.h>

#include <string>

#include "common/hash.h"

namespace memshield::store {
namespace {

uint64_t h(int i) { return hash_key("key" + std::to_string(i)); }

TEST(FrequencySketch, PopularKeysStandOut) {
  FrequencySketch s;
  for (int r = 0; r < 12; ++r) s.record(h(1));
  s.record(h(2));
  EXPECT_GE(s.estimate(h(1)), 12u);
  EXPECT_LE(s.estimate(h(2)), 3u);
  for (int r = 0; r < 100; ++r) s.record(h(1));
  EXPECT_EQ(s.estimate(h(1)), 15u);  // saturates
}

TEST(FrequencySketch, CountsFadeWithTraffic) {
  FrequencySketch s;
  for (int r = 0; r < 15; ++r) s.record(h(1));
  ASSERT_EQ(s.estimate(h(1)), 15u);
  // 128 keys x 20 records later every count has been halved at least once (many times over).
  for (int i = 0; i < 20000; ++i) s.record(h(1000 + i));
  EXPECT_LE(s.estimate(h(1)), 7u);
}

TEST(FrequencySketch, GrowsWithTheItems) {
  FrequencySketch s;
  const size_t before = s.bytes();
  EXPECT_EQ(s.fit(100), 0u);
  const size_t grown = s.fit(100000);
  EXPECT_GT(grown, 0u);
  EXPECT_EQ(s.bytes(), before + grown);
  EXPECT_GE(s.bytes(), 400000u);  // four bytes (eight counters) per item, up to eight
  EXPECT_EQ(s.fit(100000), 0u);
}

}  // namespace
}  // namespace memshield::store
