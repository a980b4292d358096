// Text rendering (see report.h): one summary row per target, then a block per target that
// answered anything, saying in plain words what was measured, why it matters and what to change.
#include <algorithm>
#include <cstdio>

#include "audit/report.h"

namespace memshield::audit {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kBold = "\033[1m";

const char* risk_color(Risk r) {
  switch (r) {
    case Risk::kCritical:
      return "\033[1;97;41m";  // bold white on red
    case Risk::kHigh:
      return "\033[1;31m";
    case Risk::kMedium:
      return "\033[1;33m";
    case Risk::kUnknown:
      return "\033[35m";
    case Risk::kLow:
      return "\033[36m";
    case Risk::kNone:
      return "\033[32m";
  }
  return "";
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  return s;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string lpad(std::string s, size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

std::string factor(double f) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.2fx", f);
  return buf;
}

std::string human_bytes(uint64_t b) {
  char buf[32];
  if (b >= (uint64_t{1} << 30)) {
    snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(b) / (1 << 30));
  } else if (b >= (1 << 20)) {
    snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(b) / (1 << 20));
  } else if (b >= 1024) {
    snprintf(buf, sizeof(buf), "%.1f KiB", static_cast<double>(b) / 1024);
  } else {
    snprintf(buf, sizeof(buf), "%llu bytes", static_cast<unsigned long long>(b));
  }
  return buf;
}

bool is_short_flag(const std::string& w) {
  size_t i = (!w.empty() && w[0] == '\'') ? 1 : 0;
  return w.size() == i + 2 && w[i] == '-' &&
         ((w[i + 1] >= 'a' && w[i + 1] <= 'z') || (w[i + 1] >= 'A' && w[i + 1] <= 'Z'));
}

// Word-wraps `text` to 100 columns after `lead`; continuation lines are indented by `indent`.
std::string wrap(const std::string& lead, const std::string& text, size_t indent) {
  std::string out = lead;
  size_t col = lead.size();
  bool line_empty = true;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t sp = text.find(' ', pos);
    if (sp == std::string::npos) sp = text.size();
    std::string word = text.substr(pos, sp - pos);
    pos = sp + 1;
    if (word.empty()) continue;
    // Keep a flag with its argument ("-U 0", "-l 127.0.0.1"): a split flag reads as two.
    if (is_short_flag(word) && pos < text.size()) {
      size_t next = text.find(' ', pos);
      if (next == std::string::npos) next = text.size();
      word += " " + text.substr(pos, next - pos);
      pos = next + 1;
    }
    if (!line_empty && col + 1 + word.size() > 100) {
      out += "\n" + std::string(indent, ' ');
      col = indent;
      line_empty = true;
    }
    if (!line_empty) {
      out += ' ';
      ++col;
    }
    out += word;
    col += word.size();
    line_empty = false;
  }
  return out + "\n";
}

std::string auth_cell(const TcpFinding& t) {
  if (t.speaks == Speaks::kMemcached) return "none";
  if (t.speaks == Speaks::kMemcachedAuth) return "required";
  return "-";
}

std::string tcp_cell(const TcpFinding& t) {
  if (t.state != TcpState::kOpen) return tcp_state_name(t.state);
  switch (t.speaks) {
    case Speaks::kSilent:
      return "open/silent";
    case Speaks::kOther:
      return "open/other";
    default:
      return "open";
  }
}

void render_tcp(const TargetReport& r, std::string* out) {
  const TcpFinding& t = r.tcp;
  const std::string ind(8, ' ');
  std::string head = "port " + std::to_string(r.target.port) + " " + tcp_state_name(t.state);
  if (t.speaks == Speaks::kMemcached) {
    head += "; memcached " + (t.version.empty() ? std::string("(version unknown)") : t.version) +
            " answers without authentication";
  } else if (!t.detail.empty()) {
    head += "; " + t.detail;
  }
  *out += wrap("  TCP   ", head, 8);
  if (t.speaks != Speaks::kMemcached) return;
  if (t.uptime || t.curr_items || t.bytes) {
    std::string s = "up " + std::to_string(t.uptime.value_or(0)) + " s; " +
                    std::to_string(t.curr_items.value_or(0)) + " items, " +
                    human_bytes(t.bytes.value_or(0)) + " stored";
    if (t.limit_maxbytes) {
      s += "; room for " + human_bytes(*t.limit_maxbytes);
      if (t.item_size_max) s += ", values up to " + human_bytes(*t.item_size_max);
      s += " (what an attacker could preload, then reflect)";
    }
    *out += wrap(ind, s, 8);
  }
  if (!t.listen.empty()) *out += wrap(ind, "says it listens on: " + t.listen, 8);
  if (t.writable) {
    *out += wrap(
        ind,
        std::string(*t.writable ? "ACCEPTS WRITES from us: " : "write test: ") + t.write_detail, 8);
  } else if (!r.intrusive) {
    *out += ind + "write test: not tried (read-only mode; --intrusive tests it)\n";
  }
}

