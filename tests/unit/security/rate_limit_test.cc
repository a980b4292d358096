// Per-prefix and global token buckets, driven by a fake clock (the APIs take "now", so nothing
// sleeps): burst then refill, prefix grouping for both families, unlimited rates, the table bound
// under a flood of prefixes, and exact accounting when four threads share buckets.
#include "security/rate_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "ip_test_util.h"

namespace memshield::security {
namespace {

// A distinct IPv4 /24 for every i < 2^24.
IpAddress v4_prefix_number(uint32_t i) {
  return v4(static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i),
            1);
}

RateLimitConfig packets_only(double pps, double burst = 1.0) {
  RateLimitConfig c;
  c.packets_per_second = pps;
  c.bytes_per_second = 0;
  c.burst_seconds = burst;
  return c;
}

int count_allowed(PrefixRateLimiter& rl, const IpAddress& a, double now, int tries) {
  int n = 0;
  for (int i = 0; i < tries; ++i) n += rl.allow_packet(a, now);
  return n;
}

TEST(PrefixRateLimiter, BurstThenRefill) {
  PrefixRateLimiter rl(packets_only(10));
  IpAddress a = ip("192.0.2.1");
  EXPECT_EQ(count_allowed(rl, a, 100.0, 15), 10);  // a new prefix starts with a full bucket
  EXPECT_FALSE(rl.allow_packet(a, 100.0));
  EXPECT_FALSE(rl.allow_packet(a, 100.05));  // half a token
  EXPECT_TRUE(rl.allow_packet(a, 100.1));    // one token back
  EXPECT_FALSE(rl.allow_packet(a, 100.1));
  EXPECT_EQ(count_allowed(rl, a, 100.5, 10), 4);
  // A long idle period refills only up to the depth.
  EXPECT_EQ(count_allowed(rl, a, 1000.0, 50), 10);
}

TEST(PrefixRateLimiter, BurstSecondsSetsTheDepth) {
  PrefixRateLimiter rl(packets_only(10, 3.0));
  EXPECT_EQ(count_allowed(rl, ip("192.0.2.1"), 5.0, 100), 30);
  PrefixRateLimiter tiny(packets_only(10, 0.01));  // depth 0.1 packet: still one at a time
  EXPECT_EQ(count_allowed(tiny, ip("192.0.2.1"), 5.0, 100), 1);
  EXPECT_EQ(count_allowed(tiny, ip("192.0.2.1"), 5.1, 100), 1);
  PrefixRateLimiter slow(packets_only(3));  // 1/3 s per packet does not round the third away
  EXPECT_EQ(count_allowed(slow, ip("192.0.2.1"), 5.0, 100), 3);
}

TEST(PrefixRateLimiter, Ipv4PrefixesShareABucket) {
  PrefixRateLimiter rl(packets_only(10));
  EXPECT_EQ(count_allowed(rl, ip("10.0.0.1"), 1.0, 6), 6);
  EXPECT_EQ(count_allowed(rl, ip("10.0.0.254"), 1.0, 6), 4);       // same /24
  EXPECT_EQ(count_allowed(rl, ip("::ffff:10.0.0.9"), 1.0, 6), 0);  // mapped: same /24
  EXPECT_EQ(count_allowed(rl, ip("10.0.1.1"), 1.0, 20), 10);       // next /24
  EXPECT_EQ(count_allowed(rl, ip("11.0.0.1"), 1.0, 20), 10);
}

TEST(PrefixRateLimiter, Ipv6PrefixesShareABucket) {
  PrefixRateLimiter rl(packets_only(10));
  EXPECT_EQ(count_allowed(rl, ip("2001:db8:0:100::1"), 1.0, 6), 6);
  EXPECT_EQ(count_allowed(rl, ip("2001:db8:0:1ff:ffff::2"), 1.0, 6), 4);  // same /56
  EXPECT_EQ(count_allowed(rl, ip("2001:db8:0:200::1"), 1.0, 20), 10);     // next /56
  // An IPv6 prefix whose bits look like an IPv4 one is still a different bucket.
  EXPECT_EQ(count_allowed(rl, ip("::"), 1.0, 20), 10);
  EXPECT_EQ(count_allowed(rl, ip("0.0.0.1"), 1.0, 20), 10);
}

TEST(PrefixRateLimiter, ConfiguredPrefixLengths) {
  RateLimitConfig c = packets_only(5);
  c.v4_prefix = 32;
  c.v6_prefix = 128;
  PrefixRateLimiter rl(c);
  EXPECT_EQ(count_allowed(rl, ip("10.0.0.1"), 1.0, 10), 5);
  EXPECT_EQ(count_allowed(rl, ip("10.0.0.2"), 1.0, 10), 5);
  EXPECT_EQ(count_allowed(rl, ip("2001:db8::1"), 1.0, 10), 5);
  EXPECT_EQ(count_allowed(rl, ip("2001:db8::2"), 1.0, 10), 5);

  c.v4_prefix = 0;  // one bucket for all of IPv4
  PrefixRateLimiter all(c);
  EXPECT_EQ(count_allowed(all, ip("10.0.0.1"), 1.0, 3), 3);
  EXPECT_EQ(count_allowed(all, ip("200.0.0.1"), 1.0, 10), 2);
}

TEST(PrefixRateLimiter, BytesBucket) {
  RateLimitConfig c;
  c.packets_per_second = 0;
  c.bytes_per_second = 1000;
  c.burst_seconds = 1.0;
  PrefixRateLimiter rl(c);
  IpAddress a = ip("198.51.100.7");
  EXPECT_TRUE(rl.allow_bytes(a, 600, 10.0));
  EXPECT_FALSE(rl.allow_bytes(a, 401, 10.0));  // refused, and nothing charged...
  EXPECT_TRUE(rl.allow_bytes(a, 400, 10.0));   // ...so the remaining 400 still fit
  EXPECT_FALSE(rl.allow_bytes(a, 1, 10.0));
  EXPECT_TRUE(rl.allow_bytes(a, 0, 10.0));
  EXPECT_TRUE(rl.allow_bytes(a, 500, 10.5));
  EXPECT_FALSE(rl.allow_bytes(a, 1001, 100.0));  // bigger than the bucket: never
  EXPECT_TRUE(rl.allow_bytes(a, 1000, 100.0));
  // Packets are unlimited here; bytes of another /24 are independent.
  EXPECT_EQ(count_allowed(rl, a, 100.0, 1000), 1000);
  EXPECT_TRUE(rl.allow_bytes(ip("198.51.101.7"), 1000, 100.0));
}

TEST(PrefixRateLimiter, PacketsAndBytesAreSeparateBuckets) {
  RateLimitConfig c;
  c.packets_per_second = 2;
  c.bytes_per_second = 100;
  PrefixRateLimiter rl(c);
  IpAddress a = ip("203.0.113.1");
  EXPECT_EQ(count_allowed(rl, a, 1.0, 5), 2);
  EXPECT_TRUE(rl.allow_bytes(a, 100, 1.0));
  EXPECT_FALSE(rl.allow_bytes(a, 1, 1.0));
}

TEST(PrefixRateLimiter, ZeroMeansUnlimited) {
  RateLimitConfig c;
  c.packets_per_second = 0;
  c.bytes_per_second = 0;
  PrefixRateLimiter rl(c);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_TRUE(rl.allow_packet(v4_prefix_number(i), 1.0));
    ASSERT_TRUE(rl.allow_bytes(v4_prefix_number(i), 1 << 30, 1.0));
  }
  EXPECT_EQ(rl.tracked_prefixes(), 0u);  // nothing to remember
}

