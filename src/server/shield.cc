// See shield.h.
#include "server/shield.h"

#include <cinttypes>
#include <cstdio>

namespace memshield::server {

void ShieldStats::write(OutBuffer& out) const {
  char buf[96];
#define MEMSHIELD_EMIT(name)                                                             \
  out.append(buf, static_cast<size_t>(snprintf(buf, sizeof(buf), "STAT " #name " %" PRIu64 "\r\n", \
                                               name.load(std::memory_order_relaxed))));
  MEMSHIELD_SHIELD_COUNTERS(MEMSHIELD_EMIT)
#undef MEMSHIELD_EMIT
}

void ShieldStats::reset() {
#define MEMSHIELD_RESET(name) name.store(0, std::memory_order_relaxed);
  MEMSHIELD_SHIELD_COUNTERS(MEMSHIELD_RESET)
#undef MEMSHIELD_RESET
}

bool AccessRules::trusted(const security::IpAddress& ip) const {
  for (const security::Cidr& c : udp_trust) {
    if (c.contains(ip)) return true;
  }
  return false;
}

bool AccessRules::build(const Settings& s, std::shared_ptr<const AccessRules>* out,
                        std::string* error) {
  auto rules = std::make_shared<AccessRules>();
  if (!security::Acl::build(s.allow, s.deny, &rules->acl, error)) return false;
  for (const std::string& spec : s.udp_trust) {
    std::string err;
    if (!security::parse_cidr_list(spec, &rules->udp_trust, &err)) {
      *error = "--udp-trust: " + err;
      return false;
    }
  }
  *out = std::move(rules);
  return true;
}

std::string TcpPeers::key(const security::IpAddress& ip) {
  return std::string(reinterpret_cast<const char*>(ip.bytes), ip.size());
}

void TcpPeers::add(const security::IpAddress& ip) {
  std::lock_guard<std::mutex> g(mu_);
  ++count_[key(ip)];
}

void TcpPeers::remove(const security::IpAddress& ip) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = count_.find(key(ip));
  if (it != count_.end() && --it->second <= 0) count_.erase(it);
}

bool TcpPeers::contains(const security::IpAddress& ip) const {
  std::lock_guard<std::mutex> g(mu_);
  return count_.count(key(ip)) != 0;
}

namespace {
security::BudgetConfig budget_config(const Settings& s) {
  security::BudgetConfig c;
  c.factor = s.udp_max_amplification;
  return c;
}
security::RateLimitConfig rate_config(const Settings& s) {
  security::RateLimitConfig c;
  c.packets_per_second = s.udp_rate_pps;
  c.bytes_per_second = s.udp_rate_bps;
  return c;
}
}  // namespace

Shield::Shield(const Settings& s, std::shared_ptr<const AccessRules> rules)
    : validate_tcp(s.udp_validate == "tcp"),
      budget(budget_config(s)),
      rate(rate_config(s)),
      egress(s.udp_egress_bps),
      rules_(std::move(rules)) {}

}  // namespace memshield::server
