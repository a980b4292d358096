// The security decisions at the server's edges, built from Settings: who may connect or send
// (ACL), which networks are trusted not to spoof, and the UDP guard's state (amplification
// budget, rate limits, cookies, TCP peers for --udp-validate=tcp). The access rules are swapped
// whole when SIGHUP re-reads the configuration; readers never see half a list.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/out_buffer.h"
#include "security/acl.h"
#include "security/ip_address.h"
#include "security/rate_limit.h"
#include "security/udp_budget.h"
#include "security/udp_cookie.h"
#include "server/settings.h"

namespace memshield::server {

// Every decision the shield takes, counted; reported by `stats shield`. Declared once here.
#define MEMSHIELD_SHIELD_COUNTERS(X)  \
  X(udp_requests_cookie)              \
  X(udp_requests_trusted)             \
  X(udp_requests_tcp_validated)       \
  X(udp_requests_unvalidated)         \
  X(udp_cookie_refreshes)             \
  X(udp_responses_refused_budget)     \
  X(udp_bytes_withheld)               \
  X(udp_refusal_notices)              \
  X(udp_dropped_rate_limited)         \
  X(udp_dropped_egress)               \
  X(udp_dropped_acl)                  \
  X(udp_dropped_bad_port)             \
  X(udp_dropped_not_a_request)        \
  X(udp_dropped_admin)                \
  X(udp_dropped_write_unvalidated)    \
  X(udp_bytes_received)               \
  X(udp_bytes_sent)                   \
  X(tcp_rejected_acl)                 \
  X(tcp_rejected_per_source)          \
  X(tcp_cookies_issued)

struct ShieldStats {
#define MEMSHIELD_DECLARE(name) std::atomic<uint64_t> name{0};
  MEMSHIELD_SHIELD_COUNTERS(MEMSHIELD_DECLARE)
#undef MEMSHIELD_DECLARE
  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) {
    c.fetch_add(n, std::memory_order_relaxed);
  }
  void write(OutBuffer& out) const;
  void reset();
};

// The parts of the configuration that SIGHUP reloads.
struct AccessRules {
  security::Acl acl;
  std::vector<security::Cidr> udp_trust;

  bool trusted(const security::IpAddress& ip) const;
  // Builds the rules from settings; false with a message naming the bad flag and value.
  static bool build(const Settings& s, std::shared_ptr<const AccessRules>* out,
                    std::string* error);
};

// Addresses holding at least one live TCP connection (for --udp-validate=tcp).
class TcpPeers {
 public:
  void add(const security::IpAddress& ip);
  void remove(const security::IpAddress& ip);
  bool contains(const security::IpAddress& ip) const;

 private:
  static std::string key(const security::IpAddress& ip);
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> count_;
};

class Shield {
 public:
  Shield(const Settings& s, std::shared_ptr<const AccessRules> rules);

  std::shared_ptr<const AccessRules> rules() const { return rules_.load(); }
  void replace_rules(std::shared_ptr<const AccessRules> r) { rules_.store(std::move(r)); }

  const bool validate_tcp;
  security::AmplificationBudget budget;
  security::PrefixRateLimiter rate;
  security::GlobalRateLimiter egress;
  security::CookieJar cookies;
  TcpPeers tcp_peers;
  ShieldStats stats;

 private:
  std::atomic<std::shared_ptr<const AccessRules>> rules_;
};

}  // namespace memshield::server
