// memshield-loadgen: drives a memcached text-protocol server on loopback with a configurable
// get/set mix, pipelining, key distribution and pacing; validates every reply and reports
// throughput, hits/misses/errors and per-request latency percentiles. One epoll loop per
// thread, each owning several non-blocking connections. Also has a deterministic cache-aside
// replay mode (--cache-aside) used by bench/hitratio.py.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench_util.h"

namespace memshield::bench {
namespace {

constexpr double kMaxDurationS = 600.0;
constexpr uint64_t kPrefillTimeoutNs = 600 * kNsPerSec;
constexpr uint64_t kDrainGraceNs = 2 * kNsPerSec;
constexpr uint64_t kUnlimited = ~0ULL;

// ---------------------------------------------------------------------------------------------
// Options.

enum class Dist { kUniform, kZipf };

struct Options {
  std::string host = "127.0.0.1";
  int port = 11211;
  int threads = 2;
  int connections = 50;
  int pipeline = 1;
  double duration_s = 10;
  double warmup_s = 0;
  uint64_t requests = 0;  // 0 = bounded by --duration only
  int get_weight = 90;
  int set_weight = 10;
  uint64_t keys = 100000;
  int key_size = 32;
  int value_size = 100;
  Dist dist = Dist::kUniform;
  double zipf_alpha = 0.99;
  int multiget = 1;
  double rate = 0;  // total requests/s, 0 = as fast as possible
  bool prefill = false;
  bool json = false;
  bool cache_aside = false;
  double scan_fraction = 0;
  uint64_t seed = 1;
  bool quiet = false;
};

void Usage() {
  std::fprintf(stderr,
               "usage: memshield-loadgen [options]\n"
               "  --host ADDR         127.x.x.x or ::1 only (default 127.0.0.1)\n"
               "  --port N            (default 11211)\n"
               "  --threads N         event-loop threads (default 2)\n"
               "  --connections N     total connections (default 50)\n"
               "  --pipeline D        requests in flight per connection (default 1)\n"
               "  --duration S        measured seconds, max 600 (default 10)\n"
               "  --warmup S          unmeasured seconds before the measurement (default 0)\n"
               "  --requests N        stop after N measured requests (default: no cap)\n"
               "  --ratio G:S         get:set weights (default 90:10)\n"
               "  --keys N            keyspace size (default 100000)\n"
               "  --key-size N        key length in bytes (default 32)\n"
               "  --value-size N      value length in bytes (default 100)\n"
               "  --dist uniform|zipf key distribution (default uniform)\n"
               "  --zipf-alpha A      zipf exponent (default 0.99)\n"
               "  --multiget K        keys per get request (default 1)\n"
               "  --rate R            total requests/s, paced per connection (0 = flat out)\n"
               "  --prefill           set every key once before measuring\n"
               "  --cache-aside       replay gets in batches of --pipeline; each miss is followed\n"
               "                      by a set of that key (deterministic per connection)\n"
               "  --scan-fraction F   cache-aside: fraction of gets for one-hit-wonder keys\n"
               "  --seed N            random seed (default 1)\n"
               "  --json              print one JSON line instead of the text report\n"
               "  --quiet             no progress messages on stderr\n");
}

bool IsLoopback(const std::string& host) {
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) {
    return (ntohl(a4.s_addr) >> 24) == 127;
  }
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&a6);
  }
  return false;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  OptionParser p(Usage, /*allow_equals=*/true);
  p.Flag("--prefill", &o->prefill);
  p.Flag("--json", &o->json);
  p.Flag("--cache-aside", &o->cache_aside);
  p.Flag("--quiet", &o->quiet);
  p.String("--host", &o->host);
  p.Int("--port", 1, 65535, &o->port);
  p.Int("--threads", 1, 64, &o->threads);
  p.Int("--connections", 1, 10000, &o->connections);
  p.Int("--pipeline", 1, 4096, &o->pipeline);
  p.Double("--duration", 0, kMaxDurationS, &o->duration_s);
  p.Double("--warmup", 0, kMaxDurationS, &o->warmup_s);
  p.U64("--requests", 0, UINT64_MAX, &o->requests);
  p.Value("--ratio", [o](const std::string& value) {
    size_t colon = value.find(':');
    return colon != std::string::npos &&
           ParseInt(value.substr(0, colon).c_str(), 0, 1000000, &o->get_weight) &&
           ParseInt(value.substr(colon + 1).c_str(), 0, 1000000, &o->set_weight) &&
           o->get_weight + o->set_weight > 0;
  });
  p.U64("--keys", 1, 1ULL << 40, &o->keys);
  p.Int("--key-size", 2, 250, &o->key_size);
  p.Int("--value-size", 0, 1 << 20, &o->value_size);
  p.Value("--dist", [o](const std::string& value) {
    if (value == "uniform") {
      o->dist = Dist::kUniform;
    } else if (value == "zipf") {
      o->dist = Dist::kZipf;
    } else {
      return false;
    }
    return true;
  });
  p.Double("--zipf-alpha", 0.0001, 10, &o->zipf_alpha);
  p.Int("--multiget", 1, 1000, &o->multiget);
  p.Double("--rate", 0, 1e9, &o->rate);
  p.Double("--scan-fraction", 0, 1, &o->scan_fraction);
  p.U64("--seed", 0, UINT64_MAX, &o->seed);
  if (!p.Parse(argc, argv)) return false;
  if (o->host == "localhost") o->host = "127.0.0.1";
  if (!IsLoopback(o->host)) {
    std::fprintf(stderr, "refusing non-loopback host %s (only 127.x.x.x or ::1)\n",
                 o->host.c_str());
    return false;
  }
  if (o->threads > o->connections) o->threads = o->connections;
  // Scan keys live above the keyspace; leave room for a few billion of them.
  uint64_t max_index = o->keys + (o->cache_aside ? (1ULL << 32) : 0);
  if (DecimalDigits(max_index) + 1 > o->key_size) {
    std::fprintf(stderr, "--key-size %d too small for %llu keys\n", o->key_size,
                 static_cast<unsigned long long>(max_index));
    return false;
  }
  if (o->multiget > 1 && o->cache_aside) {
    std::fprintf(stderr, "--multiget and --cache-aside do not combine\n");
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Random numbers and key distributions.

// SplitMix64: tiny state, passes BigCrush, plenty for choosing keys.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }

 private:
  uint64_t state_;
};