TEST(PrefixRateLimiter, NonsenseTimesAreHarmless) {
  PrefixRateLimiter rl(packets_only(10));
  IpAddress a = ip("192.0.2.1");
  EXPECT_EQ(count_allowed(rl, a, 50.0, 20), 10);
  // A clock that steps back grants nothing new.
  EXPECT_FALSE(rl.allow_packet(a, 49.0));
  EXPECT_FALSE(rl.allow_packet(a, -1.0));
  EXPECT_FALSE(rl.allow_packet(a, std::numeric_limits<double>::quiet_NaN()));
  EXPECT_TRUE(rl.allow_packet(a, 1e300));  // clamped far future: full again, no overflow
}

TEST(PrefixRateLimiter, ByteCostIsPreciseAtUnixTimes) {
  // At 1.7e9 s a double's resolution is ~240 ns, the cost of one byte at 4 MiB/s; the limiter
  // must still count 100-byte responses correctly there.
  RateLimitConfig c;
  c.packets_per_second = 0;
  c.bytes_per_second = 4 << 20;
  PrefixRateLimiter rl(c);
  IpAddress a = ip("192.0.2.1");
  int sent = 0;
  while (sent < 100000 && rl.allow_bytes(a, 100, 1.7e9)) ++sent;
  EXPECT_GE(sent, 41900);
  EXPECT_LE(sent, 41943);  // floor(4 MiB / 100)
}

