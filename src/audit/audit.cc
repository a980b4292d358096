// See audit.h.
#include "audit/audit.h"

#include <algorithm>
#include <string>
#include <utility>

#include "audit/store_probe.h"
#include "audit/tcp_probe.h"
#include "audit/udp_probe.h"

namespace memshield::audit {

bool TargetReport::udp_open() const {
  return std::any_of(udp.begin(), udp.end(),
                     [](const UdpProbeResult& r) { return r.state == UdpProbeState::kAnswered; });
}

double TargetReport::max_amplification() const {
  double m = 0.0;
  for (const UdpProbeResult& r : udp) {
    if (r.state == UdpProbeState::kAnswered) m = std::max(m, r.effective_amplification());
  }
  return m;
}

double TargetReport::max_wire_amplification() const {
  double m = 0.0;
  for (const UdpProbeResult& r : udp) {
    if (r.state == UdpProbeState::kAnswered) m = std::max(m, r.effective_wire_amplification());
  }
  return m;
}

void TargetReport::account_credit() {
  uint64_t in = 0, out = 0, in_wire = 0, out_wire = 0;
  for (UdpProbeResult& r : udp) {
    if (r.state == UdpProbeState::kSkipped) continue;
    r.credit_bytes = in > out ? in - out : 0;
    r.credit_wire_bytes = in_wire > out_wire ? in_wire - out_wire : 0;
    in += r.request_bytes;
    out += r.response_bytes;
    in_wire += r.request_wire_bytes;
    out_wire += r.response_wire_bytes;
  }
}

namespace {
// A key that cannot exist, padded to memcached's 250-byte key limit: the reply ("END") is far
// smaller than the request, so even a server that never answers more than it receives shows
// whether its UDP port is open. A read: it stores nothing.
std::string miss_command() {
  std::string key = make_probe_key() + "-absent-";
  key.append(250 - key.size(), 'x');
  return "get " + key + "\r\n";
}
}  // namespace

TargetReport audit_target(const Target& target, const AuditOptions& options, Pacer& pacer) {
  TargetReport rep;
  rep.target = target;
  rep.intrusive = options.intrusive;
  if (pacer.expired()) return rep;
  rep.scanned = true;
  rep.tcp = probe_tcp(target, pacer, options.timeout_ms);

  // The server knows its UDP port better than we can guess: probe that one when it says so.
  rep.udp_port = target.port;
  if (rep.tcp.udp_port_setting && *rep.tcp.udp_port_setting > 0 &&
      *rep.tcp.udp_port_setting <= 65535) {
    rep.udp_port = static_cast<uint16_t>(*rep.tcp.udp_port_setting);
  }

  std::string key;
  if (options.intrusive && rep.tcp.speaks == Speaks::kMemcached) {
    key = make_probe_key();
    StoreOutcome st =
        store_probe_value(target, key, options.value_bytes, pacer, options.timeout_ms);
    rep.tcp.writable = st.stored;
    rep.tcp.write_detail =
        st.stored ? "stored a " + std::to_string(st.value_bytes) + "-byte value (key " + key + ")"
                  : "write refused: " + st.detail;
    if (!st.stored) key.clear();
  }

  rep.udp.push_back(
      probe_udp(target, rep.udp_port, "version", "version\r\n", pacer, options.timeout_ms));
  // A refused "version" means nothing listens on UDP; further probes would only be refused too.
  const bool closed = rep.udp.back().state == UdpProbeState::kRefused;
  for (const auto& [name, command] :
       {std::pair<const char*, std::string>{"stats", "stats\r\n"}, {"miss", miss_command()}}) {
    UdpProbeResult r;
    if (closed) {
      r.name = name;
      r.detail = "not sent: UDP port closed";
    } else {
      r = probe_udp(target, rep.udp_port, name, command, pacer, options.timeout_ms);
    }
    rep.udp.push_back(r);
  }
  if (options.intrusive) {
    if (!key.empty() && rep.udp_open()) {
      rep.udp.push_back(
          probe_udp(target, rep.udp_port, "get", "get " + key + "\r\n", pacer, options.timeout_ms));
    } else {
      UdpProbeResult skipped;
      skipped.name = "get";
      skipped.detail = key.empty() ? "not sent: nothing could be stored over TCP"
                                   : "not sent: UDP did not answer";
      rep.udp.push_back(skipped);
    }
    if (!key.empty()) {
      std::string detail;
      // Cleanup must not be skipped by the time budget: give it its own small one.
      Pacer cleanup(1000, options.timeout_ms + 1000);
      if (!delete_probe_value(target, key, cleanup, options.timeout_ms, &detail)) {
        rep.tcp.write_detail += "; delete failed (" + detail + "), it expires within 60 s";
      } else {
        rep.tcp.write_detail += ", then deleted it";
      }
    }
  }
  rep.account_credit();
  return rep;
}

}  // namespace memshield::audit