// Zipf over ranks 1..n by rejection-inversion (Hormann & Derflinger, 1996): O(1) memory and a
// handful of exp/log per sample, with the acceptance rate close to 1 for any alpha.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double alpha) : n_(n), alpha_(alpha) {
    h_x1_ = H(1.5) - 1.0;
    h_n_ = H(static_cast<double>(n) + 0.5);
    s_ = 2.0 - HInverse(H(2.5) - Density(2.0));
  }

  // Returns a rank in [0, n), 0 being the most popular.
  uint64_t Sample(Rng& rng) const {
    for (;;) {
      double u = h_n_ + rng.Uniform() * (h_x1_ - h_n_);
      double x = HInverse(u);
      double kd = std::floor(x + 0.5);
      if (kd < 1) kd = 1;
      if (kd > static_cast<double>(n_)) kd = static_cast<double>(n_);
      if (kd - x <= s_ || u >= H(kd + 0.5) - Density(kd)) {
        return static_cast<uint64_t>(kd) - 1;
      }
    }
  }

 private:
  // log1p(x)/x and expm1(x)/x, continuous at 0 so that alpha == 1 needs no special case.
  static double Log1pOverX(double x) {
    return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x / 2.0 + x * x / 3.0;
  }
  static double Expm1OverX(double x) {
    return std::fabs(x) > 1e-8 ? std::expm1(x) / x : 1.0 + x / 2.0 + x * x / 6.0;
  }
  double Density(double x) const { return std::exp(-alpha_ * std::log(x)); }
  // Antiderivative of Density, shifted so that it is well defined for alpha == 1.
  double H(double x) const {
    double lx = std::log(x);
    return Expm1OverX((1.0 - alpha_) * lx) * lx;
  }
  double HInverse(double x) const {
    double t = x * (1.0 - alpha_);
    if (t < -1.0) t = -1.0;  // rounding guard; the true value is never below -1
    return std::exp(Log1pOverX(t) * x);
  }

  uint64_t n_;
  double alpha_;
  double h_x1_;
  double h_n_;
  double s_;
};

// Picks key indices in [0, keys). Zipf ranks are scattered over the keyspace by a fixed
// multiplicative permutation, so hot keys are not also the first keys written by --prefill.
class KeyChooser {
 public:
  KeyChooser(const Options& o) : keys_(o.keys), zipf_(o.keys, o.zipf_alpha), dist_(o.dist) {
    multiplier_ = 0x9E3779B97F4A7C15ULL % keys_;
    if (keys_ > 1) {
      if (multiplier_ == 0) multiplier_ = 1;
      while (Gcd(multiplier_, keys_) != 1) ++multiplier_;
    }
  }
  uint64_t Next(Rng& rng) const {
    if (dist_ == Dist::kUniform) return rng.Below(keys_);
    uint64_t rank = zipf_.Sample(rng);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(rank) * multiplier_) % keys_);
  }

 private:
  static uint64_t Gcd(uint64_t a, uint64_t b) {
    while (b != 0) {
      uint64_t t = a % b;
      a = b;
      b = t;
    }
    return a;
  }
  uint64_t keys_;
  ZipfSampler zipf_;
  Dist dist_;
  uint64_t multiplier_ = 1;
};

