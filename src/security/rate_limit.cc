// Token buckets for UDP, kept as GCRA's single "theoretical arrival time" per bucket: the bucket
// is full when that time is at or before now, and each unit spent pushes it forward by 1/rate.
// Whole nanoseconds instead of double seconds, because at unix-epoch magnitudes a double cannot
// represent the cost of one byte at megabytes per second, and because integer comparison makes
// "exactly rate * burst fits" exact.
#include "security/rate_limit.h"

#include <atomic>
#include <cmath>

#include "security/address_table.h"

namespace memshield::security {
namespace {

// ~73 years: far beyond any clock or burst we see, far below int64 overflow when two are added.
constexpr int64_t kMaxNs = int64_t{1} << 61;

int64_t to_ns(double seconds) {
  if (!(seconds > 0)) return 0;  // also NaN
  double ns = seconds * 1e9;
  return ns >= static_cast<double>(kMaxNs) ? kMaxNs : static_cast<int64_t>(ns);
}

// One bucket's configuration; the state is a single int64 (the arrival time) kept by the caller.
class Gcra {
 public:
  // A rate that is zero, negative or NaN means unlimited; a burst that is not positive means the
  // default of one second.
  Gcra(double per_second, double burst_seconds) {
    unlimited_ = !(per_second > 0) || std::isinf(per_second);
    if (unlimited_) return;
    ns_per_unit_ = 1e9 / per_second;
    if (!(burst_seconds > 0)) burst_seconds = 1.0;
    burst_ns_ = to_ns(burst_seconds);
  }

  bool unlimited() const { return unlimited_; }

  // Cost of `units` in nanoseconds, or -1 if it can never fit (bigger than the whole bucket).
  // Rounded to nearest: the error is under a nanosecond per call, which no sender can exploit.
  int64_t cost(double units) const {
    double ns = std::nearbyint(units * ns_per_unit_);
    if (ns > static_cast<double>(burst_ns_)) return -1;
    return static_cast<int64_t>(ns);
  }

  // Packets: a bucket always holds at least one, however small rate * burst is.
  void ensure_room_for(int64_t cost_ns) {
    if (burst_ns_ < cost_ns) burst_ns_ = cost_ns;
  }

  bool take(int64_t* tat, int64_t now_ns, int64_t cost_ns) const {
    int64_t start = *tat > now_ns ? *tat : now_ns;
    int64_t next = start + cost_ns;
    if (next - now_ns > burst_ns_) return false;
    *tat = next;
    return true;
  }

 private:
  bool unlimited_ = true;
  double ns_per_unit_ = 0;
  int64_t burst_ns_ = 0;
};

int clamp_prefix(int bits, int max_bits) {
  return bits < 0 ? 0 : bits > max_bits ? max_bits : bits;
}

// Per prefix: zero means "never seen", which GCRA reads as a full bucket.
struct PrefixRecord {
  int64_t packets_tat;
  int64_t bytes_tat;
};

}  // namespace

struct PrefixRateLimiter::Impl {
  explicit Impl(const RateLimitConfig& c)
      : packets(c.packets_per_second, c.burst_seconds),
        bytes(c.bytes_per_second, c.burst_seconds),
        v4_prefix(clamp_prefix(c.v4_prefix, 32)),
        v6_prefix(clamp_prefix(c.v6_prefix, 128)),
        table(c.max_prefixes) {
    if (!packets.unlimited()) {
      packet_cost = packets.cost(1);
      // cost(1) is -1 only if one packet exceeds the burst; make room for exactly one.
      if (packet_cost < 0) {
        double ns = 1e9 / c.packets_per_second;
        packet_cost = ns >= static_cast<double>(kMaxNs) ? kMaxNs : std::llround(ns);
      }
      packets.ensure_room_for(packet_cost);
    }
  }

  IpAddress key(const IpAddress& ip) const { return ip.masked(ip.v4 ? v4_prefix : v6_prefix); }

  Gcra packets;
  Gcra bytes;
  int64_t packet_cost = 0;
  int v4_prefix;
  int v6_prefix;
  internal::AddressTable<PrefixRecord> table;
};

PrefixRateLimiter::PrefixRateLimiter(const RateLimitConfig& config)
    : impl_(std::make_unique<Impl>(config)) {}

PrefixRateLimiter::~PrefixRateLimiter() = default;

bool PrefixRateLimiter::allow_packet(const IpAddress& ip, double now_seconds) {
  Impl& m = *impl_;
  if (m.packets.unlimited()) return true;
  int64_t now = to_ns(now_seconds);
  return m.table.visit(m.key(ip), true, [&](PrefixRecord* r) {
    return m.packets.take(&r->packets_tat, now, m.packet_cost);
  });
}

bool PrefixRateLimiter::allow_bytes(const IpAddress& ip, size_t bytes, double now_seconds) {
  Impl& m = *impl_;
  if (m.bytes.unlimited()) return true;
  int64_t cost = m.bytes.cost(static_cast<double>(bytes));
  if (cost < 0) return false;  // larger than the bucket: could never be sent
  int64_t now = to_ns(now_seconds);
  return m.table.visit(m.key(ip), true,
                       [&](PrefixRecord* r) { return m.bytes.take(&r->bytes_tat, now, cost); });
}

size_t PrefixRateLimiter::tracked_prefixes() const { return impl_->table.size(); }

struct GlobalRateLimiter::Impl {
  Impl(double per_second, double burst_seconds) : bucket(per_second, burst_seconds) {}
  Gcra bucket;
  // Lock-free: every worker charges every UDP response here, so a mutex would serialize them.
  std::atomic<int64_t> tat{0};
};

GlobalRateLimiter::GlobalRateLimiter(double bytes_per_second, double burst_seconds)
    : impl_(std::make_unique<Impl>(bytes_per_second, burst_seconds)) {}

GlobalRateLimiter::~GlobalRateLimiter() = default;

bool GlobalRateLimiter::allow_bytes(size_t bytes, double now_seconds) {
  Impl& m = *impl_;
  if (m.bucket.unlimited()) return true;
  int64_t cost = m.bucket.cost(static_cast<double>(bytes));
  if (cost < 0) return false;
  int64_t now = to_ns(now_seconds);
  int64_t seen = m.tat.load(std::memory_order_relaxed);
  while (true) {
    int64_t next = seen;
    if (!m.bucket.take(&next, now, cost)) return false;
    if (m.tat.compare_exchange_weak(seen, next, std::memory_order_relaxed)) return true;
  }
}

}  // namespace memshield::security
