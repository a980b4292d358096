// Turns findings into a risk level, the reasons for it in plain words, and the concrete fixes
// (flags to change, the firewall step). Pure: same findings, same verdict; the table itself is
// documented in --help and docs/AUDIT.md and must change together with risk_level().
#pragma once

#include <string>
#include <vector>

#include "audit/findings.h"

namespace memshield::audit {

// Ordered by severity; kUnknown (not scanned before --max-time) sorts between low and medium so
// an incomplete run never reads as all-clear.
enum class Risk { kNone, kLow, kUnknown, kMedium, kHigh, kCritical };

const char* risk_name(Risk r);
// Exit status for monitoring: 0 none/low, 1 unknown/medium/high, 2 critical.
int exit_code_for(Risk r);

Risk risk_level(const TargetReport& rep);

struct Assessment {
  Risk risk = Risk::kNone;
  std::vector<std::string> reasons;  // why this level, one finding per entry
  std::vector<std::string> fixes;    // what to change, most important first
};

Assessment assess(const TargetReport& rep);

}  // namespace memshield::audit
