// The anti-amplification budget: exact accounting at factors 1 and 3, factor 0 never sending,
// credit expiring with the window, refusals costing nothing, the table bound, and no overspend
// when four threads receive and spend on the same addresses.
#include "security/udp_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "ip_test_util.h"

namespace memshield::security {
namespace {

// The IPv4 address whose 32 bits are i.
IpAddress v4_number(uint32_t i) {
  return v4(static_cast<uint8_t>(i >> 24), static_cast<uint8_t>(i >> 16),
            static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
}

BudgetConfig with_factor(double factor) {
  BudgetConfig c;
  c.factor = factor;
  return c;
}

TEST(AmplificationBudget, FactorOneIsExact) {
  AmplificationBudget b(with_factor(1.0));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 1.0);
  EXPECT_TRUE(b.try_spend(a, 100, 1.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));
  b.on_received(a, 10, 1.0);
  EXPECT_TRUE(b.try_spend(a, 4, 1.0));
  EXPECT_TRUE(b.try_spend(a, 6, 1.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));
}

TEST(AmplificationBudget, FactorThree) {
  AmplificationBudget b(with_factor(3.0));
  IpAddress a = ip("2001:db8::1");
  b.on_received(a, 100, 1.0);
  EXPECT_TRUE(b.try_spend(a, 200, 1.0));
  EXPECT_FALSE(b.try_spend(a, 101, 1.0));
  EXPECT_TRUE(b.try_spend(a, 100, 1.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));
}

TEST(AmplificationBudget, FractionalFactor) {
  AmplificationBudget b(with_factor(0.3));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 1000, 1.0);
  EXPECT_FALSE(b.try_spend(a, 301, 1.0));
  EXPECT_TRUE(b.try_spend(a, 300, 1.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));
}

TEST(AmplificationBudget, FactorZeroNeverSends) {
  AmplificationBudget b(with_factor(0.0));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 1 << 20, 1.0);
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));
  EXPECT_FALSE(b.try_spend(a, 0, 1.0));
  EXPECT_EQ(b.tracked_addresses(), 0u);
}

TEST(AmplificationBudget, FactorIsClamped) {
  AmplificationBudget high(with_factor(50.0));
  IpAddress a = ip("192.0.2.1");
  high.on_received(a, 100, 1.0);
  EXPECT_FALSE(high.try_spend(a, 301, 1.0));
  EXPECT_TRUE(high.try_spend(a, 300, 1.0));
  for (double bad : {-1.0, std::numeric_limits<double>::quiet_NaN()}) {
    AmplificationBudget b(with_factor(bad));
    b.on_received(a, 100, 1.0);
    EXPECT_FALSE(b.try_spend(a, 1, 1.0)) << bad;
  }
}

TEST(AmplificationBudget, UnknownAddressHasNoCredit) {
  AmplificationBudget b(with_factor(3.0));
  EXPECT_FALSE(b.try_spend(ip("192.0.2.1"), 1, 1.0));
  EXPECT_TRUE(b.try_spend(ip("192.0.2.1"), 0, 1.0));
  EXPECT_EQ(b.tracked_addresses(), 0u);  // spending never creates entries
}

TEST(AmplificationBudget, PerFullAddress) {
  AmplificationBudget b(with_factor(1.0));
  b.on_received(ip("10.0.0.1"), 100, 1.0);
  EXPECT_FALSE(b.try_spend(ip("10.0.0.2"), 1, 1.0));         // no prefix sharing
  EXPECT_TRUE(b.try_spend(ip("::ffff:10.0.0.1"), 50, 1.0));  // the same peer, mapped
  EXPECT_TRUE(b.try_spend(ip("10.0.0.1"), 50, 1.0));
  EXPECT_FALSE(b.try_spend(ip("10.0.0.1"), 1, 1.0));
  b.on_received(ip("::a00:1"), 100, 1.0);  // IPv6 with the same low bits is someone else
  EXPECT_FALSE(b.try_spend(ip("10.0.0.1"), 1, 1.0));
}

TEST(AmplificationBudget, RefusedSpendRecordsNothing) {
  AmplificationBudget b(with_factor(1.0));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 1.0);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(b.try_spend(a, 150, 1.0));
  EXPECT_TRUE(b.try_spend(a, 100, 1.0));
}

TEST(AmplificationBudget, CreditExpiresWithinTheWindow) {
  BudgetConfig c = with_factor(1.0);
  c.window_seconds = 10.0;
  AmplificationBudget b(c);
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 1000.0);
  EXPECT_TRUE(b.try_spend(a, 30, 1004.0));
  EXPECT_TRUE(b.try_spend(a, 30, 1009.9));  // still younger than the window
  EXPECT_FALSE(b.try_spend(a, 1, 1010.0));  // a full window old: gone
  EXPECT_FALSE(b.try_spend(a, 1, 5000.0));

  // Credit never outlives the window, even when received late in a half-window.
  b.on_received(a, 100, 6004.99);
  EXPECT_TRUE(b.try_spend(a, 1, 6009.0));
  EXPECT_FALSE(b.try_spend(a, 1, 6010.0));
}

