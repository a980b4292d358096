// See risk.h.
#include "audit/risk.h"

#include <cstdio>

#include "audit/reply.h"

namespace memshield::audit {
namespace {

std::string fmt_factor(double f) {
  char buf[32];
  snprintf(buf, sizeof(buf), f >= 100 ? "%.0fx" : "%.2fx", f);
  return buf;
}

bool tcp_unauthenticated(const TargetReport& rep) {
  return rep.tcp.state == TcpState::kOpen && rep.tcp.speaks == Speaks::kMemcached;
}

bool wildcard_listener(const TargetReport& rep) {
  return !rep.tcp.listen.empty() && listens_on_all_interfaces(rep.tcp.listen);
}

}  // namespace

const char* risk_name(Risk r) {
  switch (r) {
    case Risk::kNone:
      return "none";
    case Risk::kLow:
      return "low";
    case Risk::kUnknown:
      return "unknown";
    case Risk::kMedium:
      return "medium";
    case Risk::kHigh:
      return "high";
    case Risk::kCritical:
      return "critical";
  }
  return "unknown";
}

int exit_code_for(Risk r) {
  switch (r) {
    case Risk::kNone:
    case Risk::kLow:
      return 0;
    case Risk::kCritical:
      return 2;
    default:
      return 1;
  }
}

Risk risk_level(const TargetReport& rep) {
  if (!rep.scanned) return Risk::kUnknown;
  if (rep.max_amplification() > 1.0) return Risk::kCritical;
  const bool loopback = rep.target.is_loopback();
  if (tcp_unauthenticated(rep) && !loopback) return Risk::kHigh;
  if (rep.udp_open()) return Risk::kMedium;
  if (tcp_unauthenticated(rep)) return wildcard_listener(rep) ? Risk::kMedium : Risk::kLow;
  return Risk::kNone;
}

Assessment assess(const TargetReport& rep) {
  Assessment a;
  a.risk = risk_level(rep);
  const std::string port = std::to_string(rep.target.port);
  const std::string uport = std::to_string(rep.udp_port);
  const std::string nft = "apply the nftables ruleset from 'memshield-audit --nft " +
                          rep.target.label() + "' (ACL and rate limit for port " + port + ")";
  if (!rep.scanned) {
    a.reasons.push_back("not scanned: the --max-time budget ran out first");
    a.fixes.push_back("re-run with a larger --max-time or fewer targets");
    return a;
  }

  const double amp = rep.max_amplification();
  if (amp > 1.0) {
    const UdpProbeResult* worst = nullptr;
    for (const auto& r : rep.udp) {
      if (r.state == UdpProbeState::kAnswered &&
          (!worst || r.effective_amplification() > worst->effective_amplification())) {
        worst = &r;
      }
    }
    const std::string credit =
        worst->credit_bytes == 0
            ? ""
            : " plus " + std::to_string(worst->credit_bytes) + " unanswered earlier bytes";
    a.reasons.push_back(
        "UDP port " + uport + " answers '" + worst->name + "' with " +
        std::to_string(worst->response_bytes) + " bytes for a " +
        std::to_string(worst->request_bytes) + "-byte request" + credit + " (" + fmt_factor(amp) +
        "). UDP has no handshake, so an attacker can forge the sender address "
        "and this server sends " +
        fmt_factor(amp) + " the traffic to the victim: a DDoS reflector (CVE-2018-1000115).");
    a.fixes.push_back(
        "memcached: start it with -U 0 to turn UDP off (the default since 1.5.6; "
        "on Debian add '-U 0' to /etc/memcached.conf and restart)");
    a.fixes.push_back(
        "memshield: drop the -U flag (UDP is off by default); if clients truly need UDP, "
        "keep --udp-max-amplification at its default 1.0 and list them with --allow CIDR");
  } else if (rep.udp_open()) {
    for (const auto& r : rep.udp) {
      if (r.state != UdpProbeState::kAnswered || r.amplification() <= 1.0) continue;
      a.reasons.push_back("UDP '" + r.name + "' got " + std::to_string(r.response_bytes) +
                          " bytes for " + std::to_string(r.request_bytes) + " (" +
                          fmt_factor(r.amplification()) + "), paid from " +
                          std::to_string(r.credit_bytes) +
                          " bytes of earlier requests left unanswered: counted against all we "
                          "sent, the server never returned more than it received (a per-source "
                          "budget, as memshield keeps).");
    }
    a.reasons.push_back("UDP port " + uport +
                        " answers requests from any source, though never "
                        "with more bytes than it received (at most " +
                        fmt_factor(amp) +
                        "): no amplification, but forged requests still get answers.");
    a.fixes.push_back(
        "if no client uses memcached over UDP, turn it off (memcached -U 0; "
        "memshield: drop -U)");
  }

  switch (rep.tcp.speaks) {
    case Speaks::kMemcached:
      if (!rep.target.is_loopback()) {
        a.reasons.push_back("TCP port " + port +
                            " answers memcached commands from us without "
                            "authentication on a non-loopback address: anyone who can reach it "
                            "can read, overwrite and flush the cache, and preload large values "
                            "to reflect.");
      } else if (wildcard_listener(rep)) {
        a.reasons.push_back("TCP port " + port +
                            " answers without authentication; we reached it "
                            "on loopback, but the server says it listens on every interface "
                            "(inter " +
                            rep.tcp.listen +
                            "), so other hosts can probably reach "
                            "it too.");
      } else {
        a.reasons.push_back("TCP port " + port +
                            " answers without authentication, but only on "
                            "loopback: local processes can use it, other hosts cannot.");
      }
      if (!rep.target.is_loopback() || wildcard_listener(rep)) {
        a.fixes.push_back(
            "listen on loopback or a private address only: -l 127.0.0.1 "
            "(memcached and memshield)");
        a.fixes.push_back(
            "require authentication: memcached -Y /etc/memcached.auth (ASCII "
            "auth, user:password lines) or -S (SASL)");
      }
      break;
    case Speaks::kMemcachedAuth:
      a.reasons.push_back("TCP port " + port + " is memcached but requires authentication (" +
                          rep.tcp.detail + ").");
      break;
    case Speaks::kSilent:
      a.reasons.push_back("TCP port " + port +
                          " accepts connections but never answered; not "
                          "counted as memcached.");
      break;
    case Speaks::kOther:
      a.reasons.push_back("TCP port " + port + " " + rep.tcp.detail + "; not memcached.");
      break;
    case Speaks::kUnknown:
      if (rep.tcp.state == TcpState::kClosed) {
        a.reasons.push_back("TCP port " + port + " is closed.");
      } else if (rep.tcp.state == TcpState::kFiltered) {
        a.reasons.push_back("TCP port " + port + " did not answer the handshake (filtered).");
      } else {
        a.reasons.push_back("TCP port " + port + " not reachable: " + rep.tcp.detail + ".");
      }
      break;
  }
  if (!rep.udp_open()) {
    bool refused = !rep.udp.empty() && rep.udp.front().state == UdpProbeState::kRefused;
    a.reasons.push_back(refused ? "UDP port " + uport + " is closed (port unreachable)."
                                : "UDP port " + uport +
                                      " sent no answer within the timeout: "
                                      "closed or filtered.");
  }
  if (a.risk >= Risk::kMedium) a.fixes.push_back(nft);
  if (a.risk == Risk::kLow) {
    a.fixes.push_back("nothing urgent; keep it on loopback (-l 127.0.0.1) and UDP off");
  }
  return a;
}

}  // namespace memshield::audit