void render_udp(const TargetReport& r, std::string* out) {
  std::string state = udp_state_summary(r);
  std::string head = "  UDP   port " + std::to_string(r.udp_port) + " ";
  if (state == "open") {
    head += "open";
  } else if (state == "closed") {
    head += "closed (port unreachable)";
  } else if (state == "no_answer") {
    head += "no answer within the timeout: closed or filtered";
  } else {
    head += "not probed";
  }
  *out += head + "\n";
  if (state != "open") return;
  *out += "        probe     request  response  datagrams     factor  effective  on the wire\n";
  for (const UdpProbeResult& p : r.udp) {
    std::string row = "        " + pad(p.name, 8);
    if (p.state != UdpProbeState::kAnswered) {
      row += "  " + std::string(udp_probe_state_name(p.state)) +
             (p.detail.empty() ? "" : ": " + p.detail);
      *out += row + "\n";
      continue;
    }
    row += lpad(std::to_string(p.request_bytes), 9) + lpad(std::to_string(p.response_bytes), 10) +
           lpad(std::to_string(p.datagrams) + "/" + std::to_string(p.datagrams_expected), 11) +
           lpad(factor(p.amplification()), 11) + lpad(factor(p.effective_amplification()), 11) +
           lpad(factor(p.effective_wire_amplification()), 13);
    if (!p.complete()) row += "  (incomplete: lower bound)";
    *out += row + "\n";
  }
}

}  // namespace

const char* tcp_state_name(TcpState s) {
  switch (s) {
    case TcpState::kNotProbed:
      return "not_probed";
    case TcpState::kOpen:
      return "open";
    case TcpState::kClosed:
      return "closed";
    case TcpState::kFiltered:
      return "filtered";
    case TcpState::kUnreachable:
      return "unreachable";
    case TcpState::kError:
      return "error";
  }
  return "error";
}

const char* speaks_name(Speaks s) {
  switch (s) {
    case Speaks::kUnknown:
      return "unknown";
    case Speaks::kMemcached:
      return "memcached";
    case Speaks::kMemcachedAuth:
      return "memcached_auth";
    case Speaks::kSilent:
      return "silent";
    case Speaks::kOther:
      return "other";
  }
  return "unknown";
}

const char* udp_probe_state_name(UdpProbeState s) {
  switch (s) {
    case UdpProbeState::kSkipped:
      return "skipped";
    case UdpProbeState::kAnswered:
      return "answered";
    case UdpProbeState::kNoAnswer:
      return "no_answer";
    case UdpProbeState::kRefused:
      return "refused";
    case UdpProbeState::kError:
      return "error";
  }
  return "error";
}

std::string udp_state_summary(const TargetReport& r) {
  if (r.udp_open()) return "open";
  for (const UdpProbeResult& p : r.udp) {
    if (p.state == UdpProbeState::kRefused) return "closed";
  }
  for (const UdpProbeResult& p : r.udp) {
    if (p.state == UdpProbeState::kNoAnswer) return "no_answer";
  }
  return "not_probed";
}

std::string render_text(const std::vector<ReportEntry>& entries, const TextStyle& style) {
  auto paint = [&](const std::string& s, const char* code) {
    return style.color ? code + s + kReset : s;
  };
  size_t w = 6;
  for (const auto& e : entries) w = std::max(w, e.report.target.label().size());
  w += 2;
  std::string out = paint(pad("TARGET", w) + pad("TCP", 13) + pad("AUTH", 10) + pad("VERSION", 12) +
                              pad("UDP", 11) + pad("AMPLIFICATION", 15) + "RISK",
                          kBold) +
                    "\n";
  for (const auto& e : entries) {
    const TargetReport& r = e.report;
    double amp = r.max_amplification();
    out += pad(r.target.label(), w) + pad(r.scanned ? tcp_cell(r.tcp) : "-", 13) +
           pad(auth_cell(r.tcp), 10) + pad(r.tcp.version.empty() ? "-" : r.tcp.version, 12) +
           pad(r.scanned ? udp_state_summary(r) : "-", 11) +
           pad(r.udp_open() ? factor(amp) : "-", 15) +
           paint(upper(risk_name(e.assessment.risk)), risk_color(e.assessment.risk)) + "\n";
  }
  std::vector<std::string> quiet;
  for (const auto& e : entries) {
    const TargetReport& r = e.report;
    const bool answered = r.tcp.state == TcpState::kOpen || r.udp_open();
    if (r.scanned && !answered && entries.size() > 1) {
      quiet.push_back(r.target.label());
      continue;
    }
    out += "\n" +
           paint(r.target.label() + "  " + upper(risk_name(e.assessment.risk)),
                 style.color ? risk_color(e.assessment.risk) : "") +
           "\n";
    if (r.scanned) {
      render_tcp(r, &out);
      render_udp(r, &out);
    }
    for (size_t i = 0; i < e.assessment.reasons.size(); ++i) {
      out += wrap(i == 0 ? "  Why   - " : "        - ", e.assessment.reasons[i], 10);
    }
    for (size_t i = 0; i < e.assessment.fixes.size(); ++i) {
      out += wrap(i == 0 ? "  Fix   - " : "        - ", e.assessment.fixes[i], 10);
    }
  }
  if (!quiet.empty()) {
    std::string list;
    for (const auto& q : quiet) list += (list.empty() ? "" : ", ") + q;
    out += "\n" + wrap("Nothing answered on TCP or UDP (risk none): ", list, 2);
  }
  return out;
}

}  // namespace memshield::audit
