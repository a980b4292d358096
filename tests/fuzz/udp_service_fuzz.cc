// libFuzzer target for the UDP service behind the guard: server::UdpService::on_datagram with a
// real Shield built from Settings, a real store, and datagrams from a handful of source
// addresses and ports chosen by the input. It checks memshield's headline promise: to a source
// that proved nothing (no valid cookie, not trusted, no live TCP connection), the total reply
// bytes never exceed --udp-max-amplification times the bytes of its unproven datagrams (proven
// ones earn no credit: they must not pay for answers to forgeries); a cookie refresh
// is never larger than the datagram that asked for it; and such a source never gets an answer
// to a write or an admin command. Binary requests (answered per request, as memcached does)
// are held to the same promises.
//
// Input: byte 0 = configuration (bits 0-2: amplification factor, 3: trust 10.0.0.0/8, 4:
// --udp-validate=tcp with one address holding a TCP connection). Then records: a selector byte
// (bits 0-2: source address, 3-4: source port, 5: let the harness put a valid server cookie in
// the datagram's cookie block, 6: length x 16), a length byte, and that many payload bytes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "engine/context.h"
#include "engine/thread_stats.h"
#include "fuzz_check.h"
#include "protocol/udp_frame/cookie_block.h"
#include "protocol/udp_frame/udp_frame.h"
#include "reply_check.h"
#include "security/ip_address.h"
#include "server/settings.h"
#include "server/shield.h"
#include "server/udp_service.h"
#include "store/store.h"

namespace {

using namespace memshield;
namespace udp = protocol::udp;

constexpr int kUdpPort = 11211;
constexpr double kFactors[8] = {1.0, 0.0, 0.5, 2.0, 3.0, 1.0, 0.3, 1.0};
constexpr uint16_t kPorts[4] = {40000, 52000, kUdpPort, 53};  // the last two are always dropped

// A Shield owns address tables of 64K entries; building one per input costs a millisecond of
// mmap under ASan. So one Shield per configuration lives for the whole run, and each input gets
// addresses no earlier input used (from a counter): per-address budget and rate state starts
// from nothing exactly as with a fresh Shield. Egress (a global byte rate) is off, since it
// would carry over between inputs; it only ever withholds replies.
struct Fixture {
  server::Settings settings;
  std::unique_ptr<server::Shield> shield;
};

Fixture& fixture(uint8_t config) {
  static Fixture fixtures[32];
  Fixture& f = fixtures[config & 31];
  if (!f.shield) {
    f.settings.udp_port = kUdpPort;
    f.settings.udp_max_amplification = kFactors[config & 7];
    f.settings.udp_egress_bps = 0;
    if (config & 0x08) f.settings.udp_trust.push_back("10.0.0.0/8");
    if (config & 0x10) f.settings.udp_validate = "tcp";
    std::shared_ptr<const server::AccessRules> rules;
    std::string error;
    FUZZ_CHECK(server::AccessRules::build(f.settings, &rules, &error));
    f.shield = std::make_unique<server::Shield>(f.settings, rules);
  }
  return f;
}

// The eight sources of input number n: 0-1 share an IPv4 /24, 2 is elsewhere, 3-4 share an IPv6
// /64, 5 is in another /64; 6 holds a TCP connection under --udp-validate=tcp; 7 lies inside
// --udp-trust (10.0.0.0/8) when that is on. Nothing else is ever in 10/8 or 192/8.
sockaddr_storage source(uint32_t n, int src, uint16_t port) {
  sockaddr_storage ss{};
  const uint8_t a = static_cast<uint8_t>(n >> 16), b = static_cast<uint8_t>(n >> 8),
                c = static_cast<uint8_t>(n);
  if (src == 3 || src == 4 || src == 5) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    const uint8_t ip[16] = {0x20,
                            0x01,
                            0x0d,
                            static_cast<uint8_t>(src == 5 ? 0xb9 : 0xb8),
                            static_cast<uint8_t>(n >> 24),
                            a,
                            b,
                            c,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            0,
                            static_cast<uint8_t>(src)};
    memcpy(&sin6->sin6_addr, ip, sizeof(ip));
    return ss;
  }
  static constexpr uint8_t kFirst[8] = {128, 128, 160, 0, 0, 0, 192, 0};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  sin->sin_port = htons(port);
  // 2^21 distinct /24s per role before addresses repeat: minutes apart, far past the budget's
  // 10-second window, by which time their records have aged out.
  uint8_t ip[4] = {static_cast<uint8_t>(kFirst[src] + (a & 0x1f)), b, c,
                   static_cast<uint8_t>(src + 1)};
  if (src == 7) ip[0] = 10, ip[1] = a, ip[2] = b, ip[3] = c;
  memcpy(&sin->sin_addr, ip, sizeof(ip));
  return ss;
}

