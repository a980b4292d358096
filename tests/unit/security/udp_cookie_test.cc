// Server cookies: round trip, binding to address and client cookie, tamper resistance, expiry,
// rotation, and verify racing a rotating writer. Addresses are filled in by hand so this test
// depends only on IpAddress's fields.
#include "security/udp_cookie.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace memshield::security {
namespace {

constexpr uint32_t kNow = 1'700'000'000;
constexpr uint32_t kRotation = 1800;

IpAddress v4(const char* text) {
  IpAddress a;
  a.v4 = true;
  EXPECT_EQ(inet_pton(AF_INET, text, a.bytes), 1) << text;
  return a;
}

IpAddress v6(const char* text) {
  IpAddress a;
  a.v4 = false;
  EXPECT_EQ(inet_pton(AF_INET6, text, a.bytes), 1) << text;
  return a;
}

const uint8_t kClient[kClientCookieSize] = {1, 2, 3, 4, 5, 6, 7, 8};

TEST(UdpCookie, MintVerifyRoundTrip) {
  CookieJar jar(kRotation);
  for (const IpAddress& ip : {v4("192.0.2.7"), v6("2001:db8::7")}) {
    uint8_t sc[kServerCookieSize];
    jar.mint(ip, kClient, kNow, sc);
    EXPECT_EQ(sc[0], 1);
    EXPECT_EQ(sc[1] | sc[2] | sc[3], 0);
    EXPECT_EQ(sc[4], (kNow >> 24) & 0xff);
    EXPECT_EQ(sc[7], kNow & 0xff);
    EXPECT_EQ(jar.verify(ip, kClient, sc, kNow), CookieVerdict::kValid);
    EXPECT_EQ(jar.verify(ip, kClient, sc, kNow + 60), CookieVerdict::kValid);
  }
}

TEST(UdpCookie, DeterministicWithinAPeriod) {
  CookieJar jar(kRotation);
  uint8_t a[kServerCookieSize], b[kServerCookieSize];
  jar.mint(v4("192.0.2.7"), kClient, kNow, a);
  jar.mint(v4("192.0.2.7"), kClient, kNow, b);
  EXPECT_EQ(std::memcmp(a, b, sizeof(a)), 0);
  // A different jar has a different secret.
  CookieJar other(kRotation);
  other.mint(v4("192.0.2.7"), kClient, kNow, b);
  EXPECT_NE(std::memcmp(a, b, sizeof(a)), 0);
  EXPECT_EQ(other.verify(v4("192.0.2.7"), kClient, a, kNow), CookieVerdict::kBadMac);
}

TEST(UdpCookie, BoundToAddress) {
  CookieJar jar(kRotation);
  uint8_t sc[kServerCookieSize];
  jar.mint(v4("192.0.2.7"), kClient, kNow, sc);
  EXPECT_EQ(jar.verify(v4("192.0.2.8"), kClient, sc, kNow), CookieVerdict::kBadMac);
  EXPECT_EQ(jar.verify(v4("7.2.0.192"), kClient, sc, kNow), CookieVerdict::kBadMac);
  // The same 4 bytes as the start of an IPv6 address, and the mapped form, are other addresses.
  IpAddress same_prefix_v6 = v4("192.0.2.7");
  same_prefix_v6.v4 = false;
  EXPECT_EQ(jar.verify(same_prefix_v6, kClient, sc, kNow), CookieVerdict::kBadMac);
  EXPECT_EQ(jar.verify(v6("::ffff:192.0.2.7"), kClient, sc, kNow), CookieVerdict::kBadMac);

  jar.mint(v6("2001:db8::7"), kClient, kNow, sc);
  EXPECT_EQ(jar.verify(v6("2001:db8::8"), kClient, sc, kNow), CookieVerdict::kBadMac);
  EXPECT_EQ(jar.verify(v4("192.0.2.7"), kClient, sc, kNow), CookieVerdict::kBadMac);
}

TEST(UdpCookie, BoundToClientCookie) {
  CookieJar jar(kRotation);
  uint8_t sc[kServerCookieSize];
  jar.mint(v4("192.0.2.7"), kClient, kNow, sc);
  for (size_t i = 0; i < kClientCookieSize; ++i) {
    uint8_t other[kClientCookieSize];
    std::memcpy(other, kClient, sizeof(other));
    other[i] ^= 0x40;
    EXPECT_EQ(jar.verify(v4("192.0.2.7"), other, sc, kNow), CookieVerdict::kBadMac) << i;
  }
}

TEST(UdpCookie, EveryTamperedByteIsRejected) {
  CookieJar jar(kRotation);
  const IpAddress ip = v4("198.51.100.1");
  uint8_t good[kServerCookieSize];
  jar.mint(ip, kClient, kNow, good);
  for (size_t i = 0; i < kServerCookieSize; ++i) {
    for (uint8_t bit = 1; bit != 0; bit = static_cast<uint8_t>(bit << 1)) {
      uint8_t bad[kServerCookieSize];
      std::memcpy(bad, good, sizeof(bad));
      bad[i] ^= bit;
      const CookieVerdict v = jar.verify(ip, kClient, bad, kNow);
      EXPECT_NE(v, CookieVerdict::kValid) << "byte " << i << " bit " << int{bit};
      if (i < 4) {
        EXPECT_EQ(v, CookieVerdict::kMalformed) << i;
      } else if (i >= 8) {
        EXPECT_EQ(v, CookieVerdict::kBadMac) << i;
      } else {
        // A flipped timestamp bit either leaves the window or breaks the MAC.
        EXPECT_TRUE(v == CookieVerdict::kBadMac || v == CookieVerdict::kExpired) << i;
      }
    }
  }
}

TEST(UdpCookie, ZeroCookieIsMissing) {
  CookieJar jar(kRotation);
  const uint8_t zero[kServerCookieSize] = {};
  EXPECT_EQ(jar.verify(v4("192.0.2.7"), kClient, zero, kNow), CookieVerdict::kMissing);
}

TEST(UdpCookie, MalformedVersionOrReserved) {
  CookieJar jar(kRotation);
  const IpAddress ip = v4("192.0.2.7");
  uint8_t sc[kServerCookieSize];
  jar.mint(ip, kClient, kNow, sc);
  for (uint8_t version : {0, 2, 0xff}) {
    uint8_t bad[kServerCookieSize];
    std::memcpy(bad, sc, sizeof(bad));
    bad[0] = version;
    EXPECT_EQ(jar.verify(ip, kClient, bad, kNow), CookieVerdict::kMalformed);
  }
  for (size_t i = 1; i < 4; ++i) {
    uint8_t bad[kServerCookieSize];
    std::memcpy(bad, sc, sizeof(bad));
    bad[i] = 1;
    EXPECT_EQ(jar.verify(ip, kClient, bad, kNow), CookieVerdict::kMalformed);
  }
}

TEST(UdpCookie, ExpiryAndFutureTimestamps) {
  CookieJar jar(kRotation);
  const IpAddress ip = v4("192.0.2.7");
  uint8_t sc[kServerCookieSize];
  jar.mint(ip, kClient, kNow, sc);
  // Valid up to two periods of age (secrets permitting), expired after.
  EXPECT_EQ(jar.verify(ip, kClient, sc, kNow + kRotation - 1), CookieVerdict::kValid);
  EXPECT_EQ(jar.verify(ip, kClient, sc, kNow + 2 * kRotation + 1), CookieVerdict::kExpired);
  EXPECT_EQ(jar.verify(ip, kClient, sc, kNow + 100 * kRotation), CookieVerdict::kExpired);

  // A cookie stamped in the future: fine within 300 s (another clock a little ahead), else not.
  CookieJar jar2(kRotation);
  jar2.mint(ip, kClient, kNow + 300, sc);
  EXPECT_EQ(jar2.verify(ip, kClient, sc, kNow), CookieVerdict::kValid);
  jar2.mint(ip, kClient, kNow + 301, sc);
  EXPECT_EQ(jar2.verify(ip, kClient, sc, kNow), CookieVerdict::kExpired);
  // A forged far-future stamp is refused before any MAC is computed.
  sc[4] = 0xff;
  EXPECT_EQ(jar2.verify(ip, kClient, sc, kNow), CookieVerdict::kExpired);
}

TEST(UdpCookie, RotationKeepsOnePreviousSecret) {
  CookieJar jar(kRotation);
  const IpAddress ip = v6("2001:db8::1");
  jar.maybe_rotate(kNow);  // anchors the first period at kNow
  uint8_t early[kServerCookieSize], late[kServerCookieSize];
  jar.mint(ip, kClient, kNow, early);
  jar.mint(ip, kClient, kNow + kRotation - 1, late);

  jar.maybe_rotate(kNow + kRotation);  // first rotation: both still valid (previous secret)
  EXPECT_EQ(jar.verify(ip, kClient, early, kNow + kRotation), CookieVerdict::kValid);
  EXPECT_EQ(jar.verify(ip, kClient, late, kNow + kRotation), CookieVerdict::kValid);
  uint8_t fresh[kServerCookieSize];
  jar.mint(ip, kClient, kNow + kRotation, fresh);
  EXPECT_NE(std::memcmp(fresh + 8, early + 8, 8), 0);  // minted with the new secret

  // Second rotation: `late` is only one period old, but its secret is gone.
  jar.maybe_rotate(kNow + 2 * kRotation);
  EXPECT_EQ(jar.verify(ip, kClient, late, kNow + 2 * kRotation), CookieVerdict::kBadMac);
  EXPECT_EQ(jar.verify(ip, kClient, early, kNow + 2 * kRotation), CookieVerdict::kBadMac);
  EXPECT_EQ(jar.verify(ip, kClient, fresh, kNow + 2 * kRotation), CookieVerdict::kValid);
}

TEST(UdpCookie, LazyRotationAndLongIdleGap) {
  CookieJar jar(60);
  const IpAddress ip = v4("203.0.113.9");
  uint8_t sc[kServerCookieSize];
  jar.mint(ip, kClient, kNow, sc);  // anchors lazily
  // verify itself rotates once a period has passed, and the previous secret still matches.
  EXPECT_EQ(jar.verify(ip, kClient, sc, kNow + 61), CookieVerdict::kValid);
  // Idle for several periods: both secrets are retired at once.
  uint8_t sc2[kServerCookieSize];
  jar.mint(ip, kClient, kNow + 100, sc2);
  jar.maybe_rotate(kNow + 1000);
  EXPECT_NE(jar.verify(ip, kClient, sc2, kNow + 1000), CookieVerdict::kValid);
  // A clock that steps back neither rotates nor breaks the current secret.
  jar.mint(ip, kClient, kNow + 1000, sc2);
  jar.maybe_rotate(kNow);
  EXPECT_EQ(jar.verify(ip, kClient, sc2, kNow + 1001), CookieVerdict::kValid);
}

TEST(UdpCookie, ZeroRotationIsClamped) {
  CookieJar jar(0);
  const IpAddress ip = v4("192.0.2.1");
  uint8_t sc[kServerCookieSize];
  jar.mint(ip, kClient, kNow, sc);
  EXPECT_EQ(jar.verify(ip, kClient, sc, kNow), CookieVerdict::kValid);
}

// Four readers verify while a writer rotates as fast as it can. The writer rotates the jar before
// publishing the new time, so the jar is at most one period ahead of the shared clock: a cookie
// minted and verified while the clock did not move must verify, whatever the writer is doing;
// a tampered one never may.
TEST(UdpCookie, ConcurrentVerifyWhileRotating) {
  constexpr uint32_t kRot = 10;
  CookieJar jar(kRot);
  std::atomic<uint32_t> clock{kNow};
  std::atomic<int> failures{0};
  std::atomic<long> checked{0};
  jar.maybe_rotate(kNow);

  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      const uint32_t t = clock.load() + kRot;
      jar.maybe_rotate(t);
      clock.store(t);
      if (i % 16 == 0) std::this_thread::yield();
    }
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      IpAddress ip;
      ip.v4 = true;
      ip.bytes[0] = 10;
      ip.bytes[3] = static_cast<uint8_t>(r);
      const uint8_t cc[kClientCookieSize] = {static_cast<uint8_t>(r)};
      for (int i = 0; i < 20000; ++i) {
        const uint32_t t = clock.load();
        uint8_t sc[kServerCookieSize];
        jar.mint(ip, cc, t, sc);
        const CookieVerdict v = jar.verify(ip, cc, sc, t);
        if (clock.load() == t) {
          if (v != CookieVerdict::kValid) failures.fetch_add(1);
          checked.fetch_add(1, std::memory_order_relaxed);
        }
        sc[15] ^= 1;
        if (jar.verify(ip, cc, sc, t) == CookieVerdict::kValid) failures.fetch_add(1);
      }
    });
  }
  for (auto& t : readers) t.join();
  writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(checked.load(), 0);
}

// Not a pass/fail benchmark: prints the cost so a regression is visible in the test log.
TEST(UdpCookie, VerifyCost) {
  CookieJar jar(kRotation);
  const IpAddress ip = v4("192.0.2.7");
  uint8_t sc[kServerCookieSize];
  jar.mint(ip, kClient, kNow, sc);
  constexpr int kIters = 20000;
  double best = 1e12;
  for (int round = 0; round < 5; ++round) {  // best of five: the test box is shared
    int valid = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kIters; ++i) {
      valid += jar.verify(ip, kClient, sc, kNow) == CookieVerdict::kValid;
    }
    const std::chrono::duration<double, std::nano> ns = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(valid, kIters);
    if (ns.count() < best) best = ns.count();
  }
  std::printf("[ cookie   ] %.0f ns per verify\n", best / kIters);
}

}  // namespace
}  // namespace memshield::security
