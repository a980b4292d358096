// The per-call-site log limiter: N lines a second, then one count of what was suppressed.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/log.h"

namespace memshield::log {
namespace {

TEST(LineLimiter, AllowsNPerSecondThenSuppresses) {
  LineLimiter lim(3);
  uint64_t sup = 99;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lim.admit(100, &sup));
    EXPECT_EQ(sup, 0u);
  }
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(lim.admit(100, &sup));
  // A new second: the first line carries the count of everything refused.
  ASSERT_TRUE(lim.admit(101, &sup));
  EXPECT_EQ(sup, 1000u);
  ASSERT_TRUE(lim.admit(101, &sup));
  EXPECT_EQ(sup, 0u);
}

TEST(LineLimiter, OlderTimestampDoesNotReopenTheWindow) {
  LineLimiter lim(1);
  uint64_t sup = 0;
  EXPECT_TRUE(lim.admit(50, &sup));
  EXPECT_FALSE(lim.admit(50, &sup));
  EXPECT_FALSE(lim.admit(49, &sup));
  EXPECT_TRUE(lim.admit(51, &sup));
  EXPECT_EQ(sup, 2u);
}

TEST(LineLimiter, ZeroAllowsNothing) {
  LineLimiter lim(0);
  uint64_t sup = 0;
  EXPECT_FALSE(lim.admit(1, &sup));
  EXPECT_FALSE(lim.admit(2, &sup));
}

TEST(LineLimiter, ConcurrentFloodStaysBounded) {
  LineLimiter lim(5);
  std::atomic<int> allowed{0};
  std::atomic<uint64_t> reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        uint64_t sup = 0;
        if (lim.admit(7, &sup)) {
          allowed.fetch_add(1);
          reported.fetch_add(sup);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  // The window-opening race may let one line per racing thread through, no more.
  EXPECT_GE(allowed.load(), 5);
  EXPECT_LE(allowed.load(), 5 + 4);
  uint64_t sup = 0;
  ASSERT_TRUE(lim.admit(8, &sup));
  EXPECT_EQ(sup + reported.load(), 4u * 20000 - allowed.load());
}

TEST(LineLimiter, MacroWritesAtMostNLinesPerSecond) {
  // Smoke test of the macro path: must not crash or block under a burst.
  for (int i = 0; i < 100; ++i) MS_NOTICE_RATELIMITED(0, "INFO", 2, "limiter test line %d", i);
}

}  // namespace
}  // namespace memshield::log
