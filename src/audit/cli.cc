// See cli.h. Bounds are part of the safety story: the rate, timeouts, time budget and target
// count all have ceilings, so no flag combination turns the audit into a flood.
#include "audit/cli.h"

#include <cstdlib>

namespace memshield::audit {
namespace {

constexpr double kMaxRate = 1000;
constexpr double kMaxTimeoutSeconds = 30;
constexpr double kMaxRunSeconds = 24 * 3600;
constexpr uint64_t kMaxValueBytes = 64 << 20;

bool parse_double(const std::string& s, double lo, double hi, double* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  if (end == nullptr || *end != '\0' || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

bool parse_u64(const std::string& s, uint64_t lo, uint64_t hi, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  unsigned long long v = strtoull(s.c_str(), &end, 10);
  if (end == nullptr || *end != '\0' || v < lo || v > hi) return false;
  *out = v;
  return true;
}

}  // namespace

std::string help_text() {
  return R"(usage: memshield-audit [options] TARGET...

Measures whether memcached-protocol servers can be abused as DDoS reflectors
(CVE-2018-1000115) or are open to anyone, explains the findings and prints the fix.

TARGET is host, host:port, [IPv6]:port, an IPv4/IPv6 CIDR (10.0.0.0/30, 10.0.0.0/30:PORT,
[fd00::/126]:PORT) or @file with one target per line ('#' comments).

Probes (read-only unless --intrusive; nothing is ever spoofed, all answers come to us):
  TCP  connect, "version", then "stats" and "stats settings" when no authentication is asked
  UDP  "version", "stats", and a "get" of an absent, 250-byte key (its small reply shows UDP is
       open even on servers that never answer more than they receive), with memcached's 8-byte
       frame header; every datagram of the reply is collected and counted: factor = reply bytes
       / request bytes (UDP payload), also with IP+UDP headers (28 bytes IPv4, 48 IPv6, per
       datagram). The effective factor, which decides the risk, adds to the request the bytes
       of earlier probes left unanswered: a server with a per-source budget answers out of them
  --intrusive adds a write test: stores one ~1 MB value under a fresh key over TCP (60 s
       expiry), fetches it with a UDP "get", then deletes it

Risk levels (exit status in brackets):
  critical [2]  a UDP probe got more bytes back than it sent (effective factor > 1.0)
  high     [1]  TCP answers memcached commands without authentication on a non-loopback address
  medium   [1]  UDP answers but never amplifies (effective factor <= 1.0); or TCP answers without
                authentication on loopback while the server says it listens on all interfaces
  unknown  [1]  not scanned before --max-time ran out
  low      [0]  TCP answers without authentication, only on loopback
  none     [0]  nothing answers, authentication is required, or the port speaks another protocol
  The exit status is the worst over all targets; 3 means a usage error.

Options:
  -p, --port N         port for targets that do not name one (default 11211)
  --json               JSON array, one object per target, instead of the table
  --nft                print only an nftables ruleset (ACL + rate limit) for the targets' ports;
                       sends no probes
  --allow CIDR         client network to allow in the --nft ruleset (repeatable; loopback is
                       always allowed)
  --intrusive          also test writes and measure a UDP get of a value we store (then delete)
  --value-size BYTES   size of the --intrusive value (default 1000000; smaller if refused)
  --rate N             at most N probes per second (default 20, max 1000)
  --timeout SECONDS    per-probe timeout (default 1, max 30)
  --max-time SECONDS   bound on the whole run (default 300); targets not reached are "unknown"
  --max-targets N      refuse to expand more than N targets (default 256, ceiling 16777216)
  --color WHEN         auto (default: on a terminal, unless NO_COLOR is set), always, never
  --no-progress        no progress bar (it is shown on a terminal for more than one target)
  -h, --help           this text
  -V, --version        version
)";
}

CliResult parse_cli(const std::vector<std::string>& args, CliOptions* o) {
  CliResult res;
  auto fail = [&](const std::string& msg) {
    res.outcome = CliOutcome::kUsageError;
    res.message = "memshield-audit: " + msg + "\nTry 'memshield-audit --help'.\n";
    return res;
  };
  bool only_targets = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (only_targets || a.empty() || a[0] != '-' || a == "-") {
      o->targets.push_back(a);
      continue;
    }
    if (a == "--") {
      only_targets = true;
      continue;
    }
    std::string value;
    bool has_inline = false;
    if (size_t eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    auto need_value = [&](std::string* out) {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    std::string v;
    if (a == "-h" || a == "--help") {
      res.outcome = CliOutcome::kExit;
      res.message = help_text();
      return res;
    } else if (a == "-V" || a == "--version") {
      res.outcome = CliOutcome::kExit;
      res.message = "memshield-audit 0.1.0\n";
      return res;
    } else if (a == "--json") {
      o->json = true;
    } else if (a == "--nft") {
      o->nft_only = true;
    } else if (a == "--intrusive") {
      o->intrusive = true;
    } else if (a == "--no-progress") {
      o->progress = false;
    } else if (a == "-p" || a == "--port") {
      uint64_t p;
      if (!need_value(&v) || !parse_u64(v, 1, 65535, &p)) return fail("--port needs 1..65535");
      o->port = static_cast<uint16_t>(p);
    } else if (a == "--rate") {
      if (!need_value(&v) || !parse_double(v, 0.1, kMaxRate, &o->rate)) {
        return fail("--rate needs a number of probes per second, 0.1..1000");
      }
    } else if (a == "--timeout") {
      double s;
      if (!need_value(&v) || !parse_double(v, 0.01, kMaxTimeoutSeconds, &s)) {
        return fail("--timeout needs seconds, 0.01..30");
      }
      o->timeout_ms = static_cast<int64_t>(s * 1000);
    } else if (a == "--max-time") {
      double s;
      if (!need_value(&v) || !parse_double(v, 0.1, kMaxRunSeconds, &s)) {
        return fail("--max-time needs seconds, 0.1..86400");
      }
      o->max_time_ms = static_cast<int64_t>(s * 1000);
    } else if (a == "--max-targets") {
      if (!need_value(&v) || !parse_u64(v, 1, kHardTargetCeiling, &o->max_targets)) {
        return fail("--max-targets needs 1.." + std::to_string(kHardTargetCeiling));
      }
    } else if (a == "--value-size") {
      if (!need_value(&v) || !parse_u64(v, 1000, kMaxValueBytes, &o->value_bytes)) {
        return fail("--value-size needs 1000.." + std::to_string(kMaxValueBytes) + " bytes");
      }
    } else if (a == "--allow") {
      std::string err;
      if (!need_value(&v)) return fail("--allow needs a CIDR");
      if (!add_allowed(v, &o->nft, &err)) return fail("--allow: " + err);
    } else if (a == "--color" || a == "--colour") {
      if (!need_value(&v)) return fail("--color needs auto, always or never");
      if (v == "auto") {
        o->color = ColorMode::kAuto;
      } else if (v == "always") {
        o->color = ColorMode::kAlways;
      } else if (v == "never") {
        o->color = ColorMode::kNever;
      } else {
        return fail("--color needs auto, always or never");
      }
    } else {
      return fail("unknown option '" + a + "'");
    }
  }
  if (o->targets.empty()) return fail("no TARGET given");
  return res;
}

}  // namespace memshield::audit