// ---------------------------------------------------------------------------------------------
// Latency histogram: log-linear buckets (32 linear sub-buckets per power of two), so every
// recorded value is kept within ~3% and recording is a couple of shifts and an increment.

class Histogram {
 public:
  static constexpr int kSubBits = 5;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  Histogram() : counts_(kBuckets, 0) {}

  void Record(uint64_t v) {
    ++counts_[Index(v)];
    ++count_;
    sum_ += v;
    if (v > max_) max_ = v;
  }
  void Merge(const Histogram& other) {
    for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    max_ = std::max(max_, other.max_);
  }
  // Value at quantile q in [0,1], reported as the midpoint of its bucket.
  uint64_t Quantile(double q) const {
    if (count_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(Midpoint(i), max_);
    }
    return max_;
  }
  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }

 private:
  static int Index(uint64_t v) {
    if (v < kSub) return static_cast<int>(v);
    int e = 63 - __builtin_clzll(v);  // >= kSubBits
    int shift = e - kSubBits;
    return (shift + 1) * kSub + static_cast<int>((v >> shift) - kSub);
  }
  static uint64_t Midpoint(int index) {
    if (index < kSub) return static_cast<uint64_t>(index);
    int shift = index / kSub - 1;
    uint64_t low = static_cast<uint64_t>(kSub + index % kSub) << shift;
    return low + ((1ULL << shift) >> 1);
  }

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

struct Stats {
  uint64_t ops = 0;  // completed requests inside the measurement window
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t keys_requested = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t errors = 0;  // error replies, malformed replies, lost requests
  uint64_t prefill_errors = 0;
  uint64_t last_done_ns = 0;
  // Fairness: the fewest and most measured requests any one connection completed.
  uint64_t conn_min_ops = UINT64_MAX;
  uint64_t conn_max_ops = 0;
  Histogram latency;

  void Merge(const Stats& s) {
    conn_min_ops = std::min(conn_min_ops, s.conn_min_ops);
    conn_max_ops = std::max(conn_max_ops, s.conn_max_ops);
    ops += s.ops;
    gets += s.gets;
    sets += s.sets;
    keys_requested += s.keys_requested;
    hits += s.hits;
    misses += s.misses;
    errors += s.errors;
    prefill_errors += s.prefill_errors;
    last_done_ns = std::max(last_done_ns, s.last_done_ns);
    latency.Merge(s.latency);
  }
};

// ---------------------------------------------------------------------------------------------
// Shared, read-only run description.

enum class Phase { kPrefill, kMain };

struct Plan {
  Options opt;
  std::string set_tail;  // " 0 0 <n>\r\n<value>\r\n"
  uint64_t measure_start_ns = 0;
  uint64_t measure_end_ns = 0;
  uint64_t interval_ns = 0;  // per-connection send interval when --rate is set
  std::unique_ptr<KeyChooser> chooser;
};

// ---------------------------------------------------------------------------------------------
// One client connection: an outgoing buffer, an incoming buffer, and a ring of requests
// awaiting replies in order.

class Connection {
 public:
  enum Kind : uint8_t { kGet, kSet };
  struct Pending {
    uint64_t start_ns;
    uint64_t key;  // used by cache-aside to set the key after a miss
    uint32_t nkeys;
    Kind kind;
    bool measured_phase;
  };

  Connection(const Plan* plan, int index, uint64_t seed) : plan_(plan), index_(index), rng_(seed) {
    in_.resize(64 * 1024);
    size_t cap = 1;
    while (cap < static_cast<size_t>(plan->opt.pipeline) * 2 + 2) cap <<= 1;
    ring_.resize(cap);
  }

  bool Connect() {
    const Options& o = plan_->opt;
    sockaddr_storage ss{};
    socklen_t len;
    if (o.host.find(':') != std::string::npos) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(o.port);
      inet_pton(AF_INET6, o.host.c_str(), &a->sin6_addr);
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(o.port);
      inet_pton(AF_INET, o.host.c_str(), &a->sin_addr);
      len = sizeof(*a);
    }
    fd_ = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    if (connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      std::fprintf(stderr, "connect %s:%d: %s\n", o.host.c_str(), o.port, std::strerror(errno));
      return false;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    return true;
  }

