// Concurrency stress: threads mixing set/get/delete/incr/append on a small keyspace under a tight
// memory limit, with a reclaimer and occasional flush running alongside; afterwards the byte
// count, item count and every surviving value must still be consistent.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "store_test_util.h"

namespace memshield::store {
namespace {

using testing::get;
using testing::put;

// A value that proves which key it belongs to: "<key>|" then a filler of one letter derived
// from the key, of a random length.
std::string value_for(const std::string& key, size_t len) {
  std::string v = key + "|";
  v.append(len, static_cast<char>('a' + key.size() % 26));
  return v;
}

bool value_ok(const std::string& key, std::string_view v) {
  if (v.size() < key.size() + 1 || v.substr(0, key.size()) != key || v[key.size()] != '|') {
    return false;
  }
  char c = static_cast<char>('a' + key.size() % 26);
  for (char x : v.substr(key.size() + 1)) {
    if (x != c) return false;
  }
  return true;
}

bool numeric_ok(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && v[i] >= '0' && v[i] <= '9') ++i;
  if (i == 0) return false;
  while (i < v.size() && v[i] == ' ') ++i;
  return i == v.size();
}

TEST(StoreConcurrency, MixedStressKeepsInvariants) {
  Clock clock;
  Config c;
  c.memory_limit = 512u << 10;
  c.shards_log2 = 4;
  Store s(c, clock);
  constexpr int kThreads = 4;
  constexpr int kOps = 200000;
  constexpr int kKeys = 4000;
  std::atomic<bool> bad{false};
  std::atomic<bool> done{false};

  std::thread reclaimer([&] {
    while (!done.load()) {
      s.reclaim_expired(512);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(1234 + t);
      for (int op = 0; op < kOps && !bad.load(std::memory_order_relaxed); ++op) {
        uint32_t r = rng();
        int k = static_cast<int>(r % kKeys);
        std::string key = (k % 8 == 0 ? "num:" : k % 8 == 1 ? "app:" : "str:") + std::to_string(k);
        switch ((r >> 16) % 10) {
          case 0:
          case 1:
          case 2: {
            if (key[0] == 'n') {
              put(s, key, std::to_string(rng() % 1000));
            } else if (key[0] == 'a') {
              put(s, key, "x");
            } else {
              put(s, key, value_for(key, rng() % 600), Mode::kSet, 0,
                  (r & 0x80000000u) ? clock.now() + 1 : 0);
            }
            break;
          }
          case 3:
            s.remove(key);
            break;
          case 4: {
            uint64_t v;
            DeltaStatus d = s.delta(key, (r & 1) != 0, rng() % 1000, &v);
            if (key[0] == 'n' && d == DeltaStatus::kNonNumeric) bad = true;
            if (key[0] == 's' && d == DeltaStatus::kOk) bad = true;
            break;
          }
          case 5:
            if (key[0] == 'a') put(s, key, "x", Mode::kAppend);
            break;
          default: {
            s.get(key, [&](const ItemView& v) {
              bool ok = key[0] == 'n'   ? numeric_ok(v.value)
                        : key[0] == 'a' ? v.value.find_first_not_of('x') == std::string_view::npos
                                        : value_ok(key, v.value);
              if (!ok || v.key != key) bad = true;
            });
          }
        }
        if (t == 0 && op % 50000 == 49999) clock.advance_for_testing(1);
        if (t == 1 && op == kOps / 2) s.flush(0);
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  reclaimer.join();
  ASSERT_FALSE(bad.load());

  Stats st = s.stats();
  EXPECT_LE(st.bytes, st.limit_maxbytes);
  EXPECT_GT(st.evictions, 0u);
  uint64_t found = 0;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = (k % 8 == 0 ? "num:" : k % 8 == 1 ? "app:" : "str:") + std::to_string(k);
    testing::Got g = get(s, key);
    if (g.result != Lookup::kHit) continue;
    ++found;
    if (key[0] == 'n') {
      EXPECT_TRUE(numeric_ok(g.value)) << key << "=" << g.value;
    } else if (key[0] == 's') {
      EXPECT_TRUE(value_ok(key, g.value)) << key;
    }
  }
  // Lookups dropped whatever had expired, so what is left is exactly what was found.
  EXPECT_EQ(s.stats().curr_items, found);
  // Emptying the store returns the byte count to the tables alone.
  for (int k = 0; k < kKeys; ++k) {
    s.remove((k % 8 == 0 ? "num:" : k % 8 == 1 ? "app:" : "str:") + std::to_string(k));
  }
  st = s.stats();
  EXPECT_EQ(st.curr_items, 0u);
  EXPECT_EQ(st.bytes, st.hash_bytes);
}

// Readers and writers on a handful of keys: exercises lock hand-offs and the drop-lock paths of
// append and incr growth, with each thread checking its own increments all land.
TEST(StoreConcurrency, IncrementsAreNotLost) {
  Clock clock;
  Config c;
  c.shards_log2 = 2;
  Store s(c, clock);
  ASSERT_EQ(put(s, "counter", "0"), StoreResult::kStored);
  ASSERT_EQ(put(s, "log", ""), StoreResult::kStored);
  constexpr int kThreads = 4, kOps = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      uint64_t v;
      for (int i = 0; i < kOps; ++i) {
        ASSERT_EQ(s.delta("counter", true, 1, &v), DeltaStatus::kOk);
        if (i % 20 == 0) {
          ASSERT_EQ(put(s, "log", "z", Mode::kAppend), StoreResult::kStored);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(get(s, "counter").value, std::to_string(kThreads * kOps));
  EXPECT_EQ(get(s, "log").value, std::string(kThreads * kOps / 20, 'z'));
}

// Compare-and-increment from many threads: every success saw the CAS it compared, so the
// final value equals the number of successes (no lost or doubled update).
TEST(StoreConcurrency, DeltaWithCasIsAtomic) {
  Clock clock;
  Config c;
  c.shards_log2 = 1;
  Store s(c, clock);
  uint64_t cas = 0;
  ASSERT_EQ(put(s, "n", "0", Mode::kSet, 0, 0, 0, &cas), StoreResult::kStored);
  std::atomic<uint64_t> wins{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5000; ++i) {
        uint64_t seen = get(s, "n").cas, v = 0;
        if (s.delta("n", true, 1, &v, nullptr, seen) == DeltaStatus::kOk) wins.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(get(s, "n").value, std::to_string(wins.load()));
  EXPECT_GT(wins.load(), 0u);
}

// Touches that move items (to make room for an expiry time) race with sets, appends and
// deletes of the same keys: nothing is lost or duplicated, every read sees a whole value.
TEST(StoreConcurrency, ExpiryMovesRaceWithWriters) {
  Clock clock;
  Config c;
  c.shards_log2 = 1;
  c.memory_limit = 4u << 20;
  Store s(c, clock);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 20000; ++i) {
        std::string key = "k" + std::to_string(rng() % 64);
        switch (rng() % 4) {
          case 0:
            put(s, key, std::string(10, 'a' + t));
            break;
          case 1:
            s.touch(key, (rng() & 1) ? clock.expiry_from_protocol(1000) : 0);
            break;
          case 2: {
            testing::Got g = get(s, key);
            if (g.result == Lookup::kHit) {
              ASSERT_EQ(g.value.size() % 10, 0u);
              ASSERT_EQ(g.value, std::string(g.value.size(), g.value[0]));
            }
            break;
          }
          default:
            s.remove(key);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  Stats st = s.stats();
  EXPECT_LE(st.curr_items, 64u);
}

}  // namespace
}  // namespace memshield::store
