// memshield-audit's command line: options, their bounds, and the --help text (which carries the
// risk table). Kept in the library so the parsing rules are unit-tested, not just the main.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/nft.h"
#include "audit/target.h"

namespace memshield::audit {

enum class ColorMode { kAuto, kAlways, kNever };

struct CliOptions {
  std::vector<std::string> targets;
  uint16_t port = kDefaultPort;
  double rate = 20;           // probes per second
  int64_t timeout_ms = 1000;  // per probe
  int64_t max_time_ms = 300 * 1000;
  uint64_t max_targets = 256;
  bool intrusive = false;
  uint64_t value_bytes = 1000 * 1000;
  bool json = false;
  bool nft_only = false;
  bool progress = true;
  ColorMode color = ColorMode::kAuto;
  NftOptions nft;
};

enum class CliOutcome { kRun, kExit, kUsageError };

struct CliResult {
  CliOutcome outcome = CliOutcome::kRun;
  std::string message;  // help/version text (kExit) or the error (kUsageError)
};

CliResult parse_cli(const std::vector<std::string>& args, CliOptions* options);

std::string help_text();

}  // namespace memshield::audit
