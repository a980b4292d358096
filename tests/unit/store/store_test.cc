// Store semantics against memcached 1.6: the result matrix of every store mode, CAS ids, the
// size rule, expiry, flush_all, incr/decr, touch, delete, background reclaim and stats.
#include "store/store.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "store/item.h"
#include "store_test_util.h"

namespace memshield::store {
namespace {

using testing::get;
using testing::Got;
using testing::put;

class StoreTest : public ::testing::Test {
 protected:
  void make(Config c) { store_ = std::make_unique<Store>(c, clock_); }
  void SetUp() override { make(Config{}); }
  Store& s() { return *store_; }

  Clock clock_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, SetGetMissAndOverwrite) {
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
  EXPECT_EQ(put(s(), "k", "v1", Mode::kSet, 7), StoreResult::kStored);
  Got g = get(s(), "k");
  EXPECT_EQ(g.result, Lookup::kHit);
  EXPECT_EQ(g.value, "v1");
  EXPECT_EQ(g.flags, 7u);
  EXPECT_EQ(put(s(), "k", "", Mode::kSet), StoreResult::kStored);
  g = get(s(), "k");
  EXPECT_EQ(g.value, "");
  EXPECT_EQ(g.flags, 0u);
  EXPECT_EQ(s().stats().curr_items, 1u);
  EXPECT_EQ(s().stats().total_items, 2u);
}

TEST_F(StoreTest, AddMatrix) {
  EXPECT_EQ(put(s(), "k", "a", Mode::kAdd), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", "b", Mode::kAdd), StoreResult::kNotStored);
  EXPECT_EQ(get(s(), "k").value, "a");
}

TEST_F(StoreTest, AddBumpsTimeOfPresentItem) {
  EXPECT_EQ(put(s(), "k", "a"), StoreResult::kStored);
  RelTime t0 = get(s(), "k").last_access;
  clock_.advance_for_testing(61);  // past ITEM_UPDATE_INTERVAL
  EXPECT_EQ(put(s(), "k", "b", Mode::kAdd), StoreResult::kNotStored);
  EXPECT_GT(get(s(), "k").last_access, t0);
}

TEST_F(StoreTest, ReplaceMatrix) {
  EXPECT_EQ(put(s(), "k", "a", Mode::kReplace), StoreResult::kNotStored);
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
  EXPECT_EQ(put(s(), "k", "a"), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", "b", Mode::kReplace, 3), StoreResult::kStored);
  Got g = get(s(), "k");
  EXPECT_EQ(g.value, "b");
  EXPECT_EQ(g.flags, 3u);
}

TEST_F(StoreTest, AppendPrependMatrixKeepOldFlagsAndExptime) {
  EXPECT_EQ(put(s(), "k", "x", Mode::kAppend), StoreResult::kNotStored);
  EXPECT_EQ(put(s(), "k", "x", Mode::kPrepend), StoreResult::kNotStored);
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
  RelTime exp = clock_.expiry_from_protocol(100);
  EXPECT_EQ(put(s(), "k", "mid", Mode::kSet, 5, exp), StoreResult::kStored);
  uint64_t cas1 = get(s(), "k").cas;
  uint64_t cas_out = 0;
  EXPECT_EQ(put(s(), "k", "END", Mode::kAppend, 9, 0, 0, &cas_out), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", "start", Mode::kPrepend, 11, clock_.expiry_from_protocol(5)),
            StoreResult::kStored);
  Got g = get(s(), "k");
  EXPECT_EQ(g.value, "startmidEND");
  EXPECT_EQ(g.flags, 5u);
  EXPECT_EQ(g.exptime, exp);
  EXPECT_GT(cas_out, cas1);
  EXPECT_GT(g.cas, cas_out);
  EXPECT_EQ(s().stats().curr_items, 1u);
}

TEST_F(StoreTest, AppendWithCas) {
  uint64_t cas = 0;
  EXPECT_EQ(put(s(), "k", "a", Mode::kSet, 0, 0, 0, &cas), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", "b", Mode::kAppend, 0, 0, cas + 100), StoreResult::kExists);
  EXPECT_EQ(put(s(), "k", "b", Mode::kAppend, 0, 0, cas), StoreResult::kStored);
  EXPECT_EQ(get(s(), "k").value, "ab");
}

TEST_F(StoreTest, AppendBeyondItemSizeMaxIsNotStored) {
  Config c;
  c.item_size_max = 1024;
  make(c);
  std::string big(900, 'x');
  EXPECT_EQ(put(s(), "k", big), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", std::string(200, 'y'), Mode::kAppend), StoreResult::kNotStored);
  EXPECT_EQ(get(s(), "k").value, big);
}

TEST_F(StoreTest, CasMatrix) {
  EXPECT_EQ(put(s(), "k", "a", Mode::kCas, 0, 0, 1), StoreResult::kNotFound);
  uint64_t cas = 0;
  EXPECT_EQ(put(s(), "k", "a", Mode::kSet, 0, 0, 0, &cas), StoreResult::kStored);
  EXPECT_EQ(put(s(), "k", "b", Mode::kCas, 0, 0, cas + 1), StoreResult::kExists);
  EXPECT_EQ(put(s(), "k", "b", Mode::kCas, 0, 0, 0), StoreResult::kExists);
  uint64_t cas2 = 0;
  EXPECT_EQ(put(s(), "k", "b", Mode::kCas, 0, 0, cas, &cas2), StoreResult::kStored);
  EXPECT_NE(cas2, cas);
  EXPECT_EQ(get(s(), "k").value, "b");
  // The old CAS is now stale.
  EXPECT_EQ(put(s(), "k", "c", Mode::kCas, 0, 0, cas), StoreResult::kExists);
  EXPECT_EQ(get(s(), "k").cas, cas2);
}

TEST_F(StoreTest, CasIdsStartAtOneAndIncrease) {
  uint64_t c1 = 0, c2 = 0, c3 = 0;
  EXPECT_EQ(put(s(), "a", "1", Mode::kSet, 0, 0, 0, &c1), StoreResult::kStored);
  EXPECT_EQ(c1, 1u);
  EXPECT_EQ(put(s(), "b", "1", Mode::kSet, 0, 0, 0, &c2), StoreResult::kStored);
  EXPECT_EQ(put(s(), "a", "2", Mode::kSet, 0, 0, 0, &c3), StoreResult::kStored);
  EXPECT_LT(c1, c2);
  EXPECT_LT(c2, c3);
  EXPECT_EQ(get(s(), "a").cas, c3);
  uint64_t r = 0, c4 = 0;
  EXPECT_EQ(put(s(), "n", "1"), StoreResult::kStored);
  EXPECT_EQ(s().delta("n", true, 1, &r, &c4), DeltaStatus::kOk);
  EXPECT_GT(c4, c3);
  EXPECT_EQ(get(s(), "n").cas, c4);
}

TEST_F(StoreTest, DeltaComparesCas) {
  uint64_t c1 = 0, r = 0, c2 = 0;
  ASSERT_EQ(put(s(), "n", "10", Mode::kSet, 0, 0, 0, &c1), StoreResult::kStored);
  EXPECT_EQ(s().delta("n", true, 1, &r, &c2, c1 + 1), DeltaStatus::kExists);
  EXPECT_EQ(get(s(), "n").value, "10");
  EXPECT_EQ(s().delta("n", true, 1, &r, &c2, c1), DeltaStatus::kOk);
  EXPECT_EQ(r, 11u);
  EXPECT_EQ(s().delta("n", false, 1, &r, nullptr, c1), DeltaStatus::kExists);  // now stale
  EXPECT_EQ(s().delta("n", false, 1, &r, nullptr, c2), DeltaStatus::kOk);
  EXPECT_EQ(s().delta("gone", true, 1, &r, nullptr, c2), DeltaStatus::kNotFound);
}

// memcached's do_add_delta: an empty value is non-numeric before the CAS is compared; a
// non-numeric value with a wrong CAS is a CAS mismatch (found by tests/compat/difffuzz.py).
TEST_F(StoreTest, DeltaEmptyValueIsNonNumericBeforeCasCompare) {
  uint64_t c1 = 0, r = 0;
  ASSERT_EQ(put(s(), "e", "", Mode::kSet, 0, 0, 0, &c1), StoreResult::kStored);
  EXPECT_EQ(s().delta("e", true, 1, &r, nullptr, c1 + 5), DeltaStatus::kNonNumeric);
  ASSERT_EQ(put(s(), "w", "abc", Mode::kSet, 0, 0, 0, &c1), StoreResult::kStored);
  EXPECT_EQ(s().delta("w", true, 1, &r, nullptr, c1 + 5), DeltaStatus::kExists);
  EXPECT_EQ(s().delta("w", true, 1, &r, nullptr, c1), DeltaStatus::kNonNumeric);
}

// An item stored without an expiry time has no room for one; giving it one moves it to a copy
// that keeps its value, flags, CAS and read state.
TEST_F(StoreTest, ExpiryAddedLaterMovesTheItem) {
  uint64_t cas = 0;
  ASSERT_EQ(put(s(), "t", "value", Mode::kSet, 7, 0, 0, &cas), StoreResult::kStored);
  ASSERT_EQ(put(s(), "g", "gv", Mode::kSet, 0, 0), StoreResult::kStored);
  ASSERT_EQ(put(s(), "m", "mv", Mode::kSet, 0, 0), StoreResult::kStored);
  ASSERT_EQ(put(s(), "d", "dv", Mode::kSet, 0, 0), StoreResult::kStored);
  const RelTime exp = clock_.expiry_from_protocol(10);
  EXPECT_TRUE(s().touch("t", exp));
  Got t = get(s(), "t");
  EXPECT_EQ(t.value, "value");
  EXPECT_EQ(t.flags, 7u);
  EXPECT_EQ(t.cas, cas);
  EXPECT_EQ(t.exptime, exp);
  EXPECT_EQ(s().get_and_touch("g", exp, [](const ItemView& v) { EXPECT_EQ(v.value, "gv"); }),
            Lookup::kHit);
  MetaGetOptions mo;
  mo.set_ttl = true;
  mo.ttl = exp;
  EXPECT_EQ(s().meta_get("m", mo, [&](const ItemView& v) { EXPECT_EQ(v.exptime, exp); }),
            Lookup::kHit);
  MetaDeleteOptions dopts;
  dopts.invalidate = dopts.set_ttl = true;
  dopts.ttl = exp;
  EXPECT_EQ(s().meta_delete("d", dopts), MetaDeleteResult::kDeleted);
  EXPECT_EQ(get(s(), "d").exptime, exp);
  EXPECT_TRUE(s().touch("t", 0));  // back to never: stays in place
  EXPECT_EQ(get(s(), "t").exptime, 0u);
  EXPECT_EQ(s().stats().curr_items, 4u);
  EXPECT_EQ(s().stats().total_items, 4u);  // a move is not a store
  clock_.advance_for_testing(10);
  EXPECT_EQ(get(s(), "g").result, Lookup::kExpired);
  EXPECT_EQ(get(s(), "m").result, Lookup::kExpired);
  EXPECT_EQ(get(s(), "d").result, Lookup::kExpired);
  EXPECT_EQ(get(s(), "t").result, Lookup::kHit);
}

TEST_F(StoreTest, TouchWorksWhenFullWithoutEviction) {
  Config c;
  c.memory_limit = 1u << 20;
  c.evict = false;
  make(c);
  int n = 0;
  while (put(s(), "k" + std::to_string(n), std::string(900, 'v')) == StoreResult::kStored) ++n;
  ASSERT_GT(n, 500);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(s().touch("k" + std::to_string(i), clock_.expiry_from_protocol(100))) << i;
  }
}

TEST_F(StoreTest, NoCasMeansZero) {
  Config c;
  c.use_cas = false;
  make(c);
  uint64_t cas = 99;
  EXPECT_EQ(put(s(), "a", "1", Mode::kSet, 0, 0, 0, &cas), StoreResult::kStored);
  EXPECT_EQ(cas, 0u);
  EXPECT_EQ(get(s(), "a").cas, 0u);
  uint64_t r = 0;
  EXPECT_EQ(s().delta("a", true, 1, &r, &cas), DeltaStatus::kOk);
  EXPECT_EQ(cas, 0u);
}

TEST_F(StoreTest, SizeRuleEdges) {
  Config c;
  c.item_size_max = 1 << 20;
  make(c);
  NewItem it;
  EXPECT_TRUE(s().size_ok(1, 0, 1048516));
  EXPECT_FALSE(s().size_ok(1, 0, 1048517));
  EXPECT_TRUE(s().size_ok(1, 1, 1048512));
  EXPECT_FALSE(s().size_ok(1, 1, 1048513));
  EXPECT_TRUE(s().size_ok(250, 0, 1048267));
  EXPECT_FALSE(s().size_ok(250, 0, 1048268));
  EXPECT_EQ(s().allocate("a", 0, 0, 1048516, &it), AllocStatus::kOk);
  EXPECT_EQ(it.value_size(), 1048516u);
  EXPECT_EQ(s().allocate("a", 0, 0, 1048517, &it), AllocStatus::kTooLarge);
  EXPECT_FALSE(it);
  EXPECT_EQ(s().allocate("a", 1, 0, 1048513, &it), AllocStatus::kTooLarge);
  EXPECT_EQ(s().allocate(std::string(250, 'k'), 0, 0, 1048267, &it), AllocStatus::kOk);
  EXPECT_EQ(s().allocate(std::string(250, 'k'), 0, 0, 1048268, &it), AllocStatus::kTooLarge);

  c.use_cas = false;  // -C frees the 8 CAS bytes
  make(c);
  EXPECT_TRUE(s().size_ok(1, 0, 1048524));
  EXPECT_FALSE(s().size_ok(1, 0, 1048525));
  EXPECT_FALSE(s().size_ok(1, 0, SIZE_MAX));
}

TEST_F(StoreTest, DroppedNewItemReturnsItsMemory) {
  const uint64_t base = s().stats().bytes;
  {
    NewItem it;
    ASSERT_EQ(s().allocate("k", 0, 0, 1000, &it), AllocStatus::kOk);
    NewItem moved = std::move(it);
    EXPECT_FALSE(it);
    EXPECT_TRUE(moved);
  }
  EXPECT_EQ(s().stats().bytes, base);
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
  // Abandoned bytes are reclaimed: even with eviction off, 8x the limit of dropped items fits.
  Config c;
  c.memory_limit = 1u << 20;
  c.evict = false;
  make(c);
  for (int i = 0; i < 8000; ++i) {
    NewItem dropped;
    ASSERT_EQ(s().allocate("k" + std::to_string(i), 0, 0, 1000, &dropped), AllocStatus::kOk) << i;
  }
  EXPECT_EQ(put(s(), "after", "v"), StoreResult::kStored);
  EXPECT_EQ(s().stats().evictions, 0u);
}

TEST_F(StoreTest, RelativeExpiry) {
  EXPECT_EQ(put(s(), "k", "v", Mode::kSet, 0, clock_.expiry_from_protocol(10)),
            StoreResult::kStored);
  clock_.advance_for_testing(9);
  EXPECT_EQ(get(s(), "k").result, Lookup::kHit);
  clock_.advance_for_testing(1);
  EXPECT_EQ(get(s(), "k").result, Lookup::kExpired);
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
  EXPECT_EQ(s().stats().curr_items, 0u);
}

TEST_F(StoreTest, AbsoluteAndNegativeExpiry) {
  RelTime abs = clock_.expiry_from_protocol(clock_.unix_now() + 5);
  EXPECT_EQ(put(s(), "abs", "v", Mode::kSet, 0, abs), StoreResult::kStored);
  EXPECT_EQ(put(s(), "neg", "v", Mode::kSet, 0, clock_.expiry_from_protocol(-1)),
            StoreResult::kStored);
  EXPECT_EQ(get(s(), "neg").result, Lookup::kExpired);
  EXPECT_EQ(get(s(), "abs").result, Lookup::kHit);
  clock_.advance_for_testing(5);
  EXPECT_EQ(get(s(), "abs").result, Lookup::kExpired);
}

TEST_F(StoreTest, ExpiredItemsAreAbsentForEveryCommand) {
  RelTime exp = clock_.expiry_from_protocol(1);
  for (const char* k : {"a", "r", "c", "t", "d", "n", "p"}) {
    ASSERT_EQ(put(s(), k, "1", Mode::kSet, 0, exp), StoreResult::kStored);
  }
  uint64_t cas = get(s(), "c").cas;
  clock_.advance_for_testing(1);
  EXPECT_EQ(put(s(), "a", "2", Mode::kAdd), StoreResult::kStored);
  EXPECT_EQ(put(s(), "r", "2", Mode::kReplace), StoreResult::kNotStored);
  EXPECT_EQ(put(s(), "c", "2", Mode::kCas, 0, 0, cas), StoreResult::kNotFound);
  EXPECT_FALSE(s().touch("t", 0));
  EXPECT_FALSE(s().remove("d"));
  uint64_t r;
  EXPECT_EQ(s().delta("n", true, 1, &r), DeltaStatus::kNotFound);
  EXPECT_EQ(put(s(), "p", "2", Mode::kAppend), StoreResult::kNotStored);
}

TEST_F(StoreTest, TouchAndGetAndTouch) {
  EXPECT_FALSE(s().touch("k", 0));
  EXPECT_EQ(put(s(), "k", "v", Mode::kSet, 0, clock_.expiry_from_protocol(2)),
            StoreResult::kStored);
  EXPECT_TRUE(s().touch("k", clock_.expiry_from_protocol(100)));
  clock_.advance_for_testing(10);
  EXPECT_EQ(get(s(), "k").result, Lookup::kHit);
  Got g;
  RelTime e = clock_.expiry_from_protocol(3);
  Lookup r = s().get_and_touch(
      "k", e, [&](const ItemView& v) { g = testing::copy_view(Lookup::kHit, &v); });
  EXPECT_EQ(r, Lookup::kHit);
  EXPECT_EQ(g.exptime, e);
  EXPECT_EQ(g.value, "v");
  clock_.advance_for_testing(3);
  EXPECT_EQ(get(s(), "k").result, Lookup::kExpired);
  EXPECT_EQ(s().get_and_touch("k", 0, [](const ItemView&) { FAIL(); }), Lookup::kMiss);
}

TEST_F(StoreTest, FetchedAndLastAccess) {
  EXPECT_EQ(put(s(), "k", "v"), StoreResult::kStored);
  RelTime t0 = clock_.now();
  Got g = get(s(), "k");
  EXPECT_FALSE(g.fetched);
  EXPECT_EQ(g.last_access, t0);
  EXPECT_TRUE(get(s(), "k").fetched);
  // Within the update interval the access time stays; beyond it, it moves.
  clock_.advance_for_testing(30);
  get(s(), "k");
  EXPECT_EQ(get(s(), "k").last_access, t0);
  clock_.advance_for_testing(31);
  get(s(), "k");
  EXPECT_EQ(get(s(), "k").last_access, t0 + 61);
  // incr is not a read.
  EXPECT_EQ(put(s(), "n", "1"), StoreResult::kStored);
  uint64_t r;
  EXPECT_EQ(s().delta("n", true, 1, &r), DeltaStatus::kOk);
  EXPECT_FALSE(get(s(), "n").fetched);
}

TEST_F(StoreTest, Remove) {
  EXPECT_FALSE(s().remove("k"));
  EXPECT_EQ(put(s(), "k", "v"), StoreResult::kStored);
  EXPECT_TRUE(s().remove("k"));
  EXPECT_FALSE(s().remove("k"));
  EXPECT_EQ(get(s(), "k").result, Lookup::kMiss);
}

TEST_F(StoreTest, FlushNowWithSameSecondCasRule) {
  clock_.advance_for_testing(5);
  EXPECT_EQ(put(s(), "old", "v"), StoreResult::kStored);
  clock_.advance_for_testing(1);
  EXPECT_EQ(put(s(), "same_second", "v"), StoreResult::kStored);
  s().flush(0);
  // Stored in the flush's own second, after it: the CAS cut-off lets it live.
  EXPECT_EQ(put(s(), "after", "v"), StoreResult::kStored);
  EXPECT_EQ(get(s(), "old").result, Lookup::kFlushed);
  EXPECT_EQ(get(s(), "same_second").result, Lookup::kFlushed);
  EXPECT_EQ(get(s(), "after").result, Lookup::kHit);
  EXPECT_EQ(put(s(), "same_second", "v", Mode::kAdd), StoreResult::kStored);
  clock_.advance_for_testing(100);
  EXPECT_EQ(get(s(), "after").result, Lookup::kHit);
}

TEST_F(StoreTest, FlushWithoutCasTakesTheWholeSecond) {
  Config c;
  c.use_cas = false;
  make(c);
  EXPECT_EQ(put(s(), "before", "v"), StoreResult::kStored);
  s().flush(0);
  EXPECT_EQ(put(s(), "same_second", "v"), StoreResult::kStored);
  EXPECT_EQ(get(s(), "before").result, Lookup::kFlushed);
  EXPECT_EQ(get(s(), "same_second").result, Lookup::kFlushed);
  clock_.advance_for_testing(1);
  EXPECT_EQ(put(s(), "next_second", "v"), StoreResult::kStored);
  EXPECT_EQ(get(s(), "next_second").result, Lookup::kHit);
}

TEST_F(StoreTest, DelayedFlush) {
  EXPECT_EQ(put(s(), "k", "v"), StoreResult::kStored);
  s().flush(clock_.now() + 10);
  clock_.advance_for_testing(5);
  EXPECT_EQ(put(s(), "k2", "v"), StoreResult::kStored);
  clock_.advance_for_testing(3);
  EXPECT_EQ(get(s(), "k").result, Lookup::kHit);
  clock_.advance_for_testing(1);  // now == when - 1 == oldest_live: the flush is in effect
  EXPECT_EQ(get(s(), "k").result, Lookup::kFlushed);
  EXPECT_EQ(get(s(), "k2").result, Lookup::kFlushed);
  clock_.advance_for_testing(2);
  EXPECT_EQ(put(s(), "k3", "v"), StoreResult::kStored);
  EXPECT_EQ(get(s(), "k3").result, Lookup::kHit);
}

// An item keeps only the low 16 bits of its time, so flush_all must not depend on the time of
// items older than 2^16 seconds: the CAS cut-off covers them, for a flush now or a delayed one.
// The steps are chosen so that such an item's time reads as the present (after the cut-off).
TEST_F(StoreTest, FlushCoversItemsOlderThanTheirTimeField) {
  for (bool use_cas : {true, false}) {
    Config c;
    c.use_cas = use_cas;
    make(c);
    EXPECT_EQ(put(s(), "ancient", "v"), StoreResult::kStored);
    clock_.advance_for_testing(65536);
    s().flush(0);
    EXPECT_EQ(get(s(), "ancient").result, Lookup::kFlushed) << use_cas;
    clock_.advance_for_testing(1);
    EXPECT_EQ(put(s(), "after", "v"), StoreResult::kStored);
    clock_.advance_for_testing(2 * 65536);  // "after" is older than its time field can tell
    EXPECT_EQ(get(s(), "after").result, Lookup::kHit) << use_cas;

    EXPECT_EQ(put(s(), "old", "v"), StoreResult::kStored);
    clock_.advance_for_testing(65536 - 11);
    s().flush(clock_.now() + 10);
    clock_.advance_for_testing(5);
    EXPECT_EQ(put(s(), "during", "v"), StoreResult::kStored);  // (a read would bump "old")
    clock_.advance_for_testing(6);  // past the flush's second: the first lookup sets the cut-off
    EXPECT_EQ(get(s(), "old").result, Lookup::kFlushed) << use_cas;
    EXPECT_EQ(get(s(), "during").result, Lookup::kFlushed) << use_cas;
    EXPECT_EQ(put(s(), "later", "v"), StoreResult::kStored);
    clock_.advance_for_testing(65536);
    EXPECT_EQ(get(s(), "later").result, Lookup::kHit) << use_cas;
  }
}

// A delayed flush whose second passes with no lookup: the first store after it sets the cut-off
// before taking its own CAS, so it survives and everything before it goes.
TEST_F(StoreTest, DelayedFlushCutOffTakenByTheNextStore) {
  EXPECT_EQ(put(s(), "old", "v"), StoreResult::kStored);
  clock_.advance_for_testing(65536 - 10);
  s().flush(clock_.now() + 3);
  clock_.advance_for_testing(10);
  EXPECT_EQ(put(s(), "new", "v"), StoreResult::kStored);
  EXPECT_EQ(get(s(), "new").result, Lookup::kHit);
  EXPECT_EQ(get(s(), "old").result, Lookup::kFlushed);
}

// Values of 4 MiB and more carry their length in an extra field, before the expiry time and
// flags: every combination reads back, and append and touch move them intact.
TEST_F(StoreTest, LongValuesWithEveryOptionalField) {
  Config c;
  c.item_size_max = 16u << 20;
  c.memory_limit = 256u << 20;
  make(c);
  const std::string big((4u << 20) + 3, 'x');
  const std::string edge((4u << 20) - 1, 'e');  // exactly Item::kLongValue bytes
  for (uint32_t flags : {0u, 7u}) {
    for (RelTime exptime : {RelTime{0}, clock_.now() + 100}) {
      for (const std::string* v : {&big, &edge}) {
        const std::string key = "big" + std::to_string(flags) + "_" + std::to_string(exptime);
        ASSERT_EQ(put(s(), key, *v, Mode::kSet, flags, exptime), StoreResult::kStored);
        Got g = get(s(), key);
        ASSERT_EQ(g.result, Lookup::kHit);
        EXPECT_EQ(g.value, *v);
        EXPECT_EQ(g.flags, flags);
        EXPECT_EQ(g.exptime, exptime);
      }
    }
  }
  ASSERT_EQ(put(s(), "big0_0", "tail", Mode::kAppend), StoreResult::kStored);
  EXPECT_TRUE(s().touch("big0_0", clock_.now() + 50));  // moves it to a copy with the field
  Got g = get(s(), "big0_0");
  EXPECT_EQ(g.value, edge + "tail");
  EXPECT_EQ(g.exptime, clock_.now() + 50);
}

TEST_F(StoreTest, IncrDecr) {
  uint64_t r = 0;
  EXPECT_EQ(s().delta("n", true, 1, &r), DeltaStatus::kNotFound);
  EXPECT_EQ(put(s(), "n", "5", Mode::kSet, 42), StoreResult::kStored);
  EXPECT_EQ(s().delta("n", true, 3, &r), DeltaStatus::kOk);
  EXPECT_EQ(r, 8u);
  EXPECT_EQ(s().delta("n", false, 10, &r), DeltaStatus::kOk);
  EXPECT_EQ(r, 0u);
  EXPECT_EQ(get(s(), "n").value, "0");

  EXPECT_EQ(put(s(), "p", "100"), StoreResult::kStored);
  EXPECT_EQ(s().delta("p", false, 1, &r), DeltaStatus::kOk);
  EXPECT_EQ(get(s(), "p").value, "99 ");
  EXPECT_EQ(s().delta("p", true, 1, &r), DeltaStatus::kOk);
  EXPECT_EQ(get(s(), "p").value, "100");

  EXPECT_EQ(put(s(), "w", "18446744073709551615"), StoreResult::kStored);
  EXPECT_EQ(s().delta("w", true, 2, &r), DeltaStatus::kOk);
  EXPECT_EQ(r, 1u);
  EXPECT_EQ(get(s(), "w").value, "1                   ");
  EXPECT_EQ(s().delta("w", true, 9, &r), DeltaStatus::kOk);
  EXPECT_EQ(r, 10u);
}

TEST_F(StoreTest, IncrGrowthKeepsFlagsAndExptime) {
  RelTime exp = clock_.expiry_from_protocol(100);
  EXPECT_EQ(put(s(), "n", "99", Mode::kSet, 17, exp), StoreResult::kStored);
  uint64_t r = 0, cas = 0;
  EXPECT_EQ(s().delta("n", true, 1, &r, &cas), DeltaStatus::kOk);
  EXPECT_EQ(r, 100u);
  Got g = get(s(), "n");
  EXPECT_EQ(g.value, "100");
  EXPECT_EQ(g.flags, 17u);
  EXPECT_EQ(g.exptime, exp);
  EXPECT_EQ(g.cas, cas);
  EXPECT_EQ(s().delta("n", true, 18446744073709551515ull, &r), DeltaStatus::kOk);
  EXPECT_EQ(r, 18446744073709551615ull);
  EXPECT_EQ(get(s(), "n").value, "18446744073709551615");
  EXPECT_EQ(s().stats().curr_items, 1u);
}

TEST_F(StoreTest, IncrNonNumeric) {
  uint64_t r;
  for (const char* v : {"", "abc", "12abc", "-1", "18446744073709551616", "1.5"}) {
    ASSERT_EQ(put(s(), "n", v), StoreResult::kStored);
    EXPECT_EQ(s().delta("n", true, 1, &r), DeltaStatus::kNonNumeric) << "value '" << v << "'";
  }
  ASSERT_EQ(put(s(), "n", "12 "), StoreResult::kStored);  // trailing whitespace is allowed
  EXPECT_EQ(s().delta("n", true, 1, &r), DeltaStatus::kOk);
  EXPECT_EQ(get(s(), "n").value, "13 ");
}

TEST_F(StoreTest, ReclaimExpired) {
  RelTime exp = clock_.expiry_from_protocol(10);
  for (int i = 0; i < 300; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_EQ(put(s(), k, "v", Mode::kSet, 0, i % 3 == 0 ? exp : 0), StoreResult::kStored);
  }
  get(s(), "k0");  // one fetched item: not "unfetched" when it expires
  EXPECT_EQ(s().reclaim_expired(1 << 20), 0u);
  clock_.advance_for_testing(10);
  size_t freed = 0;
  for (int i = 0; i < 100 && freed < 100; ++i) freed += s().reclaim_expired(1000);
  EXPECT_EQ(freed, 100u);
  Stats st = s().stats();
  EXPECT_EQ(st.curr_items, 200u);
  EXPECT_EQ(st.crawler_reclaimed, 100u);
  EXPECT_EQ(st.reclaimed, 100u);
  EXPECT_EQ(st.expired_unfetched, 99u);
  EXPECT_GE(st.crawler_items_checked, 300u);
  EXPECT_EQ(get(s(), "k1").result, Lookup::kHit);
  s().reset_stats();
  st = s().stats();
  EXPECT_EQ(st.total_items, 0u);
  EXPECT_EQ(st.reclaimed, 0u);
  EXPECT_EQ(st.crawler_reclaimed, 0u);
  EXPECT_EQ(st.crawler_items_checked, 0u);
  EXPECT_EQ(st.curr_items, 200u);
}

TEST_F(StoreTest, ReclaimTakesFlushedItems) {
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(put(s(), "k" + std::to_string(i), "v"), StoreResult::kStored);
  s().flush(0);
  size_t freed = 0;
  for (int i = 0; i < 100 && freed < 50; ++i) freed += s().reclaim_expired(1000);
  EXPECT_EQ(freed, 50u);
  EXPECT_EQ(s().stats().curr_items, 0u);
}

TEST_F(StoreTest, StatsBasics) {
  Stats st = s().stats();
  EXPECT_EQ(st.limit_maxbytes, Config{}.memory_limit);
  EXPECT_GT(st.hash_bytes, 0u);
  EXPECT_EQ(st.bytes, st.hash_bytes);
  EXPECT_EQ(st.hash_power_level, 12u);  // 256 shards x 16 slots
  size_t item_bytes = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "k" + std::to_string(i);
    ASSERT_EQ(put(s(), key, "v"), StoreResult::kStored);
    item_bytes += 13 + key.size() + 1;  // header, key, value: no flags, no expiry
  }
  st = s().stats();
  EXPECT_EQ(st.curr_items, 10000u);
  EXPECT_EQ(st.total_items, 10000u);
  EXPECT_GE(st.hash_power_level, 13u);
  EXPECT_EQ(st.bytes, st.hash_bytes + item_bytes);
  EXPECT_EQ(st.evictions, 0u);
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(s().remove("k" + std::to_string(i)));
  st = s().stats();
  EXPECT_EQ(st.curr_items, 0u);
  EXPECT_EQ(st.bytes, st.hash_bytes);
}

TEST_F(StoreTest, BinaryKeysAndValues) {
  std::string key("a\0b", 3), val("x\0y\r\n", 5);
  EXPECT_EQ(put(s(), key, val), StoreResult::kStored);
  EXPECT_EQ(get(s(), key).value, val);
  EXPECT_EQ(get(s(), std::string("a\0c", 3)).result, Lookup::kMiss);
  EXPECT_EQ(get(s(), "a").result, Lookup::kMiss);
}

}  // namespace
}  // namespace memshield::store

namespace memshield::store {
namespace {

// Items keep 48 bits of their CAS; the rest comes from the counter, across 2^48 boundaries.
TEST(ItemTime, FullTimeFromLow16Bits) {
  Item it{};
  it.set_time(1000);
  EXPECT_EQ(it.time(1000), 1000u);
  EXPECT_EQ(it.time(66535), 1000u);  // 65535 seconds later: still exact
  EXPECT_EQ(it.time(66536), 66536u);  // 2^16 later: reads as now
  it.set_time(70000);
  EXPECT_EQ(it.time(70005), 70000u);
  EXPECT_EQ(it.time(131071), 70000u);  // crosses a multiple of 2^16
}

TEST(ItemCas, FullValueFromLow48Bits) {
  constexpr uint64_t k48 = uint64_t{1} << 48;
  EXPECT_EQ(cas_from_low48(7, 9), 7u);
  EXPECT_EQ(cas_from_low48(9, 9), 9u);
  EXPECT_EQ(cas_from_low48(k48 - 3, k48 + 5), k48 - 3);
  EXPECT_EQ(cas_from_low48(2, k48 + 5), k48 + 2);
  EXPECT_EQ(cas_from_low48((5 * k48 + 11) & (k48 - 1), 5 * k48 + 40), 5 * k48 + 11);
  EXPECT_EQ(cas_from_low48(0, 0), 0u);
}

// issue_183: a store that finds its key's item flushed (or expired) takes its place and counts
// it as reclaimed.
TEST_F(StoreTest, StoreOverFlushedItemCountsReclaimed) {
  EXPECT_EQ(put(s(), "key", "1"), StoreResult::kStored);
  EXPECT_EQ(s().stats().reclaimed, 0u);
  s().flush(0);
  EXPECT_EQ(put(s(), "key", "1"), StoreResult::kStored);
  EXPECT_EQ(s().stats().reclaimed, 1u);
  EXPECT_EQ(put(s(), "key", "2"), StoreResult::kStored);  // a live item: nothing reclaimed
  EXPECT_EQ(s().stats().reclaimed, 1u);
}

// Key dumps walk the store a shard at a time and see every live item once, and no dead one.
TEST_F(StoreTest, ShardWalkVisitsEveryLiveItemOnce) {
  for (int i = 0; i < 1000; ++i) put(s(), "k" + std::to_string(i), "v");
  NewItem it;
  ASSERT_EQ(s().allocate("gone", 0, clock_.now() + 1, 1, &it), AllocStatus::kOk);
  size_t filled = 0;
  it.fill(&filled, "x");
  ASSERT_EQ(s().store(std::move(it), Mode::kSet, 0), StoreResult::kStored);
  clock_.advance_for_testing(2);
  std::set<std::string> seen;
  size_t visits = 0;
  for (size_t sh = 0; sh < s().shard_count(); ++sh) {
    s().for_each_in_shard(sh, [&](const ItemView& v) {
      seen.insert(std::string(v.key));
      ++visits;
      EXPECT_EQ(v.value, "v");
      return true;
    });
  }
  EXPECT_EQ(visits, 1000u);
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(seen.count("gone"), 0u);
  size_t stopped = 0;
  s().for_each_in_shard(0, [&](const ItemView&) { return ++stopped < 1; });
  EXPECT_LE(stopped, 1u);
}

// `lru_crawler crawl`: one pass over a shard frees its expired items and counts them as the
// crawler's; tocrawl bounds how many items a pass examines.
TEST_F(StoreTest, CrawlOfEveryShardReclaimsExpiredItems) {
  for (int i = 0; i < 300; ++i) put(s(), "live" + std::to_string(i), "v");
  for (int i = 0; i < 200; ++i) {
    NewItem it;
    ASSERT_EQ(s().allocate("short" + std::to_string(i), 0, clock_.now() + 1, 1, &it),
              AllocStatus::kOk);
    size_t filled = 0;
    it.fill(&filled, "x");
    ASSERT_EQ(s().store(std::move(it), Mode::kSet, 0), StoreResult::kStored);
  }
  clock_.advance_for_testing(2);
  EXPECT_EQ(s().stats().curr_items, 500u);
  size_t checked_one = 0;
  s().reclaim_in_shard(0, 1, &checked_one);
  EXPECT_LE(checked_one, 1u);
  size_t freed = 0;
  for (size_t sh = 0; sh < s().shard_count(); ++sh) freed += s().reclaim_in_shard(sh);
  const Stats st = s().stats();
  EXPECT_EQ(st.curr_items, 300u);
  EXPECT_EQ(st.crawler_reclaimed, 200u);
  EXPECT_EQ(st.reclaimed, 200u);
  EXPECT_EQ(st.expired_unfetched, 200u);
  EXPECT_GE(st.crawler_items_checked, 500u);
  EXPECT_EQ(get(s(), "live7").result, Lookup::kHit);
}

// metadump's size= and stats sizes use memcached's item size.
TEST_F(StoreTest, ItemTotalIsMemcachedsItemSize) {
  EXPECT_EQ(s().item_total(1, 0, 1), 61u);        // key "a", value "x": memcached says 61
  EXPECT_EQ(s().item_total(28, 5, 1), 92u);       // flags add 4 bytes
  EXPECT_EQ(s().item_total(1, 0, 100), 160u);
}

}  // namespace
}  // namespace memshield::store
