// JSON rendering (see report.h). Hand-written to keep the audit free of dependencies; every
// string from a peer goes through json_string, which escapes control bytes and quotes.
#include <cstdio>
#include <optional>

#include "audit/report.h"

namespace memshield::audit {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string json_opt(const std::optional<uint64_t>& v) { return v ? std::to_string(*v) : "null"; }

std::string json_opt_bool(const std::optional<bool>& v) {
  return v ? (*v ? "true" : "false") : "null";
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + json_string(items[i]);
  return out + "]";
}

std::string probe_json(const UdpProbeResult& r) {
  std::string o = "{\"probe\": " + json_string(r.name);
  o += ", \"state\": " + json_string(udp_probe_state_name(r.state));
  o += ", \"request_bytes\": " + std::to_string(r.request_bytes);
  o += ", \"response_bytes\": " + std::to_string(r.response_bytes);
  o += ", \"request_wire_bytes\": " + std::to_string(r.request_wire_bytes);
  o += ", \"response_wire_bytes\": " + std::to_string(r.response_wire_bytes);
  o += ", \"datagrams\": " + std::to_string(r.datagrams);
  o += ", \"datagrams_expected\": " + std::to_string(r.datagrams_expected);
  o += ", \"complete\": " + std::string(r.complete() ? "true" : "false");
  o += ", \"amplification\": " + json_number(r.amplification());
  o += ", \"wire_amplification\": " + json_number(r.wire_amplification());
  o += ", \"credit_bytes\": " + std::to_string(r.credit_bytes);
  o += ", \"effective_amplification\": " + json_number(r.effective_amplification());
  o += ", \"detail\": " + json_string(r.detail) + "}";
  return o;
}

}  // namespace

std::string render_json(const std::vector<ReportEntry>& entries) {
  std::string out = "[\n";
  for (size_t i = 0; i < entries.size(); ++i) {
    const TargetReport& r = entries[i].report;
    const TcpFinding& t = r.tcp;
    std::optional<bool> auth;
    if (t.speaks == Speaks::kMemcached) auth = false;
    if (t.speaks == Speaks::kMemcachedAuth) auth = true;
    std::string o = "  {\"target\": " + json_string(r.target.label());
    o += ", \"address\": " + json_string(r.target.address.to_string());
    o += ", \"port\": " + std::to_string(r.target.port);
    o += ", \"loopback\": " + std::string(r.target.is_loopback() ? "true" : "false");
    o += ", \"scanned\": " + std::string(r.scanned ? "true" : "false");
    o += ", \"intrusive\": " + std::string(r.intrusive ? "true" : "false");
    o += ",\n   \"tcp_open\": " + std::string(t.state == TcpState::kOpen ? "true" : "false");
    o += ", \"tcp_state\": " + json_string(tcp_state_name(t.state));
    o += ", \"speaks\": " + json_string(speaks_name(t.speaks));
    o += ", \"auth_required\": " + json_opt_bool(auth);
    o += ", \"version\": " + (t.version.empty() ? "null" : json_string(t.version));
    o += ", \"tcp_detail\": " + json_string(t.detail);
    o += ",\n   \"uptime\": " + json_opt(t.uptime);
    o += ", \"curr_items\": " + json_opt(t.curr_items);
    o += ", \"bytes\": " + json_opt(t.bytes);
    o += ", \"limit_maxbytes\": " + json_opt(t.limit_maxbytes);
    o += ", \"item_size_max\": " + json_opt(t.item_size_max);
    o += ", \"listen\": " + (t.listen.empty() ? "null" : json_string(t.listen));
    o += ", \"writable\": " + json_opt_bool(t.writable);
    o += ", \"write_detail\": " + json_string(t.write_detail);
    o += ",\n   \"udp_port\": " + std::to_string(r.udp_port);
    o += ", \"udp_open\": " + std::string(r.udp_open() ? "true" : "false");
    o += ", \"udp_state\": " + json_string(udp_state_summary(r));
    o += ", \"udp_amplification\": " + json_number(r.max_amplification());
    o += ", \"udp_wire_amplification\": " + json_number(r.max_wire_amplification());
    o += ",\n   \"udp_probes\": [";
    for (size_t j = 0; j < r.udp.size(); ++j) {
      o += (j ? ",\n     " : "\n     ") + probe_json(r.udp[j]);
    }
    o += "],\n   \"risk\": " + json_string(risk_name(entries[i].assessment.risk));
    o += ",\n   \"reasons\": " + json_list(entries[i].assessment.reasons);
    o += ",\n   \"fixes\": " + json_list(entries[i].assessment.fixes) + "}";
    out += o + (i + 1 < entries.size() ? ",\n" : "\n");
  }
  return out + "]\n";
}

}  // namespace memshield::audit
