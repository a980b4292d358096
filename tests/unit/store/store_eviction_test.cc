// Memory limit and eviction: the byte count never passes the limit, GCLOCK keeps the newest and
// the most-read keys, -M fails instead of evicting, and dead items are reclaimed before live
// ones are evicted.
#include <gtest/gtest.h>

#include <string>

#include "store/store.h"
#include "store_test_util.h"

namespace memshield::store {
namespace {

using testing::get;
using testing::put;

std::string key_of(int i) { return "key:" + std::to_string(i); }

Config small_config(size_t limit) {
  Config c;
  c.memory_limit = limit;
  c.shards_log2 = 4;
  return c;
}

TEST(StoreEviction, TwiceOverfilledStaysUnderLimitAndKeepsNewest) {
  Clock clock;
  Store s(small_config(2u << 20), clock);
  const std::string value(100, 'v');
  // How many fit, measured rather than assumed, then twice that many again.
  int n = 0;
  while (s.stats().evictions == 0) {
    ASSERT_EQ(put(s, key_of(n++), value), StoreResult::kStored);
    ASSERT_LE(s.stats().bytes, s.stats().limit_maxbytes);
  }
  const int fit = n;
  for (; n < 3 * fit; ++n) {
    ASSERT_EQ(put(s, key_of(n), value), StoreResult::kStored);
    ASSERT_LE(s.stats().bytes, s.stats().limit_maxbytes);
  }
  Stats st = s.stats();
  EXPECT_EQ(st.curr_items + st.evictions, static_cast<uint64_t>(n));
  EXPECT_EQ(st.evicted_unfetched, st.evictions);
  EXPECT_GT(st.curr_items, static_cast<uint64_t>(fit) * 8 / 10);
  // Every item survives at least one turn of the hand: the newest third of the cache is intact.
  for (int i = n - fit / 3; i < n; ++i) {
    ASSERT_EQ(get(s, key_of(i)).result, Lookup::kHit) << "key " << i << " of " << n;
  }
}

TEST(StoreEviction, FrequentlyReadKeysSurvive) {
  Clock clock;
  Store s(small_config(1u << 20), clock);
  const std::string value(200, 'v');
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(put(s, "hot" + std::to_string(i), value), StoreResult::kStored);
  for (int n = 0; n < 30000; ++n) {
    ASSERT_EQ(put(s, key_of(n), value), StoreResult::kStored);
    if (n % 50 == 0) {
      for (int i = 0; i < 100; ++i) {
        ASSERT_EQ(get(s, "hot" + std::to_string(i)).result, Lookup::kHit) << i << " at " << n;
      }
    }
  }
  EXPECT_GT(s.stats().evictions, 20000u);
  EXPECT_LT(s.stats().evicted_unfetched, s.stats().evictions + 1);
}

TEST(StoreEviction, NoEvictModeFailsWithNoMemory) {
  Clock clock;
  Config c = small_config(1u << 20);
  c.evict = false;
  Store s(c, clock);
  const std::string value(1000, 'v');
  int stored = 0;
  StoreResult r = StoreResult::kStored;
  while (r == StoreResult::kStored) {
    r = put(s, key_of(stored), value);
    if (r == StoreResult::kStored) ++stored;
  }
  EXPECT_EQ(r, StoreResult::kNoMemory);
  EXPECT_GT(stored, 800);
  Stats st = s.stats();
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_EQ(st.curr_items, static_cast<uint64_t>(stored));
  EXPECT_LE(st.bytes, st.limit_maxbytes);
  for (int i = 0; i < stored; ++i) ASSERT_EQ(get(s, key_of(i)).result, Lookup::kHit);
  // Freeing space makes room again.
  ASSERT_TRUE(s.remove(key_of(0)));
  EXPECT_EQ(put(s, "again", value), StoreResult::kStored);
}

TEST(StoreEviction, ItemLargerThanTheLimitDoesNotWipeTheCache) {
  Clock clock;
  Config c = small_config(256u << 10);
  c.item_size_max = 1u << 20;
  Store s(c, clock);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(put(s, key_of(i), "v"), StoreResult::kStored);
  NewItem it;
  EXPECT_EQ(s.allocate("big", 0, 0, 512u << 10, &it), AllocStatus::kNoMemory);
  EXPECT_EQ(s.stats().curr_items, 100u);
  EXPECT_EQ(s.stats().evictions, 0u);
}

TEST(StoreEviction, ExpiredItemsGoBeforeLiveOnes) {
  Clock clock;
  Store s(small_config(1u << 20), clock);
  const std::string value(500, 'v');
  RelTime exp = clock.expiry_from_protocol(5);
  int n = 0;
  // Fill all but the last segments the limit allows (reserved_bytes counts them whole, 32 KiB
  // each here) with expiring items.
  while (s.stats().reserved_bytes + (64u << 10) < s.stats().limit_maxbytes) {
    ASSERT_EQ(put(s, key_of(n++), value, Mode::kSet, 0, exp), StoreResult::kStored);
  }
  ASSERT_EQ(s.stats().evictions, 0u);
  clock.advance_for_testing(5);
  for (int i = 0; i < n / 2; ++i) {
    ASSERT_EQ(put(s, "live" + std::to_string(i), value), StoreResult::kStored);
  }
  Stats st = s.stats();
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_GT(st.reclaimed, static_cast<uint64_t>(n / 4));
  EXPECT_EQ(st.expired_unfetched, st.reclaimed);
  EXPECT_LE(st.bytes, st.limit_maxbytes);
}

TEST(StoreEviction, AppendAndIncrUnderPressure) {
  Clock clock;
  Store s(small_config(1u << 20), clock);
  const std::string value(300, 'v');
  ASSERT_EQ(put(s, "n", "9"), StoreResult::kStored);
  ASSERT_EQ(put(s, "a", "x"), StoreResult::kStored);
  uint64_t r = 0;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(put(s, key_of(i), value), StoreResult::kStored);
    if (i % 1000 == 0) {
      ASSERT_EQ(put(s, "a", "x"), StoreResult::kStored);
    }
    // Reading keeps both keys hot, so they stay while everything around them churns.
    ASSERT_EQ(get(s, "a").result, Lookup::kHit) << i;
    ASSERT_EQ(put(s, "a", "y", Mode::kAppend), StoreResult::kStored);
    ASSERT_EQ(get(s, "n").result, Lookup::kHit) << i;
    ASSERT_EQ(s.delta("n", true, 7, &r), DeltaStatus::kOk);
    ASSERT_LE(s.stats().bytes, s.stats().limit_maxbytes);
  }
  EXPECT_EQ(r, 9u + 7 * 20000);
  EXPECT_EQ(get(s, "n").value, std::to_string(r));
  EXPECT_EQ(get(s, "a").value, "x" + std::string(1000, 'y'));
}

}  // namespace
}  // namespace memshield::store
