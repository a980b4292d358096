// memshield-audit: "how to tell if you're at risk", measured. Parses the command line, expands
// the targets, probes each one at a bounded rate and prints the report; the exit status is the
// worst risk found (0 none/low, 1 medium/high, 2 critical, 3 usage error).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "audit/cli.h"
#include "audit/nft.h"
#include "audit/pacer.h"
#include "audit/progress.h"
#include "audit/report.h"
#include "audit/risk.h"
#include "audit/target.h"

namespace {

constexpr int kUsageError = 3;

bool want_color(memshield::audit::ColorMode mode) {
  using memshield::audit::ColorMode;
  if (mode != ColorMode::kAuto) return mode == ColorMode::kAlways;
  const char* term = getenv("TERM");
  const char* no_color = getenv("NO_COLOR");
  return isatty(STDOUT_FILENO) && (no_color == nullptr || *no_color == '\0') &&
         !(term != nullptr && std::string(term) == "dumb");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace memshield::audit;
  CliOptions opts;
  CliResult cli = parse_cli(std::vector<std::string>(argv + 1, argv + argc), &opts);
  if (cli.outcome == CliOutcome::kExit) {
    fputs(cli.message.c_str(), stdout);
    return 0;
  }
  if (cli.outcome == CliOutcome::kUsageError) {
    fputs(cli.message.c_str(), stderr);
    return kUsageError;
  }

  std::vector<TargetSpec> specs;
  std::vector<Target> targets;
  std::string error;
  if (!collect_specs(opts.targets, opts.port, &specs, &error) ||
      !expand_targets(specs, opts.max_targets, &targets, &error)) {
    fprintf(stderr, "memshield-audit: %s\n", error.c_str());
    return kUsageError;
  }

  if (opts.nft_only) {
    for (const Target& t : targets) opts.nft.tcp_ports.insert(t.port);
    opts.nft.udp_ports = opts.nft.tcp_ports;
    fputs(nft_ruleset(opts.nft).c_str(), stdout);
    return 0;
  }

  AuditOptions audit_opts;
  audit_opts.timeout_ms = opts.timeout_ms;
  audit_opts.intrusive = opts.intrusive;
  audit_opts.value_bytes = opts.value_bytes;
  Pacer pacer(opts.rate, opts.max_time_ms);
  ProgressBar bar(targets.size(), opts.progress && targets.size() > 1 && isatty(STDERR_FILENO));

  std::vector<ReportEntry> entries;
  entries.reserve(targets.size());
  Risk worst = Risk::kNone;
  bool cut_short = false;
  for (size_t i = 0; i < targets.size(); ++i) {
    bar.update(i, targets[i].label());
    ReportEntry e;
    e.report = audit_target(targets[i], audit_opts, pacer);
    e.assessment = assess(e.report);
    cut_short = cut_short || !e.report.scanned;
    worst = std::max(worst, e.assessment.risk);
    entries.push_back(std::move(e));
  }
  bar.finish();

  std::string out =
      opts.json ? render_json(entries) : render_text(entries, TextStyle{want_color(opts.color)});
  fputs(out.c_str(), stdout);
  fflush(stdout);
  if (cut_short) {
    fprintf(stderr, "memshield-audit: --max-time reached; some targets were not scanned\n");
  }
  return exit_code_for(worst);
}
