// memshield-udp-bench: a UDP `get` load generator for memcached's UDP framing, with or without
// memshield's cookie block. Keeps --window requests in flight on every socket, matches answers
// by request id, reassembles multi-datagram answers, never retransmits (a request not answered
// within --timeout-ms is counted lost) and reports answers/s, loss and latency percentiles.
// Loopback only; self-contained (no memshield library) so it builds with bench/ alone.

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

constexpr double kMaxDurationS = 300.0;
constexpr uint64_t kTcpTimeoutNs = 120 * kNsPerSec;  // prefill and cookie fetches, in all
constexpr size_t kHeaderSize = 8;
constexpr size_t kCookieBlockSize = 26;
constexpr uint16_t kCookieMagic = 0x4D53;  // "MS" in the frame header's reserved field
constexpr size_t kMaxDatagram = 1400;      // memcached's UDP_MAX_PAYLOAD_SIZE, header included
constexpr int kBatch = 32;                 // datagrams per recvmmsg / sendmmsg
constexpr int kMaxSegments = 1024;         // largest reassembled answer, in datagrams

void PutU16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v & 0xff);
}

uint16_t GetU16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}

// ---------------------------------------------------------------------------------------------
// Options.

enum class Mode { kLegacy, kCookie };

struct Options {
  std::string host = "127.0.0.1";
  int port = 11211;
  int tcp_port = 0;  // 0: same as --port
  int threads = 1;
  int sockets = 4;
  int window = 16;
  double duration_s = 8;
  double warmup_s = 0;
  int timeout_ms = 1000;
  uint64_t keys = 100000;
  int key_size = 32;
  int value_size = 100;
  bool prefill = false;
  Mode mode = Mode::kLegacy;
  uint64_t seed = 1;
  bool json = false;
};

void Usage() {
  std::fprintf(stderr,
               "usage: memshield-udp-bench [options]\n"
               "  --host ADDR        127.x.x.x only (default 127.0.0.1)\n"
               "  --port N           server UDP port (default 11211)\n"
               "  --tcp-port N       server TCP port for --prefill and cookies (default: --port)\n"
               "  --threads N        client threads (default 1)\n"
               "  --sockets N        UDP sockets per thread (default 4)\n"
               "  --window W         requests in flight per socket, 1..4096 (default 16)\n"
               "  --duration S       measured seconds, max 300 (default 8)\n"
               "  --warmup S         unmeasured seconds first, max 60 (default 0)\n"
               "  --timeout-ms MS    a request unanswered this long is lost (default 1000)\n"
               "  --keys N           keyspace size (default 100000)\n"
               "  --key-size N       key length (default 32)\n"
               "  --value-size N     value length for --prefill (default 100)\n"
               "  --prefill          set every key over TCP before measuring\n"
               "  --mode legacy|cookie  plain memcached frames, or memshield's cookie block with\n"
               "                     a server cookie fetched over TCP ('shield cookie')\n"
               "  --seed N           random seed (default 1)\n"
               "  --json             one JSON line instead of the text report\n");
}

bool ParseOptions(int argc, char** argv, Options* o) {
  OptionParser p(Usage, /*allow_equals=*/false);
  p.Flag("--prefill", &o->prefill);
  p.Flag("--json", &o->json);
  p.String("--host", &o->host);
  p.Int("--port", 1, 65535, &o->port);
  p.Int("--tcp-port", 1, 65535, &o->tcp_port);
  p.Int("--threads", 1, 64, &o->threads);
  p.Int("--sockets", 1, 256, &o->sockets);
  p.Int("--window", 1, 4096, &o->window);
  p.Double("--duration", 0.1, kMaxDurationS, &o->duration_s);
  p.Double("--warmup", 0, 60, &o->warmup_s);
  p.Int("--timeout-ms", 1, 60000, &o->timeout_ms);
  p.U64("--keys", 1, 100'000'000, &o->keys);
  p.Int("--key-size", 2, 250, &o->key_size);
  p.Int("--value-size", 0, 1 << 20, &o->value_size);
  p.Value("--mode", [o](const std::string& m) {
    o->mode = m == "cookie" ? Mode::kCookie : Mode::kLegacy;
    return m == "legacy" || m == "cookie";
  });
  p.U64("--seed", 0, UINT64_MAX, &o->seed);
  if (!p.Parse(argc, argv)) return false;
  in_addr a4;
  if (inet_pton(AF_INET, o->host.c_str(), &a4) != 1 || (ntohl(a4.s_addr) >> 24) != 127) {
    std::fprintf(stderr, "--host must be an IPv4 loopback address (127.x.x.x), not %s\n",
                 o->host.c_str());
    return false;
  }
  if (DecimalDigits(o->keys) + 1 > o->key_size) {
    std::fprintf(stderr, "--key-size %d too small for %llu keys\n", o->key_size,
                 static_cast<unsigned long long>(o->keys));
    return false;
  }
  // A get line must fit in one request datagram.
  if (kHeaderSize + kCookieBlockSize + 4 + o->key_size + 2 > kMaxDatagram) {
    std::fprintf(stderr, "--key-size too large for one datagram\n");
    return false;
  }
  if (o->tcp_port == 0) o->tcp_port = o->port;
  return true;
}

struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return static_cast<uint64_t>((unsigned __int128)Next() * n >> 64); }
};

// Log-linear latency histogram in microseconds: 32 sub-buckets per power of two, ~3% wide.
class Histogram {
 public:
  Histogram() : counts_(64 + 40 * 32, 0) {}
  void Add(uint64_t us) { ++counts_[Index(us)]; }
  void Merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
  }
  double Percentile(double p) const {
    uint64_t total = 0;
    for (uint64_t c : counts_) total += c;
    if (total == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(p * static_cast<double>(total - 1)) + 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return Midpoint(i);
    }
    return Midpoint(counts_.size() - 1);
  }

 private:
  static size_t Index(uint64_t v) {
    if (v < 64) return v;
    int h = 63 - __builtin_clzll(v);  // >= 6
    size_t i = 64 + static_cast<size_t>(h - 6) * 32 + ((v >> (h - 5)) & 31);
    return std::min(i, static_cast<size_t>(64 + 40 * 32 - 1));
  }
  static double Midpoint(size_t i) {
    if (i < 64) return static_cast<double>(i);
    int h = static_cast<int>((i - 64) / 32) + 6;
    uint64_t sub = (i - 64) % 32;
    double lo = static_cast<double>((32 + sub) << (h - 5));
    return lo + static_cast<double>(1ULL << (h - 5)) / 2;
  }
  std::vector<uint64_t> counts_;
};

// ---------------------------------------------------------------------------------------------
// TCP: prefill and cookie fetches. Blocking sockets with a receive timeout; every loop is
// bounded by the byte count it waits for and by kTcpTimeoutNs.

int TcpConnect(const Options& o) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(o.tcp_port));
  inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads until `lines` CRLF-terminated lines have arrived; appends them to *out.
bool ReadLines(int fd, size_t lines, uint64_t deadline, std::string* out) {
  size_t seen = 0;
  size_t scan = out->size();
  char buf[16384];
  while (seen < lines) {
    if (NowNs() > deadline) return false;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
    for (size_t p; (p = out->find("\r\n", scan)) != std::string::npos; scan = p + 2) ++seen;
  }
  return true;
}

// Sets every key in batches of 64 pipelined sets; returns the number of non-STORED replies,
// or -1 if the connection failed.
int64_t Prefill(const Options& o) {
  int fd = TcpConnect(o);
  if (fd < 0) return -1;
  const uint64_t deadline = NowNs() + kTcpTimeoutNs;
  const std::string value(static_cast<size_t>(o.value_size), 'v');
  int64_t errors = 0;
  std::string req;
  std::string reply;
  for (uint64_t k = 0; k < o.keys;) {
    req.clear();
    uint64_t end = std::min<uint64_t>(o.keys, k + 64);
    for (uint64_t i = k; i < end; ++i) {
      req += "set ";
      AppendKey(&req, i, o.key_size);
      req += " 0 0 " + std::to_string(o.value_size) + "\r\n";
      req += value;
      req += "\r\n";
    }
    reply.clear();
    if (!SendAll(fd, req) || !ReadLines(fd, end - k, deadline, &reply)) {
      close(fd);
      return -1;
    }
    size_t stored = 0;
    for (size_t p = 0; (p = reply.find("STORED\r\n", p)) != std::string::npos; p += 8) ++stored;
    errors += static_cast<int64_t>((end - k) - std::min<size_t>(stored, end - k));
    k = end;
  }
  close(fd);
  return errors;
}