TEST(PrefixRateLimiter, TableStaysBounded) {
  RateLimitConfig c = packets_only(10);
  c.max_prefixes = 1000;
  PrefixRateLimiter rl(c);
  IpAddress victim = ip("192.0.2.1");
  EXPECT_EQ(count_allowed(rl, victim, 1.0, 20), 10);
  // A few other prefixes do not push the victim's debt out.
  for (uint32_t i = 1; i <= 3; ++i) rl.allow_packet(v4_prefix_number(i), 1.0);
  EXPECT_FALSE(rl.allow_packet(victim, 1.0));
  for (uint32_t i = 0; i < 100000; ++i) {
    rl.allow_packet(v4_prefix_number(i + 1000), 1.0);
    if (i % 10000 == 0) {
      ASSERT_LE(rl.tracked_prefixes(), 1000u);
    }
  }
  EXPECT_LE(rl.tracked_prefixes(), 1000u);
  EXPECT_GT(rl.tracked_prefixes(), 900u);
  // The victim's entry was forgotten: it starts again from a (bounded) full bucket.
  EXPECT_EQ(count_allowed(rl, victim, 1.0, 20), 10);
}

TEST(PrefixRateLimiter, TinyTables) {
  for (size_t max : {size_t{0}, size_t{1}, size_t{3}, size_t{9}}) {
    RateLimitConfig c = packets_only(2);
    c.max_prefixes = max;
    PrefixRateLimiter rl(c);
    for (uint32_t i = 0; i < 100; ++i) rl.allow_packet(v4_prefix_number(i), 1.0);
    EXPECT_LE(rl.tracked_prefixes(), max == 0 ? 1 : max);
    EXPECT_EQ(count_allowed(rl, ip("192.0.2.1"), 1.0, 5), 2);
  }
}

TEST(PrefixRateLimiter, FourThreadsShareBucketsExactly) {
  constexpr int kPrefixes = 50;
  constexpr int kPerPrefix = 100;
  PrefixRateLimiter rl(packets_only(kPerPrefix));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      int mine = 0;
      for (int i = 0; i < 20000; ++i) {
        // Every thread hits every prefix, at the same instant: only the buckets' depth passes.
        mine += rl.allow_packet(v4_prefix_number((i + t) % kPrefixes), 7.0);
      }
      allowed += mine;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), kPrefixes * kPerPrefix);
}

TEST(PrefixRateLimiter, FourThreadsUnderEvictionChurn) {
  RateLimitConfig c;
  c.packets_per_second = 5;
  c.bytes_per_second = 5000;
  c.max_prefixes = 256;
  PrefixRateLimiter rl(c);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000; ++i) {
        IpAddress a = v4_prefix_number(static_cast<uint32_t>(i * 4 + t) % 5000);
        double now = i * 0.001;
        rl.allow_packet(a, now);
        rl.allow_bytes(a, 100, now);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(rl.tracked_prefixes(), 256u);
}

TEST(GlobalRateLimiter, BurstThenRefill) {
  GlobalRateLimiter g(1000);
  EXPECT_TRUE(g.allow_bytes(1000, 5.0));
  EXPECT_FALSE(g.allow_bytes(1, 5.0));
  EXPECT_FALSE(g.allow_bytes(501, 5.5));
  EXPECT_TRUE(g.allow_bytes(500, 5.5));
  EXPECT_FALSE(g.allow_bytes(2000, 100.0));  // bigger than the bucket
  EXPECT_TRUE(g.allow_bytes(1000, 100.0));
  GlobalRateLimiter deep(1000, 4.0);
  EXPECT_TRUE(deep.allow_bytes(4000, 1.0));
  EXPECT_FALSE(deep.allow_bytes(1, 1.0));
}

TEST(GlobalRateLimiter, ZeroMeansUnlimited) {
  GlobalRateLimiter g(0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(g.allow_bytes(1 << 30, 1.0));
}

TEST(GlobalRateLimiter, FourThreadsExact) {
  GlobalRateLimiter g(10000);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      int mine = 0;
      for (int i = 0; i < 10000; ++i) mine += g.allow_bytes(1, 3.0);
      allowed += mine;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(allowed.load(), 10000);
}

}  // namespace
}  // namespace memshield::security