  int fd() const { return fd_; }
  bool dead() const { return dead_; }
  size_t inflight() const { return count_; }
  uint64_t next_send_ns() const { return next_send_ns_; }

  void StartPrefill(uint64_t lo, uint64_t hi) {
    phase_ = Phase::kPrefill;
    prefill_next_ = lo;
    prefill_end_ = hi;
  }
  void StartMain(uint64_t cap, uint64_t now) {
    phase_ = Phase::kMain;
    cap_ = cap;
    // Stagger paced connections over one interval so they do not fire in lockstep.
    if (plan_->interval_ns) next_send_ns_ = now + rng_.Below(plan_->interval_ns);
  }

  // True when this connection will never issue another request in the current phase.
  bool DoneIssuing(uint64_t now) const {
    if (dead_) return true;
    if (phase_ == Phase::kPrefill) return prefill_next_ >= prefill_end_;
    if (now >= plan_->measure_end_ns) return true;
    return measured_issued_ >= cap_;
  }
  bool Finished(uint64_t now) const { return dead_ || (DoneIssuing(now) && count_ == 0); }
  // True when only the pacing clock keeps this connection from sending.
  uint64_t measured_done() const { return measured_done_; }
  bool WaitingForClock(uint64_t now) const {
    return plan_->interval_ns && phase_ == Phase::kMain && !DoneIssuing(now) &&
           count_ < static_cast<size_t>(plan_->opt.pipeline) && next_send_ns_ > now;
  }

  // Queues as many new requests as the phase, pipeline depth and pacing allow.
  void Fill(uint64_t now) {
    if (dead_) return;
    const Options& o = plan_->opt;
    const size_t depth = static_cast<size_t>(o.pipeline);
    if (phase_ == Phase::kPrefill) {
      const size_t prefill_depth = std::max<size_t>(depth, 16);
      while (count_ < std::min(prefill_depth, ring_.size() - 1) && prefill_next_ < prefill_end_) {
        AppendSet(prefill_next_++, now, false);
      }
      return;
    }
    if (o.cache_aside) {
      FillCacheAside(now);
      return;
    }
    while (count_ < depth && !DoneIssuing(now)) {
      uint64_t start = now;
      if (plan_->interval_ns) {
        if (next_send_ns_ > now) break;
        start = next_send_ns_;  // latency counts from the intended send time
        next_send_ns_ += plan_->interval_ns;
      }
      bool measured = start >= plan_->measure_start_ns;
      if (measured) ++measured_issued_;
      uint64_t pick = rng_.Below(static_cast<uint64_t>(o.get_weight + o.set_weight));
      if (pick < static_cast<uint64_t>(o.get_weight)) {
        AppendGet(start, measured);
      } else {
        AppendSet(plan_->chooser->Next(rng_), start, measured);
      }
    }
  }