// Asks for a server cookie bound to our address and `client_cookie` (8 bytes).
bool FetchCookie(const Options& o, const uint8_t client_cookie[8], uint8_t server_cookie[16]) {
  int fd = TcpConnect(o);
  if (fd < 0) return false;
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", client_cookie[i]);
  std::string reply;
  bool ok = SendAll(fd, std::string("shield cookie ") + hex + "\r\n") &&
            ReadLines(fd, 1, NowNs() + 10 * kNsPerSec, &reply);
  close(fd);
  // "COOKIE " + 32 hex digits + CRLF
  if (!ok || reply.size() != 41 || reply.compare(0, 7, "COOKIE ") != 0) {
    std::fprintf(stderr, "shield cookie: unexpected reply '%.60s'\n", reply.c_str());
    return false;
  }
  for (int i = 0; i < 16; ++i) {
    unsigned v;
    if (std::sscanf(reply.c_str() + 7 + 2 * i, "%2x", &v) != 1) return false;
    server_cookie[i] = static_cast<uint8_t>(v);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The UDP load: one thread drives several connected sockets through one epoll set.

struct Stats {
  uint64_t sent = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t refused = 0;    // "SERVER_ERROR ..." answers (memshield's budget notice)
  uint64_t refreshes = 0;  // cookie refreshes instead of an answer
  uint64_t timeouts = 0;   // requests never (fully) answered within --timeout-ms
  uint64_t errors = 0;     // malformed or unexpected answers
  uint64_t stray = 0;      // datagrams for no request in flight (late, after a timeout)
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t datagrams_received = 0;
  Histogram latency;

  void Merge(const Stats& s) {
    sent += s.sent;
    hits += s.hits;
    misses += s.misses;
    refused += s.refused;
    refreshes += s.refreshes;
    timeouts += s.timeouts;
    errors += s.errors;
    stray += s.stray;
    bytes_sent += s.bytes_sent;
    bytes_received += s.bytes_received;
    datagrams_received += s.datagrams_received;
    latency.Merge(s.latency);
  }
};

struct Pending {
  uint64_t start_ns = 0;
  uint16_t id = 0;
  bool active = false;
  bool measured = false;
  uint16_t total = 0;     // datagrams in the answer, from the first one seen
  uint16_t received = 0;  // distinct datagrams seen
  uint32_t text_bytes = 0;
  char first[16] = {};  // start of the text of datagram 0, to classify the answer
  size_t first_len = 0;
  std::vector<uint64_t> seen;  // bitmap by sequence number
};

class UdpSocket {
 public:
  explicit UdpSocket(int window) : pending_(static_cast<size_t>(window)) {
    slot_of_id_.assign(65536, -1);
  }
  ~UdpSocket() {
    if (fd_ >= 0) close(fd_);
  }

  bool Open(const Options& o) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return false;
    int buf = 4 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr);
    return connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }

  int fd() const { return fd_; }
  uint8_t* client_cookie() { return client_cookie_; }
  uint8_t* server_cookie() { return server_cookie_; }
  // Only answers to requests sent after the warmup, and bytes moved after it, are counted.
  void set_counting(bool on) { counting_ = on; }

  // Measured requests still unanswered when the run ends: neither answered nor lost.
  uint64_t InFlightMeasured() const {
    uint64_t n = 0;
    for (const Pending& p : pending_) n += p.active && p.measured;
    return n;
  }

  // Fills every free slot with a new get, sent in sendmmsg batches.
  void FillWindow(const Options& o, SplitMix64& rng, uint64_t now, bool measured, Stats* st) {
    for (size_t i = 0; i < pending_.size(); ++i) {
      if (!pending_[i].active) Start(o, rng, i, now, measured, st);
    }
    Flush(st);
  }

  // Reads every queued datagram; completed slots are refilled if `refill`.
  void OnReadable(const Options& o, SplitMix64& rng, bool measured, bool refill, Stats* st) {
    mmsghdr msgs[kBatch];
    iovec iovs[kBatch];
    for (int round = 0; round < 64; ++round) {  // bounded: other sockets get their turn
      for (int i = 0; i < kBatch; ++i) {
        iovs[i] = {rbuf_ + i * kMaxDatagram, kMaxDatagram};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int n = recvmmsg(fd_, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      const uint64_t now = NowNs();
      for (int i = 0; i < n; ++i) {
        OnDatagram(o, std::string_view(rbuf_ + i * kMaxDatagram, msgs[i].msg_len), now, st);
      }
      if (refill) {
        for (size_t s : done_) Start(o, rng, s, now, measured, st);
      }
      done_.clear();
      Flush(st);
      if (n < kBatch) break;
    }
  }

  // Declares requests older than the timeout lost and (if `refill`) replaces them.
  void Expire(const Options& o, SplitMix64& rng, uint64_t now, bool measured, bool refill,
              Stats* st) {
    const uint64_t limit = static_cast<uint64_t>(o.timeout_ms) * 1'000'000ULL;
    for (size_t i = 0; i < pending_.size(); ++i) {
      Pending& p = pending_[i];
      if (!p.active || now < p.start_ns + limit) continue;
      if (p.measured) ++st->timeouts;
      Release(i);
      if (refill) Start(o, rng, i, now, measured, st);
    }
    Flush(st);
  }

 private:
  // Every measured request counts as sent: one the kernel refuses is lost, as on a network.
  void Start(const Options& o, SplitMix64& rng, size_t slot, uint64_t now, bool measured,
             Stats* st) {
    // Next free request id; at most `window` (<= 4096) of the 65536 are ever in use.
    while (slot_of_id_[next_id_] >= 0) ++next_id_;
    const uint16_t id = next_id_++;
    Pending& p = pending_[slot];
    p.start_ns = now;
    p.id = id;
    p.active = true;
    p.measured = measured;
    p.total = 0;
    p.received = 0;
    p.text_bytes = 0;
    p.first_len = 0;
    slot_of_id_[id] = static_cast<int32_t>(slot);

    std::string& d = out_[out_count_++];
    d.assign(kHeaderSize, '\0');
    PutU16(d.data(), id);
    PutU16(d.data() + 4, 1);  // total
    if (o.mode == Mode::kCookie) {
      PutU16(d.data() + 6, kCookieMagic);
      d.push_back(1);  // version
      d.push_back(1);  // flags: server cookie present
      d.append(reinterpret_cast<const char*>(client_cookie_), 8);
      d.append(reinterpret_cast<const char*>(server_cookie_), 16);
    }
    d += "get ";
    AppendKey(&d, rng.Below(o.keys), o.key_size);
    d += "\r\n";
    if (measured) ++st->sent;
    if (out_count_ == kBatch) Flush(st);
  }

  // Sends the queued datagrams; one the kernel refuses (buffer full) times out.
  void Flush(Stats* st) {
    if (out_count_ == 0) return;
    mmsghdr msgs[kBatch];
    iovec iovs[kBatch];
    for (int i = 0; i < out_count_; ++i) {
      iovs[i] = {out_[i].data(), out_[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int sent = 0;
    for (int tries = 0; tries < 4 && sent < out_count_; ++tries) {
      int n = sendmmsg(fd_, msgs + sent, static_cast<unsigned>(out_count_ - sent), 0);
      if (n <= 0) break;
      sent += n;
    }
    if (counting_) {
      for (int i = 0; i < sent; ++i) st->bytes_sent += out_[i].size();
    }
    out_count_ = 0;
  }

  void Release(size_t slot) {
    Pending& p = pending_[slot];
    slot_of_id_[p.id] = -1;
    p.active = false;
  }

  void OnDatagram(const Options& o, std::string_view d, uint64_t now, Stats* st) {
    if (counting_) {
      ++st->datagrams_received;
      st->bytes_received += d.size();
    }
    if (d.size() < kHeaderSize) {
      if (counting_) ++st->errors;
      return;
    }
    const uint16_t id = GetU16(d.data());
    const uint16_t seq = GetU16(d.data() + 2);
    const uint16_t total = GetU16(d.data() + 4);
    const uint16_t reserved = GetU16(d.data() + 6);
    const int32_t slot = slot_of_id_[id];
    if (slot < 0) {
      if (counting_) ++st->stray;
      return;
    }
    Pending& p = pending_[static_cast<size_t>(slot)];
    if (reserved == kCookieMagic) {  // a refresh: the request was not executed
      if (d.size() == kHeaderSize + kCookieBlockSize && d[kHeaderSize] == 1) {
        std::memcpy(server_cookie_, d.data() + kHeaderSize + 10, 16);
        if (p.measured) ++st->refreshes;
      } else if (p.measured) {
        ++st->errors;
      }
      Release(static_cast<size_t>(slot));
      done_.push_back(static_cast<size_t>(slot));
      return;
    }
    if (total == 0 || total > kMaxSegments || seq >= total || (p.total && p.total != total)) {
      if (p.measured) ++st->errors;
      Release(static_cast<size_t>(slot));
      done_.push_back(static_cast<size_t>(slot));
      return;
    }
    if (p.total == 0) {
      p.total = total;
      p.seen.assign((total + 63) / 64, 0);
    }
    uint64_t bit = 1ULL << (seq % 64);
    if (p.seen[seq / 64] & bit) return;  // duplicate
    p.seen[seq / 64] |= bit;
    ++p.received;
    p.text_bytes += static_cast<uint32_t>(d.size() - kHeaderSize);
    if (seq == 0) {
      p.first_len = std::min(sizeof(p.first), d.size() - kHeaderSize);
      std::memcpy(p.first, d.data() + kHeaderSize, p.first_len);
    }
    if (p.received < p.total) return;
    if (p.measured) Classify(o, p, now, st);
    Release(static_cast<size_t>(slot));
    done_.push_back(static_cast<size_t>(slot));
  }

  void Classify(const Options& o, const Pending& p, uint64_t now, Stats* st) {
    std::string_view head(p.first, p.first_len);
    // "VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n" with flags 0, as --prefill stores.
    const size_t hit_len =
        6 + o.key_size + 3 + DecimalDigits(o.value_size) + 2 + o.value_size + 2 + 5;
    if (head.substr(0, 6) == "VALUE " && p.text_bytes == hit_len) {
      ++st->hits;
    } else if (head == "END\r\n" && p.text_bytes == 5) {
      ++st->misses;
    } else if (head.substr(0, 13) == "SERVER_ERROR ") {
      ++st->refused;
      return;  // not an answer: no latency sample
    } else {
      ++st->errors;
      return;
    }
    st->latency.Add((now - p.start_ns) / 1000);
  }

  int fd_ = -1;
  std::vector<Pending> pending_;
  std::vector<int32_t> slot_of_id_;
  uint16_t next_id_ = 0;
  std::vector<size_t> done_;
  std::string out_[kBatch];
  int out_count_ = 0;
  bool counting_ = false;
  uint8_t client_cookie_[8] = {};
  uint8_t server_cookie_[16] = {};
  char rbuf_[kBatch * kMaxDatagram];
};

struct Shared {
  std::atomic<bool> failed{false};
};

void RunThread(const Options& o, int index, uint64_t t_start, Shared* shared, Stats* st) {
  SplitMix64 rng{o.seed * 0x100000001B3ULL + static_cast<uint64_t>(index)};
  std::vector<std::unique_ptr<UdpSocket>> socks;
  int ep = epoll_create1(0);
  if (ep < 0) {
    shared->failed = true;
    return;
  }
  for (int i = 0; i < o.sockets; ++i) {
    auto s = std::make_unique<UdpSocket>(o.window);
    if (!s->Open(o)) {
      shared->failed = true;
      close(ep);
      return;
    }
    if (o.mode == Mode::kCookie) {
      for (int b = 0; b < 8; ++b) s->client_cookie()[b] = static_cast<uint8_t>(rng.Next());
      if (!FetchCookie(o, s->client_cookie(), s->server_cookie())) {
        shared->failed = true;
        close(ep);
        return;
      }
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd(), &ev);
    socks.push_back(std::move(s));
  }
  const uint64_t measure_from = t_start + static_cast<uint64_t>(o.warmup_s * 1e9);
  const uint64_t stop_at = measure_from + static_cast<uint64_t>(o.duration_s * 1e9);
  uint64_t now = NowNs();
  bool measured = now >= measure_from;
  for (auto& s : socks) {
    s->set_counting(measured);
    s->FillWindow(o, rng, now, measured, st);
  }
  uint64_t next_expire = now + 5'000'000;
  epoll_event evs[64];
  // Bounded by stop_at; each iteration waits at most 5 ms.
  while (now < stop_at) {
    int n = epoll_wait(ep, evs, 64, 5);
    now = NowNs();
    const bool m = now >= measure_from;
    if (m != measured) {
      measured = m;
      for (auto& s : socks) s->set_counting(measured);
    }
    const bool refill = now < stop_at;
    for (int i = 0; i < n; ++i) {
      socks[evs[i].data.u32]->OnReadable(o, rng, measured, refill, st);
    }
    if (now >= next_expire) {
      for (auto& s : socks) s->Expire(o, rng, now, measured, refill, st);
      next_expire = now + 5'000'000;
    }
  }
  for (auto& s : socks) st->sent -= s->InFlightMeasured();
  close(ep);
}

void PrintReport(const Options& o, const Stats& s, double elapsed, int64_t prefill_errors,
                 double prefill_s) {
  const uint64_t answers = s.hits + s.misses;
  const double per_s = PerSecond(answers, elapsed);
  const double answered = Fraction(answers, s.sent);
  const double out_in = Fraction(s.bytes_received, s.bytes_sent);
  const char* mode = o.mode == Mode::kCookie ? "cookie" : "legacy";
  if (o.json) {
    std::printf(
        "{\"mode\":\"%s\",\"threads\":%d,\"sockets\":%d,\"window\":%d,\"duration_s\":%.3f,"
        "\"sent\":%llu,\"answers\":%llu,\"answers_per_sec\":%.1f,\"hits\":%llu,\"misses\":%llu,"
        "\"refused\":%llu,\"refreshes\":%llu,\"timeouts\":%llu,\"errors\":%llu,\"stray\":%llu,"
        "\"answered_ratio\":%.4f,\"bytes_sent\":%llu,\"bytes_received\":%llu,"
        "\"datagrams_received\":%llu,\"bytes_out_over_in\":%.4f,\"p50_us\":%.1f,"
        "\"p99_us\":%.1f,\"prefill_errors\":%lld,\"prefill_s\":%.3f}\n",
        mode, o.threads, o.sockets, o.window, elapsed, (unsigned long long)s.sent,
        (unsigned long long)answers, per_s, (unsigned long long)s.hits,
        (unsigned long long)s.misses, (unsigned long long)s.refused,
        (unsigned long long)s.refreshes, (unsigned long long)s.timeouts,
        (unsigned long long)s.errors, (unsigned long long)s.stray, answered,
        (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
        (unsigned long long)s.datagrams_received, out_in, s.latency.Percentile(0.50),
        s.latency.Percentile(0.99), (long long)prefill_errors, prefill_s);
    return;
  }
  std::printf("mode %s, %d threads x %d sockets x window %d, %.2f s measured\n", mode, o.threads,
              o.sockets, o.window, elapsed);
  std::printf("answers    %llu (%.0f/s; %llu hits, %llu misses) of %llu sent (%.4f)\n",
              (unsigned long long)answers, per_s, (unsigned long long)s.hits,
              (unsigned long long)s.misses, (unsigned long long)s.sent, answered);
  std::printf(
      "not served %llu refused, %llu cookie refreshes, %llu timeouts, %llu errors, "
      "%llu stray datagrams\n",
      (unsigned long long)s.refused, (unsigned long long)s.refreshes,
      (unsigned long long)s.timeouts, (unsigned long long)s.errors, (unsigned long long)s.stray);
  std::printf("bytes      %llu sent, %llu received (%.3fx)\n", (unsigned long long)s.bytes_sent,
              (unsigned long long)s.bytes_received, out_in);
  std::printf("latency    p50 %.1f us, p99 %.1f us\n", s.latency.Percentile(0.50),
              s.latency.Percentile(0.99));
  if (o.prefill) {
    std::printf("prefill    %llu keys in %.2f s, %lld errors\n", (unsigned long long)o.keys,
                prefill_s, (long long)prefill_errors);
  }
}

int Main(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  int64_t prefill_errors = 0;
  double prefill_s = 0;
  if (o.prefill) {
    uint64_t t0 = NowNs();
    prefill_errors = Prefill(o);
    prefill_s = static_cast<double>(NowNs() - t0) / 1e9;
    if (prefill_errors < 0) {
      std::fprintf(stderr, "prefill failed: cannot talk to %s:%d over TCP\n", o.host.c_str(),
                   o.tcp_port);
      return 1;
    }
  }
  Shared shared;
  std::vector<Stats> stats(static_cast<size_t>(o.threads));
  std::vector<std::thread> threads;
  const uint64_t t_start = NowNs();
  for (int i = 0; i < o.threads; ++i) {
    threads.emplace_back(RunThread, std::cref(o), i, t_start, &shared, &stats[i]);
  }
  for (auto& t : threads) t.join();
  if (shared.failed) {
    std::fprintf(stderr, "setup failed (UDP socket, or cookie fetch over TCP port %d)\n",
                 o.tcp_port);
    return 1;
  }
  Stats total;
  for (const Stats& s : stats) total.Merge(s);
  PrintReport(o, total, o.duration_s, prefill_errors, prefill_s);
  return 0;
}

}  // namespace
}  // namespace memshield::bench

int main(int argc, char** argv) { return memshield::bench::Main(argc, argv); }