class NoopHooks final : public engine::Hooks {
 public:
  void stats(std::string_view, OutBuffer& out) override { out.append("END\r\n"); }
  void shutdown(bool) override {}
  void shield(std::string_view, const sockaddr_storage*, OutBuffer& out) override {
    out.append("ERROR\r\n");
  }
};

// What an unproven source may ever be told: the answers to reads (text get's VALUE blocks and
// END; meta mg's VA blocks, HD and EN, with their return flags; mn's MN), VERSION, and the
// budget notice.
void check_unproven_replies(std::string_view text) {
  fuzz::check_replies(text);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 2;
    if (fuzz::reply_starts(line, "VALUE ")) {
      pos += static_cast<size_t>(fuzz::reply_value_length(line)) + 2;
      continue;
    }
    if (fuzz::reply_starts(line, "VA ")) {  // VA <length> <flags>*
      pos += static_cast<size_t>(strtoull(std::string(line.substr(3)).c_str(), nullptr, 10)) + 2;
      continue;
    }
    FUZZ_CHECK(line == "END" || fuzz::reply_starts(line, "VERSION ") || line == "EN" ||
               fuzz::reply_starts(line, "EN ") || line == "MN" || line == "HD" ||
               fuzz::reply_starts(line, "HD ") ||
               line == "SERVER_ERROR response exceeds unvalidated UDP budget; use TCP");
  }
}

// Binary answers: whole response packets; to an unproven source only those of reads (get
// family, noop, version).
void check_binary_replies(std::string_view out, bool reads_only) {
  FUZZ_CHECK(!out.empty());
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 24);
    const auto* u = reinterpret_cast<const uint8_t*>(out.data());
    FUZZ_CHECK(u[0] == 0x81);
    const uint8_t op = u[1];
    const size_t body = (size_t{u[8]} << 24) | (size_t{u[9]} << 16) | (size_t{u[10]} << 8) | u[11];
    FUZZ_CHECK(out.size() >= 24 + body);
    if (reads_only) {
      FUZZ_CHECK(op == 0x00 || op == 0x09 || op == 0x0a || op == 0x0b || op == 0x0c ||
                 op == 0x0d);
    }
    out.remove_prefix(24 + body);
  }
}

struct Account {
  uint64_t received = 0;  // bytes of its datagrams that came without proof
  uint64_t replied = 0;   // reply bytes to its unproven datagrams
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  log::set_verbosity(0);
  const uint8_t config = data[0];
  Fixture& fx = fixture(config);
  server::Shield& shield = *fx.shield;
  static uint32_t input_number = 0;
  const uint32_t n = input_number++ & 0x1fffff;
  const bool validate_tcp = (config & 0x10) != 0;

