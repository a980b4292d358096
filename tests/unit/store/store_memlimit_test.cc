// cache_memlimit at the store: shrinking evicts in bounded steps down to the new limit and gives
// the segments back; growing lets more items in; an eviction listener hears of every eviction.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace memshield::store {
namespace {

using testing::put;

Config config(size_t limit) {
  Config c;
  c.memory_limit = limit;
  c.shards_log2 = 4;
  return c;
}

struct Recorder : EvictionListener {
  std::vector<std::string> keys;
  void evicted(const EvictedItem& e) override { keys.emplace_back(e.key); }
};

TEST(StoreMemlimit, ShrinkEvictsInBoundedStepsDownToTheNewLimit) {
  Clock clock;
  Store s(config(32u << 20), clock);
  const std::string value(1000, 'v');
  for (int i = 0; i < 40000; ++i)
    ASSERT_EQ(put(s, "k" + std::to_string(i), value), StoreResult::kStored);
  ASSERT_GT(s.stats().reserved_bytes, 24u << 20);
  s.set_memory_limit(8u << 20);
  EXPECT_EQ(s.memory_limit(), 8u << 20);
  EXPECT_EQ(s.stats().limit_maxbytes, 8u << 20);
  int steps = 0;
  while (s.shrink_step(4)) ++steps;
  EXPECT_GT(steps, 1);  // bounded steps, not one pass
  EXPECT_LE(s.stats().reserved_bytes, 8u << 20);
  EXPECT_LE(s.stats().bytes, 8u << 20);
  EXPECT_GT(s.stats().evictions, 0u);
}

TEST(StoreMemlimit, GrowLetsMoreItemsIn) {
  Clock clock;
  Store s(config(8u << 20), clock);
  const std::string value(1000, 'v');
  for (int i = 0; i < 20000; ++i) put(s, "a" + std::to_string(i), value);
  const uint64_t small = s.stats().curr_items;
  s.set_memory_limit(32u << 20);
  const uint64_t ev = s.stats().evictions;
  for (int i = 0; i < 20000; ++i) put(s, "b" + std::to_string(i), value);
  EXPECT_GT(s.stats().curr_items, small * 2);
  EXPECT_LT(s.stats().evictions - ev, 1000u);
}

TEST(StoreMemlimit, EvictionListenerHearsEvictionsOnlyWhileActive) {
  Clock clock;
  Store s(config(2u << 20), clock);
  Recorder r;
  s.set_eviction_listener(&r);
  const std::string value(1000, 'v');
  for (int i = 0; i < 5000; ++i) put(s, "x" + std::to_string(i), value);
  EXPECT_TRUE(r.keys.empty());
  r.active.store(true);
  for (int i = 0; i < 5000; ++i) put(s, "y" + std::to_string(i), value);
  EXPECT_FALSE(r.keys.empty());
  EXPECT_GE(s.stats().evictions, r.keys.size());
}

}  // namespace
}  // namespace memshield::store