  // Sends what is buffered; returns false if the connection broke.
  void Flush() {
    while (!dead_ && out_off_ < out_.size()) {
      ssize_t n = send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
      if (n > 0) {
        out_off_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Kill("send failed");
    }
    if (out_off_ == out_.size()) {
      out_.clear();
      out_off_ = 0;
    } else if (out_off_ > (1 << 20)) {
      out_.erase(0, out_off_);
      out_off_ = 0;
    }
  }

  // Reads everything available and completes the requests it answers.
  void OnReadable(uint64_t now, Stats* stats) {
    while (!dead_) {
      if (rpos_ == wpos_) rpos_ = wpos_ = 0;
      if (in_.size() - wpos_ < 4096) {
        if (rpos_ > 0) {
          std::memmove(in_.data(), in_.data() + rpos_, wpos_ - rpos_);
          wpos_ -= rpos_;
          rpos_ = 0;
        }
        if (in_.size() - wpos_ < 4096) in_.resize(in_.size() * 2);
      }
      size_t room = in_.size() - wpos_;
      ssize_t n = recv(fd_, in_.data() + wpos_, room, 0);
      if (n > 0) {
        wpos_ += static_cast<size_t>(n);
        Parse(now, stats);
        // Edge-triggered: a short read means the socket is drained; new data re-arms the edge.
        if (static_cast<size_t>(n) < room) break;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Kill(n == 0 ? "server closed the connection" : "recv failed");
    }
  }

  // Counts every request still awaiting a reply as an error (used on close and at the deadline).
  void AbandonInflight(Stats* stats) {
    while (count_ > 0) {
      Pending& p = Front();
      if (p.measured_phase) {
        ++stats->errors;
      } else if (phase_ == Phase::kPrefill) {
        ++stats->prefill_errors;
      }
      PopFront();
    }
  }

  void Kill(const char* why) {
    if (dead_) return;
    dead_ = true;
    if (!killed_reported_) {
      std::fprintf(stderr, "loadgen: connection %d: %s\n", index_, why);
      killed_reported_ = true;
    }
  }

  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  Pending& Front() { return ring_[head_]; }
  void PopFront() {
    head_ = (head_ + 1) & (ring_.size() - 1);
    --count_;
  }
  void Push(const Pending& p) {
    ring_[(head_ + count_) & (ring_.size() - 1)] = p;
    ++count_;
  }

  void AppendGet(uint64_t start, bool measured) {
    const Options& o = plan_->opt;
    out_.append("get", 3);
    uint64_t first = 0;
    for (int i = 0; i < o.multiget; ++i) {
      uint64_t k = plan_->chooser->Next(rng_);
      if (i == 0) first = k;
      out_.push_back(' ');
      AppendKey(&out_, k, o.key_size);
    }
    out_.append("\r\n", 2);
    Push(Pending{start, first, static_cast<uint32_t>(o.multiget), kGet, measured});
  }
  void AppendGetKey(uint64_t key, uint64_t start, bool measured) {
    out_.append("get ", 4);
    AppendKey(&out_, key, plan_->opt.key_size);
    out_.append("\r\n", 2);
    Push(Pending{start, key, 1, kGet, measured});
  }
  void AppendSet(uint64_t key, uint64_t start, bool measured) {
    out_.append("set ", 4);
    AppendKey(&out_, key, plan_->opt.key_size);
    out_.append(plan_->set_tail);
    Push(Pending{start, key, 0, kSet, measured});
  }

  // Cache-aside replay: a batch of gets goes out only when the previous batch is fully
  // answered, preceded by sets for that batch's misses. The byte stream therefore depends
  // only on the seed and the server's answers, never on timing.
  void FillCacheAside(uint64_t now) {
    const Options& o = plan_->opt;
    if (count_ != 0) return;
    bool measured = now >= plan_->measure_start_ns;
    for (uint64_t k : to_set_) AppendSet(k, now, measured);
    to_set_.clear();
    for (int i = 0; i < o.pipeline && !DoneIssuing(now); ++i) {
      uint64_t key;
      if (o.scan_fraction > 0 && rng_.Uniform() < o.scan_fraction) {
        key = o.keys + scan_next_;
        scan_next_ += static_cast<uint64_t>(o.connections);
      } else {
        key = plan_->chooser->Next(rng_);
      }
      if (measured) ++measured_issued_;
      AppendGetKey(key, now, measured);
    }
  }

  static bool StartsWith(std::string_view s, std::string_view p) {
    return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
  }

  void Complete(uint64_t now, Stats* stats, bool error) {
    Pending& p = Front();
    if (phase_ == Phase::kPrefill) {
      if (error) ++stats->prefill_errors;
    } else if (p.measured_phase && now <= plan_->measure_end_ns + kDrainGraceNs) {
      ++stats->ops;
      ++measured_done_;
      stats->last_done_ns = std::max(stats->last_done_ns, now);
      stats->latency.Record(now - p.start_ns);
      if (error) ++stats->errors;
      if (p.kind == kGet) {
        ++stats->gets;
        stats->keys_requested += p.nkeys;
        if (!error) {
          uint64_t hits = std::min<uint64_t>(cur_hits_, p.nkeys);
          stats->hits += hits;
          stats->misses += p.nkeys - hits;
        }
      } else {
        ++stats->sets;
      }
    }
    if (plan_->opt.cache_aside && p.kind == kGet && !error && cur_hits_ == 0) {
      to_set_.push_back(p.key);
    }
    cur_hits_ = 0;
    PopFront();
  }

  // Consumes complete replies from the input buffer. A reply that is not yet fully received is
  // left in place and re-parsed when more bytes arrive.
  void Parse(uint64_t now, Stats* stats) {
    while (count_ > 0 && rpos_ < wpos_) {
      const char* base = in_.data() + rpos_;
      size_t avail = wpos_ - rpos_;
      const char* nl = static_cast<const char*>(std::memchr(base, '\n', avail));
      if (nl == nullptr) {
        if (avail > 8192) Desync("reply line too long", stats);
        return;
      }
      size_t line_len = static_cast<size_t>(nl - base) + 1;
      if (line_len < 2 || base[line_len - 2] != '\r') {
        Desync("reply line without CRLF", stats);
        return;
      }
      std::string_view line(base, line_len - 2);
      Pending& p = Front();
      if (p.kind == kSet) {
        rpos_ += line_len;
        Complete(now, stats, line != "STORED");
        continue;
      }
      if (line == "END") {
        rpos_ += line_len;
        Complete(now, stats, false);
        continue;
      }
      if (StartsWith(line, "VALUE ")) {
        // VALUE <key> <flags> <bytes> [<cas>]
        size_t bytes = 0;
        if (!ParseValueBytes(line, &bytes)) {
          Desync("malformed VALUE line", stats);
          return;
        }
        size_t need = line_len + bytes + 2;
        if (avail < need) {
          if (in_.size() < need + 4096) in_.resize(need + 4096);  // keep room to receive it
          return;
        }
        if (base[line_len + bytes] != '\r' || base[line_len + bytes + 1] != '\n') {
          Desync("data block not terminated by CRLF", stats);
          return;
        }
        if (bytes != static_cast<size_t>(plan_->opt.value_size)) ++stats->errors;
        ++cur_hits_;
        rpos_ += need;
        continue;
      }
      // ERROR, CLIENT_ERROR ..., SERVER_ERROR ... end the request.
      rpos_ += line_len;
      Complete(now, stats, true);
    }
    if (count_ == 0 && rpos_ < wpos_) Desync("unsolicited bytes from server", stats);
  }

  static bool ParseValueBytes(std::string_view line, size_t* bytes) {
    // Skip "VALUE", key, flags; the fourth token is the byte count.
    size_t pos = 0;
    for (int tok = 0; tok < 3; ++tok) {
      pos = line.find(' ', pos);
      if (pos == std::string_view::npos) return false;
      ++pos;
    }
    size_t v = 0;
    size_t digits = 0;
    while (pos < line.size() && line[pos] >= '0' && line[pos] <= '9' && digits < 10) {
      v = v * 10 + static_cast<size_t>(line[pos] - '0');
      ++pos;
      ++digits;
    }
    if (digits == 0 || (pos < line.size() && line[pos] != ' ')) return false;
    *bytes = v;
    return true;
  }

  void Desync(const char* why, Stats* stats) {
    // The reply stream can no longer be matched to requests: give the connection up.
    AbandonInflight(stats);
    Kill(why);
  }

  const Plan* plan_;
  int index_;
  Rng rng_;
  int fd_ = -1;
  bool dead_ = false;
  bool killed_reported_ = false;
  Phase phase_ = Phase::kPrefill;
  uint64_t prefill_next_ = 0;
  uint64_t prefill_end_ = 0;
  uint64_t cap_ = kUnlimited;
  uint64_t measured_issued_ = 0;
  uint64_t measured_done_ = 0;
  uint64_t next_send_ns_ = 0;
  uint64_t scan_next_ = 0;
  uint32_t cur_hits_ = 0;
  std::vector<uint64_t> to_set_;
  std::string out_;
  size_t out_off_ = 0;
  std::vector<char> in_;
  size_t rpos_ = 0;
  size_t wpos_ = 0;
  std::vector<Pending> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
};

// ---------------------------------------------------------------------------------------------
// One event-loop thread and the connections it owns.

class Worker {
 public:
  Worker(const Plan* plan) : plan_(plan) {}
  ~Worker() {
    for (auto& c : conns_) c->Close();
    if (timer_fd_ >= 0) close(timer_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  bool Init(int first_index, int nconns) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_fd_ < 0 || timer_fd_ < 0) return false;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kTimerTag;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev);
    for (int i = 0; i < nconns; ++i) {
      int index = first_index + i;
      uint64_t seed = plan_->opt.seed * 0x100000001B3ULL + static_cast<uint64_t>(index) + 1;
      auto c = std::make_unique<Connection>(plan_, index, seed);
      if (!c->Connect()) return false;
      epoll_event cev{};
      cev.events = EPOLLIN | EPOLLOUT | EPOLLET;
      cev.data.u64 = static_cast<uint64_t>(i);
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd(), &cev) != 0) return false;
      conns_.push_back(std::move(c));
    }
    return true;
  }

  std::vector<std::unique_ptr<Connection>>& conns() { return conns_; }
  Stats& stats() {
    for (const auto& c : conns_) {
      stats_.conn_min_ops = std::min(stats_.conn_min_ops, c->measured_done());
      stats_.conn_max_ops = std::max(stats_.conn_max_ops, c->measured_done());
    }
    return stats_;
  }

  // Drives every connection until the phase ends (all done and answered) or the deadline.
  void Run(uint64_t hard_deadline_ns) {
    uint64_t now = NowNs();
    for (auto& c : conns_) {
      c->Fill(now);
      c->Flush();
    }
    epoll_event events[64];
    for (;;) {
      now = NowNs();
      bool all_finished = true;
      for (auto& c : conns_) {
        if (!c->Finished(now)) {
          all_finished = false;
          break;
        }
      }
      if (all_finished) break;
      if (now >= hard_deadline_ns) {
        for (auto& c : conns_) c->AbandonInflight(&stats_);
        break;
      }
      ArmPacingTimer(now);
      int n = epoll_wait(epoll_fd_, events, 64, 20);
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        break;
      }
      now = NowNs();
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == kTimerTag) {
          uint64_t expirations;
          (void)!read(timer_fd_, &expirations, sizeof(expirations));
          for (auto& c : conns_) {
            c->Fill(now);
            c->Flush();
          }
          continue;
        }
        Connection& c = *conns_[events[i].data.u64];
        if (c.dead()) continue;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) c.OnReadable(now, &stats_);
        c.Fill(now);
        c.Flush();
        if (c.dead()) c.AbandonInflight(&stats_);
      }
    }
  }

 private:
  static constexpr uint64_t kTimerTag = ~0ULL;

  void ArmPacingTimer(uint64_t now) {
    if (plan_->interval_ns == 0) return;
    uint64_t earliest = ~0ULL;
    for (auto& c : conns_) {
      if (c->WaitingForClock(now)) earliest = std::min(earliest, c->next_send_ns());
    }
    if (earliest == ~0ULL) return;
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(earliest / kNsPerSec);
    its.it_value.tv_nsec = static_cast<long>(earliest % kNsPerSec);
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  }

  const Plan* plan_;
  int epoll_fd_ = -1;
  int timer_fd_ = -1;
  std::vector<std::unique_ptr<Connection>> conns_;
  Stats stats_;
};