TEST(AmplificationBudget, SpendingIsCountedAcrossTheWindow) {
  BudgetConfig c = with_factor(1.0);
  c.window_seconds = 10.0;
  AmplificationBudget b(c);
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 1000.0);
  EXPECT_TRUE(b.try_spend(a, 100, 1000.0));
  // New credit in the next half-window does not let the earlier spend be forgotten.
  b.on_received(a, 50, 1006.0);
  EXPECT_FALSE(b.try_spend(a, 51, 1006.0));
  EXPECT_TRUE(b.try_spend(a, 50, 1006.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1006.0));
  // Once the first half-window has rotated out, only its own traffic counts.
  b.on_received(a, 40, 1011.0);
  EXPECT_TRUE(b.try_spend(a, 40, 1011.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1011.0));
}

TEST(AmplificationBudget, NeverMoreThanFactorOverAnyKeptSpan) {
  // A steady trickle of requests and greedy spending: over any window, sent <= factor * received.
  BudgetConfig c = with_factor(2.0);
  c.window_seconds = 4.0;
  AmplificationBudget b(c);
  IpAddress a = ip("192.0.2.1");
  std::vector<int64_t> recv_at(2000, 0), sent_at(2000, 0);  // per 10 ms tick
  for (int tick = 0; tick < 2000; ++tick) {
    double now = tick * 0.01;
    if (tick % 7 == 0) {
      b.on_received(a, 100, now);
      recv_at[tick] += 100;
    }
    for (int n = 0; n < 5; ++n) {
      if (b.try_spend(a, 37, now)) sent_at[tick] += 37;
    }
  }
  // Any span of one window: everything sent in it is covered by what arrived in it or in the
  // window before (credit lives at most one window).
  for (int start = 0; start + 400 <= 2000; start += 13) {
    int64_t sent = 0, recv = 0;
    for (int t = start; t < start + 400; ++t) sent += sent_at[t];
    for (int t = (start >= 400 ? start - 400 : 0); t < start + 400; ++t) recv += recv_at[t];
    EXPECT_LE(sent, 2 * recv) << start;
  }
  int64_t total_sent = 0, total_recv = 0;
  for (int t = 0; t < 2000; ++t) total_sent += sent_at[t], total_recv += recv_at[t];
  EXPECT_LE(total_sent, 2 * total_recv);
  EXPECT_GT(total_sent, total_recv);  // and the budget is actually usable
}

TEST(AmplificationBudget, HugeCountsSaturate) {
  AmplificationBudget b(with_factor(1.0));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, SIZE_MAX, 1.0);
  b.on_received(a, SIZE_MAX, 1.0);
  EXPECT_TRUE(b.try_spend(a, SIZE_MAX / 2, 1.0));
  EXPECT_FALSE(b.try_spend(a, SIZE_MAX, 1.0));
}

TEST(AmplificationBudget, TableStaysBoundedAndForgettingLosesCredit) {
  BudgetConfig c = with_factor(1.0);
  c.max_addresses = 1000;
  AmplificationBudget b(c);
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 1.0);
  for (uint32_t i = 0; i < 3; ++i) b.on_received(v4_number(i + 1), 10, 1.0);
  EXPECT_TRUE(b.try_spend(a, 10, 1.0));  // survives a little traffic
  for (uint32_t i = 0; i < 100000; ++i) {
    b.on_received(v4_number(0x0a000000 + i), 10, 1.0);
    if (i % 10000 == 0) {
      ASSERT_LE(b.tracked_addresses(), 1000u);
    }
  }
  EXPECT_LE(b.tracked_addresses(), 1000u);
  EXPECT_GT(b.tracked_addresses(), 900u);
  EXPECT_FALSE(b.try_spend(a, 1, 1.0));  // forgotten: back to no credit
}

TEST(AmplificationBudget, NonsenseTimesAreHarmless) {
  AmplificationBudget b(with_factor(1.0));
  IpAddress a = ip("192.0.2.1");
  b.on_received(a, 100, 50.0);
  EXPECT_TRUE(b.try_spend(a, 50, 49.0));  // a step back counts against the current window
  EXPECT_TRUE(b.try_spend(a, 50, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_FALSE(b.try_spend(a, 1, -5.0));
  EXPECT_FALSE(b.try_spend(a, 1, 1e300));
}

TEST(AmplificationBudget, FourThreadsNeverOverspend) {
  AmplificationBudget b(with_factor(1.0));
  IpAddress shared = ip("192.0.2.1");
  b.on_received(shared, 1000, 1.0);
  std::atomic<int> spent{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      int mine = 0;
      for (int i = 0; i < 5000; ++i) mine += b.try_spend(shared, 1, 1.0);
      spent += mine;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(spent.load(), 1000);
}

TEST(AmplificationBudget, FourThreadsReceiveAndSpend) {
  constexpr int kAddresses = 64;
  AmplificationBudget b(with_factor(3.0));
  std::atomic<int64_t> received[kAddresses] = {};
  std::atomic<int64_t> sent[kAddresses] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        int k = (i * 7 + t) % kAddresses;
        IpAddress a = v4_number(0xc0000200 + k);
        if ((i + t) % 3 == 0) {
          // Credit is recorded before it is announced, so "sent <= 3 * received" holds below.
          b.on_received(a, 50, 2.0);
          received[k] += 50;
        } else if (b.try_spend(a, 60, 2.0)) {
          sent[k] += 60;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  int64_t total = 0;
  for (int k = 0; k < kAddresses; ++k) {
    EXPECT_LE(sent[k].load(), 3 * received[k].load()) << k;
    total += sent[k].load();
  }
  EXPECT_GT(total, 0);
}

}  // namespace
}  // namespace memshield::security
