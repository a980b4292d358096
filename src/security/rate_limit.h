// Traffic limits for UDP, in the spirit of DNS response-rate limiting: token buckets per source
// prefix (/24 for IPv4, /56 for IPv6 by default) for packets and bytes per second, and one global
// bucket for all UDP egress. Thread-safe (striped locks); memory bounded by a fixed table size,
// the least recently used prefix giving way (which only ever forgets debt, never grants credit
// beyond a fresh bucket's burst).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "security/ip_address.h"

namespace memshield::security {

struct RateLimitConfig {
  double packets_per_second = 2000;      // per prefix; 0 = unlimited
  double bytes_per_second = 4u << 20;    // per prefix, response bytes; 0 = unlimited
  double burst_seconds = 1.0;            // bucket depth, in seconds of rate
  int v4_prefix = 24;
  int v6_prefix = 56;
  size_t max_prefixes = 65536;           // table bound
};

class PrefixRateLimiter {
 public:
  explicit PrefixRateLimiter(const RateLimitConfig& config);
  ~PrefixRateLimiter();
  // One arriving packet from `ip`; false = over the packet rate, drop it.
  bool allow_packet(const IpAddress& ip, double now_seconds);
  // `bytes` of response to `ip`; false = over the byte rate, don't send (nothing is charged).
  bool allow_bytes(const IpAddress& ip, size_t bytes, double now_seconds);
  // Prefixes currently in the table (<= max_prefixes); walks the table, for stats and tests.
  size_t tracked_prefixes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A single token bucket for all UDP egress; 0 = unlimited.
class GlobalRateLimiter {
 public:
  GlobalRateLimiter(double bytes_per_second, double burst_seconds = 1.0);
  ~GlobalRateLimiter();
  bool allow_bytes(size_t bytes, double now_seconds);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memshield::security