// ---------------------------------------------------------------------------------------------
// Reporting.

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

void Report(const Options& o, const Stats& s, double elapsed_s, double prefill_s) {
  double ops_s = PerSecond(s.ops, elapsed_s);
  double keys_s = PerSecond(s.keys_requested + s.sets, elapsed_s);
  double hit_ratio = Fraction(s.hits, s.hits + s.misses);
  const Histogram& h = s.latency;
  if (o.json) {
    std::printf(
        "{\"ops\":%llu,\"elapsed_s\":%.4f,\"ops_per_sec\":%.1f,\"keys_per_sec\":%.1f,"
        "\"gets\":%llu,\"sets\":%llu,\"hits\":%llu,\"misses\":%llu,\"hit_ratio\":%.6f,"
        "\"errors\":%llu,\"prefill_errors\":%llu,\"prefill_s\":%.3f,"
        "\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,\"max_us\":%.2f,"
        "\"mean_us\":%.2f,\"threads\":%d,\"connections\":%d,\"pipeline\":%d,\"multiget\":%d,"
        "\"rate\":%.1f,\"conn_min_ops\":%llu,\"conn_max_ops\":%llu}\n",
        static_cast<unsigned long long>(s.ops), elapsed_s, ops_s, keys_s,
        static_cast<unsigned long long>(s.gets), static_cast<unsigned long long>(s.sets),
        static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
        hit_ratio, static_cast<unsigned long long>(s.errors),
        static_cast<unsigned long long>(s.prefill_errors), prefill_s, Us(h.Quantile(0.50)),
        Us(h.Quantile(0.90)), Us(h.Quantile(0.99)), Us(h.Quantile(0.999)), Us(h.max()),
        h.mean() / 1000.0, o.threads, o.connections, o.pipeline, o.multiget, o.rate,
        static_cast<unsigned long long>(s.conn_min_ops == UINT64_MAX ? 0 : s.conn_min_ops),
        static_cast<unsigned long long>(s.conn_max_ops));
    return;
  }
  std::printf("target %s:%d  threads %d  connections %d  pipeline %d  multiget %d  ratio %d:%d\n",
              o.host.c_str(), o.port, o.threads, o.connections, o.pipeline, o.multiget,
              o.get_weight, o.set_weight);
  if (prefill_s > 0) std::printf("prefill       %.2f s\n", prefill_s);
  if (elapsed_s <= 0) {
    std::printf("errors %llu\n", static_cast<unsigned long long>(s.errors + s.prefill_errors));
    return;
  }
  std::printf("requests      %llu in %.2f s = %.0f req/s (%.0f keys/s)\n",
              static_cast<unsigned long long>(s.ops), elapsed_s, ops_s, keys_s);
  std::printf("gets %llu  sets %llu  hits %llu  misses %llu  hit ratio %.4f  errors %llu\n",
              static_cast<unsigned long long>(s.gets), static_cast<unsigned long long>(s.sets),
              static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
              hit_ratio, static_cast<unsigned long long>(s.errors + s.prefill_errors));
  std::printf("latency us    p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f%s\n",
              Us(h.Quantile(0.50)), Us(h.Quantile(0.90)), Us(h.Quantile(0.99)),
              Us(h.Quantile(0.999)), Us(h.max()), h.mean() / 1000.0,
              o.rate > 0 ? "  (from intended send time)" : "");
  if (s.conn_max_ops > 0) {
    std::printf("per connection  fewest %llu  most %llu requests\n",
                static_cast<unsigned long long>(s.conn_min_ops),
                static_cast<unsigned long long>(s.conn_max_ops));
  }
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Plan plan;
  if (!ParseOptions(argc, argv, &plan.opt)) return 2;
  const Options& o = plan.opt;
  plan.chooser = std::make_unique<KeyChooser>(o);
  std::string value(static_cast<size_t>(o.value_size), 'x');
  for (int i = 0; i < o.value_size; ++i) value[i] = static_cast<char>('a' + i % 26);
  plan.set_tail = " 0 0 " + std::to_string(o.value_size) + "\r\n" + value + "\r\n";
  if (o.rate > 0) {
    plan.interval_ns =
        static_cast<uint64_t>(static_cast<double>(kNsPerSec) * o.connections / o.rate);
    if (plan.interval_ns == 0) plan.interval_ns = 1;
  }

  std::vector<std::unique_ptr<Worker>> workers;
  int next_index = 0;
  for (int t = 0; t < o.threads; ++t) {
    int n = o.connections / o.threads + (t < o.connections % o.threads ? 1 : 0);
    auto w = std::make_unique<Worker>(&plan);
    if (!w->Init(next_index, n)) {
      std::fprintf(stderr, "loadgen: could not connect to %s:%d\n", o.host.c_str(), o.port);
      return 1;
    }
    next_index += n;
    workers.push_back(std::move(w));
  }

  auto run_all = [&](uint64_t deadline) {
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w, deadline] { w->Run(deadline); });
    for (auto& t : threads) t.join();
  };

  double prefill_s = 0;
  if (o.prefill) {
    uint64_t t0 = NowNs();
    uint64_t total = static_cast<uint64_t>(o.connections);
    uint64_t index = 0;  // contiguous key ranges, one per connection
    for (auto& w : workers) {
      for (auto& c : w->conns()) {
        uint64_t lo = o.keys * index / total;
        uint64_t hi = o.keys * (index + 1) / total;
        c->StartPrefill(lo, hi);
        ++index;
      }
    }
    if (!o.quiet)
      std::fprintf(stderr, "loadgen: prefilling %llu keys\n",
                   static_cast<unsigned long long>(o.keys));
    run_all(t0 + kPrefillTimeoutNs);
    prefill_s = static_cast<double>(NowNs() - t0) / kNsPerSec;
  }

  bool main_phase = o.duration_s > 0 || o.requests > 0;
  double elapsed_s = 0;
  if (main_phase) {
    uint64_t now = NowNs();
    plan.measure_start_ns = now + static_cast<uint64_t>(o.warmup_s * kNsPerSec);
    double window = o.duration_s > 0 ? o.duration_s : kMaxDurationS;
    plan.measure_end_ns = plan.measure_start_ns + static_cast<uint64_t>(window * kNsPerSec);
    uint64_t index = 0;
    uint64_t total = static_cast<uint64_t>(o.connections);
    for (auto& w : workers) {
      for (auto& c : w->conns()) {
        uint64_t cap = kUnlimited;
        if (o.requests > 0) cap = o.requests / total + (index < o.requests % total ? 1 : 0);
        c->StartMain(cap, now);
        ++index;
      }
    }
    run_all(plan.measure_end_ns + kDrainGraceNs);
  }

  Stats total;
  for (auto& w : workers) total.Merge(w->stats());
  if (main_phase) {
    // A --requests run ends when its last reply arrives; a timed run lasts its full window.
    uint64_t end = plan.measure_end_ns;
    if (o.requests > 0 && total.last_done_ns != 0 && total.last_done_ns < end) {
      end = total.last_done_ns;
    }
    if (end > plan.measure_start_ns) {
      elapsed_s = static_cast<double>(end - plan.measure_start_ns) / kNsPerSec;
    }
  }
  Report(o, total, elapsed_s, prefill_s);
  return (total.errors + total.prefill_errors) == 0 ? 0 : 3;
}

}  // namespace
}  // namespace memshield::bench

int main(int argc, char** argv) { return memshield::bench::Main(argc, argv); }
