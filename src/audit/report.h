// Presenting results: a readable table plus per-target explanations for people (with ANSI
// colours when writing to a terminal), and a JSON array with one object per target for machines.
// Formatting only; the verdicts come from risk.h.
#pragma once

#include <string>
#include <vector>

#include "audit/findings.h"
#include "audit/risk.h"

namespace memshield::audit {

struct ReportEntry {
  TargetReport report;
  Assessment assessment;
};

struct TextStyle {
  bool color = false;
};

std::string render_text(const std::vector<ReportEntry>& entries, const TextStyle& style);
std::string render_json(const std::vector<ReportEntry>& entries);

// Names used in both renderers (and the JSON schema).
const char* tcp_state_name(TcpState s);
const char* speaks_name(Speaks s);
const char* udp_probe_state_name(UdpProbeState s);
// "open", "closed", "no_answer" (closed or filtered), "not_probed".
std::string udp_state_summary(const TargetReport& rep);

}  // namespace memshield::audit