  security::IpAddress ips[8];
  for (int i = 0; i < 8; ++i) {
    sockaddr_storage ss = source(n, i, kPorts[0]);
    FUZZ_CHECK(security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), &ips[i]));
  }
  if (validate_tcp) shield.tcp_peers.add(ips[6]);

  Clock clock;
  store::Config sc;
  sc.memory_limit = 1u << 20;
  sc.item_size_max = 64u << 10;
  sc.shards_log2 = 2;
  store::Store store(sc, clock);
  NoopHooks hooks;
  engine::Context ctx;
  ctx.store = &store;
  ctx.clock = &clock;
  ctx.hooks = &hooks;
  engine::ThreadStats thread_stats;
  server::UdpService service(ctx, {&thread_stats}, shield, clock, kUdpPort);

  // MEMSHIELD_FUZZ_TRACE=1 prints each datagram's fate, for reading a crash input.
  static const bool trace = std::getenv("MEMSHIELD_FUZZ_TRACE") != nullptr;
  Account accounts[8];
  const double factor = fx.settings.udp_max_amplification;
  size_t pos = 1;
  while (pos + 2 <= size) {
    const uint8_t sel = data[pos];
    size_t len = data[pos + 1];
    if (sel & 0x40) len *= 16;
    pos += 2;
    if (len > size - pos) len = size - pos;
    std::string payload(reinterpret_cast<const char*>(data + pos), len);
    pos += len;

    const int src = sel & 7;
    const uint16_t port = kPorts[(sel >> 3) & 3];
    const sockaddr_storage from = source(n, src, port);
    udp::FrameHeader h;
    const bool has_header = udp::decode_header(payload, &h);
    const bool magic = has_header && h.reserved == udp::kCookieMagic;
    udp::CookieBlock block;
    bool cookie_valid = false;
    if (magic && (sel & 0x20) &&
        udp::decode_cookie_block(std::string_view(payload).substr(udp::kHeaderSize), &block)) {
      // Stand in for a client that completed the cookie exchange.
      block.flags |= udp::kFlagServerCookie;
      shield.cookies.mint(ips[src], block.client_cookie, static_cast<uint32_t>(clock.unix_now()),
                          block.server_cookie);
      udp::encode_cookie_block(block, payload.data() + udp::kHeaderSize);
      cookie_valid = true;
    }
    const bool trusted = (config & 0x08) && src == 7;
    const bool tcp_peer = validate_tcp && src == 6;

    std::vector<std::string> replies;
    service.on_datagram(from, payload, 0, &replies);

    // Binary requests get one framed message per answered request (as memcached sends them);
    // text gets a single message.
    const size_t body_at = udp::kHeaderSize + (cookie_valid ? udp::kCookieBlockSize : 0);
    const bool binary = payload.size() > body_at && static_cast<uint8_t>(payload[body_at]) == 0x80;
    size_t reply_bytes = 0;
    std::string text;
    uint16_t message_total = 0;
    for (size_t i = 0; i < replies.size(); ++i) {
      const std::string& r = replies[i];
      FUZZ_CHECK(r.size() >= udp::kHeaderSize && r.size() <= udp::kMaxDatagram);
      udp::FrameHeader rh;
      FUZZ_CHECK(udp::decode_header(r, &rh));
      FUZZ_CHECK(rh.request_id == h.request_id);
      if (binary) {
        if (rh.sequence == 0) {
          FUZZ_CHECK(i == 0 || message_total == 0);  // the previous message was complete
          message_total = rh.total;
        }
        FUZZ_CHECK(rh.total == message_total && rh.sequence < rh.total);
        if (rh.sequence + 1 == rh.total) message_total = 0;
      } else {
        FUZZ_CHECK(rh.sequence == i && rh.total == replies.size());
      }
      text.append(r, udp::kHeaderSize, std::string::npos);
      reply_bytes += r.size();
    }
    FUZZ_CHECK(message_total == 0);
    Account& a = accounts[src];
    if (!cookie_valid && !trusted && !tcp_peer) a.received += payload.size();
    if (trace) {
      std::fprintf(stderr, "src %d port %u in %zu cookie %d -> %zu datagrams, %zu bytes: %.60s\n",
                   src, port, payload.size(), cookie_valid, replies.size(), reply_bytes,
                   text.c_str());
      OutBuffer counters;
      shield.stats.write(counters);
      std::fprintf(stderr, "%s", counters.to_string().c_str());
    }
    if (port < 1024 || port == kUdpPort) {
      FUZZ_CHECK(replies.empty());  // reflection targets and our own port: never answered
      continue;
    }
    if (replies.empty()) continue;
    FUZZ_CHECK(has_header);
    if (magic && !cookie_valid) {
      // The cookie refresh: one datagram, header and block, no larger than what asked for it.
      FUZZ_CHECK(replies.size() == 1 && h.reserved == udp::kCookieMagic);
      FUZZ_CHECK(replies[0].size() == udp::kHeaderSize + udp::kCookieBlockSize);
      FUZZ_CHECK(replies[0].size() <= payload.size());
      continue;
    }
    FUZZ_CHECK(h.reserved == 0 || cookie_valid);
    if (binary) {
      check_binary_replies(text, /*reads_only=*/!cookie_valid && !trusted);
    } else if (cookie_valid || trusted) {
      fuzz::check_replies(text);
      continue;
    } else {
      check_unproven_replies(text);
    }
    if (cookie_valid || trusted) continue;
    if (tcp_peer) continue;  // --udp-validate=tcp: bounded by the byte rate, not the budget
    a.replied += reply_bytes;
    FUZZ_CHECK(static_cast<double>(a.replied) <= factor * static_cast<double>(a.received) + 1e-6);
  }
  if (validate_tcp) shield.tcp_peers.remove(ips[6]);
  return 0;
}
