// Turns memcached 1.6.18's command line into a Settings value. A hand-written getopt_long-style
// parser keeps this a pure function (no optind, no stderr), so tests can call it many times.
// Values memcached rejects are rejected here too; values memcached silently mangles (atoi on
// "abc") are rejected instead, because a typo should not become port 0 or a 0-byte cache.
#include "server/settings.h"

#include <sys/socket.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <vector>

#include "server/metrics_http.h"

namespace memshield::server {
namespace {

constexpr int kExUsage = 64;  // sysexits.h EX_USAGE
constexpr const char* kCompatVersion = "1.6.18";
constexpr const char* kOwnVersion = "0.1.0";

enum class ArgKind { kNone, kRequired, kOptional };

// Internal codes for memshield's long-only options: below ' ', so no bundle of short flags can
// ever spell one.
constexpr char kOptAllow = 1;
constexpr char kOptDeny = 2;
constexpr char kOptUdpTrust = 3;
constexpr char kOptUdpMaxAmplification = 4;
constexpr char kOptUdpValidate = 5;
constexpr char kOptUdpRatePps = 6;
constexpr char kOptUdpRateBps = 7;
constexpr char kOptUdpEgressBps = 8;
constexpr char kOptConfig = 9;
constexpr char kOptMaxConnsPerSource = 20;
constexpr char kOptRequestTimeout = 10;
constexpr char kOptMetrics = 11;
constexpr char kOptSaslPwdb = 12;
constexpr char kOptSeccomp = 29;
constexpr char kOptTakeover = 30;

struct FlagSpec {
  char short_name;
  const char* long_name;  // nullptr: short form only (memcached has no --delimiter)
  ArgKind arg;
};

// memcached 1.6.18's getopt table, as its -h lists it. --verbose takes an optional argument there
// (ignored), which is why "--verbose=2" still means verbosity 1.
constexpr FlagSpec kFlags[] = {
    {'p', "port", ArgKind::kRequired},
    {'U', "udp-port", ArgKind::kRequired},
    {'s', "unix-socket", ArgKind::kRequired},
    {'a', "unix-mask", ArgKind::kRequired},
    {'A', "enable-shutdown", ArgKind::kNone},
    {'l', "listen", ArgKind::kRequired},
    {'d', "daemon", ArgKind::kNone},
    {'r', "enable-coredumps", ArgKind::kNone},
    {'u', "user", ArgKind::kRequired},
    {'m', "memory-limit", ArgKind::kRequired},
    {'M', "disable-evictions", ArgKind::kNone},
    {'c', "conn-limit", ArgKind::kRequired},
    {'k', "lock-memory", ArgKind::kNone},
    {'v', "verbose", ArgKind::kOptional},
    {'h', "help", ArgKind::kNone},
    {'i', "license", ArgKind::kNone},
    {'V', "version", ArgKind::kNone},
    {'P', "pidfile", ArgKind::kRequired},
    {'f', "slab-growth-factor", ArgKind::kRequired},
    {'n', "slab-min-size", ArgKind::kRequired},
    {'L', "enable-largepages", ArgKind::kNone},
    {'D', nullptr, ArgKind::kRequired},
    {'t', "threads", ArgKind::kRequired},
    {'R', "max-reqs-per-event", ArgKind::kRequired},
    {'C', "disable-cas", ArgKind::kNone},
    {'b', "listen-backlog", ArgKind::kRequired},
    {'B', "protocol", ArgKind::kRequired},
    {'I', "max-item-size", ArgKind::kRequired},
    {'S', "enable-sasl", ArgKind::kNone},
    {'F', "disable-flush-all", ArgKind::kNone},
    {'X', "disable-dumping", ArgKind::kNone},
    {'W', "disable-watch", ArgKind::kNone},
    {'Y', "auth-file", ArgKind::kRequired},
    {'e', "memory-file", ArgKind::kRequired},
    {'Z', "enable-ssl", ArgKind::kNone},
    {'o', "extended", ArgKind::kRequired},
    {'N', "napi-ids", ArgKind::kRequired},
    // memshield's own, long form only (the short codes are internal, never typed).
    {kOptAllow, "allow", ArgKind::kRequired},
    {kOptDeny, "deny", ArgKind::kRequired},
    {kOptUdpTrust, "udp-trust", ArgKind::kRequired},
    {kOptUdpMaxAmplification, "udp-max-amplification", ArgKind::kRequired},
    {kOptUdpValidate, "udp-validate", ArgKind::kRequired},
    {kOptUdpRatePps, "udp-rate-pps", ArgKind::kRequired},
    {kOptUdpRateBps, "udp-rate-bps", ArgKind::kRequired},
    {kOptUdpEgressBps, "udp-egress-bps", ArgKind::kRequired},
    {kOptConfig, "config", ArgKind::kRequired},
    {kOptMaxConnsPerSource, "max-conns-per-source", ArgKind::kRequired},
    {kOptRequestTimeout, "request-timeout", ArgKind::kRequired},
    {kOptMetrics, "metrics", ArgKind::kRequired},
    {kOptSaslPwdb, "sasl-pwdb", ArgKind::kRequired},
    {kOptSeccomp, "seccomp", ArgKind::kNone},
    {kOptTakeover, "takeover", ArgKind::kRequired},
};

const FlagSpec* find_short(char c) {
  if (c < ' ') return nullptr;
  for (const FlagSpec& f : kFlags) {
    if (f.short_name == c) return &f;
  }
  return nullptr;
}

// Strict decimal integer: optional '-', digits, nothing else. Range checks are the caller's,
// so that out-of-range values get memcached's own message rather than a generic one.
std::optional<long long> parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '-') ? 1 : 0;
  if (i == s.size()) return std::nullopt;
  long long v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
    if (v > (1LL << 53)) return std::nullopt;  // far beyond any sane value; avoids overflow
    v = v * 10 + (s[i] - '0');
  }
  return s[0] == '-' ? -v : v;
}

std::optional<double> parse_double(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string copy(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(copy.c_str(), &end);
  if (errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// -o options. kUsed ones land in Settings; kIgnored ones are validated like memcached does (so a
// config memcached refuses is refused here too) and then produce a "no effect" warning.
enum class OptValue { kNone, kString, kUint, kDouble };

struct ExtSpec {
  const char* name;
  OptValue value;
  bool used;  // true: memshield acts on it (handled by name in apply_ext)
};

constexpr ExtSpec kExtOptions[] = {
    // Used by memshield.
    {"idle_timeout", OptValue::kUint, true},
    {"maxconns_fast", OptValue::kNone, true},
    {"no_maxconns_fast", OptValue::kNone, true},
    {"hashpower", OptValue::kUint, true},
    {"ssl_chain_cert", OptValue::kString, true},
    {"ssl_key", OptValue::kString, true},
    {"ssl_ca_cert", OptValue::kString, true},
    {"ssl_verify_mode", OptValue::kUint, true},
    {"ssl_min_version", OptValue::kUint, true},
    {"ssl_keyformat", OptValue::kUint, true},
    {"ssl_ciphers", OptValue::kString, true},
    {"no_modern", OptValue::kNone, true},  // turns maxconns_fast off, as in memcached
    {"drop_privileges", OptValue::kNone, true},     // the seccomp filter, as --seccomp
    {"no_drop_privileges", OptValue::kNone, true},
    {"worker_yield", OptValue::kUint, true},  // memshield's own
    {"no_worker_yield", OptValue::kNone, true},
    // Accepted for compatibility; memshield has no slabs, LRU threads, extstore or logger buffers.
    {"tail_repair_time", OptValue::kUint, false},
    {"hash_algorithm", OptValue::kString, false},
    {"lru_crawler", OptValue::kNone, false},
    {"no_lru_crawler", OptValue::kNone, false},
    {"lru_crawler_sleep", OptValue::kUint, false},
    {"lru_crawler_tocrawl", OptValue::kUint, false},
    {"read_buf_mem_limit", OptValue::kUint, false},
    {"resp_obj_mem_limit", OptValue::kNone, false},
    {"lru_maintainer", OptValue::kNone, false},
    {"no_lru_maintainer", OptValue::kNone, false},
    {"hot_lru_pct", OptValue::kUint, false},
    {"warm_lru_pct", OptValue::kUint, false},
    {"hot_max_factor", OptValue::kDouble, false},
    {"warm_max_factor", OptValue::kDouble, false},
    {"temporary_ttl", OptValue::kUint, false},
    {"slab_chunk_max", OptValue::kUint, false},
    {"slab_sizes", OptValue::kString, false},
    {"no_chunked_items", OptValue::kNone, false},
    {"slab_reassign", OptValue::kNone, false},
    {"no_slab_reassign", OptValue::kNone, false},
    {"slab_automove", OptValue::kUint, false},
    {"no_slab_automove", OptValue::kNone, false},
    {"slab_automove_ratio", OptValue::kDouble, false},
    {"slab_automove_window", OptValue::kUint, false},
    {"slab_automove_freeratio", OptValue::kDouble, false},
    {"watcher_logbuf_size", OptValue::kUint, true},
    {"worker_logbuf_size", OptValue::kUint, false},
    {"track_sizes", OptValue::kNone, false},
    {"no_hashexpand", OptValue::kNone, false},
    {"no_inline_ascii_resp", OptValue::kNone, false},
    {"modern", OptValue::kNone, false},
    {"sock_cookie_id", OptValue::kUint, false},
    {"ext_path", OptValue::kString, false},
    {"ext_page_size", OptValue::kUint, false},
    {"ext_wbuf_size", OptValue::kUint, false},
    {"ext_threads", OptValue::kUint, false},
    {"ext_io_depth", OptValue::kUint, false},
    {"ext_item_size", OptValue::kUint, false},
    {"ext_item_age", OptValue::kUint, false},
    {"ext_low_ttl", OptValue::kUint, false},
    {"ext_recache_rate", OptValue::kUint, false},
    {"ext_compact_under", OptValue::kUint, false},
    {"ext_drop_under", OptValue::kUint, false},
    {"ext_max_frag", OptValue::kDouble, false},
    {"ext_max_sleep", OptValue::kUint, false},
    {"ext_drop_unread", OptValue::kNone, false},
    {"ssl_wbuf_size", OptValue::kUint, false},
    {"ssl_session_cache", OptValue::kNone, false},
    {"ssl_kernel_tls", OptValue::kNone, false},
};

class Parser {
 public:
  Parser(std::string prog, Settings* out) : prog_(std::move(prog)), s_(out) {}

  // Returns an error message, or nullopt. Sets exit_text_ for -h/-V/-i.
  std::optional<std::string> run(int argc, char** argv);
  // The flags in argv[1..], without the final cross-flag checks.
  std::optional<std::string> run_words(int argc, char** argv);

  const std::optional<std::string>& exit_text() const { return exit_text_; }

 private:
  std::optional<std::string> apply(char flag, const char* value);
  std::optional<std::string> apply_extended(std::string_view list);
  std::optional<std::string> apply_ext(const ExtSpec& spec, std::string_view value);
  std::optional<std::string> check_combination() const;
  std::optional<std::string> apply_rate(std::string_view flag, std::string_view v, double* out);
  std::optional<std::string> apply_config_file(std::string_view path);
  void warn(std::string line);

  std::string prog_;
  Settings* s_;
  std::optional<std::string> exit_text_;
  bool in_config_file_ = false;
  bool tcp_port_given_ = false;
  bool udp_port_given_ = false;
};

void Parser::warn(std::string line) {
  for (const std::string& w : s_->warnings) {
    if (w == line) return;  // "-L -L" should not print the same warning twice
  }
  s_->warnings.push_back(std::move(line));
}

std::optional<std::string> Parser::run(int argc, char** argv) {
  if (auto err = run_words(argc, argv)) return err;
  if (exit_text_) return std::nullopt;
  // memcached: a UDP port given without a TCP one is the TCP port too.
  if (udp_port_given_ && !tcp_port_given_ && s_->udp_port != 0) s_->tcp_port = s_->udp_port;
  return check_combination();
}

std::optional<std::string> Parser::run_words(int argc, char** argv) {
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i] ? argv[i] : "";
    std::string_view a(arg);
    // Like glibc's permuting getopt, memcached skips stray words and keeps parsing; we do the same
    // but say so, since a stray word is usually a typo.
    if (options_done || a.size() < 2 || a[0] != '-') {
      warn("ignoring non-option argument '" + std::string(a) + "'");
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a[1] == '-') {
      std::string_view body = a.substr(2);
      size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      // getopt_long semantics: an exact name wins, otherwise a unique prefix.
      const FlagSpec* match = nullptr;
      std::string candidates;
      int matches = 0;
      for (const FlagSpec& f : kFlags) {
        if (!f.long_name) continue;
        std::string_view ln(f.long_name);
        if (ln == name) {
          match = &f;
          matches = 1;
          break;
        }
        if (ln.substr(0, name.size()) == name) {
          match = &f;
          ++matches;
          candidates += " '--" + std::string(ln) + "'";
        }
      }
      if (matches == 0) {
        return prog_ + ": unrecognized option '" + std::string(a) + "'";
      }
      if (matches > 1) {
        return prog_ + ": option '" + std::string(a) +
               "' is ambiguous; possibilities:" + candidates;
      }
      std::string full = std::string("--") + match->long_name;
      const char* value = nullptr;
      if (eq != std::string_view::npos) {
        if (match->arg == ArgKind::kNone) {
          return prog_ + ": option '" + full + "' doesn't allow an argument";
        }
        value = arg + 2 + eq + 1;
      } else if (match->arg == ArgKind::kRequired) {
        if (i + 1 >= argc) return prog_ + ": option '" + full + "' requires an argument";
        value = argv[++i];
      }
      if (auto err = apply(match->short_name, value)) return err;
      if (exit_text_) return std::nullopt;
      continue;
    }
    // One or more bundled short flags; the first that takes a value swallows the rest.
    for (size_t j = 1; j < a.size(); ++j) {
      const FlagSpec* f = find_short(a[j]);
      if (!f) return prog_ + ": invalid option -- '" + std::string(1, a[j]) + "'";
      const char* value = nullptr;
      if (f->arg == ArgKind::kRequired) {
        if (j + 1 < a.size()) {
          value = arg + j + 1;
        } else if (i + 1 < argc) {
          value = argv[++i];  // taken even if it starts with '-', as getopt does
        } else {
          return prog_ + ": option requires an argument -- '" + std::string(1, a[j]) + "'";
        }
        j = a.size();
      }
      if (auto err = apply(f->short_name, value)) return err;
      if (exit_text_) return std::nullopt;
    }
  }
  return std::nullopt;
}

// -1 is memcached's "any free port" (issue_67); anything else below 0 is refused.
std::optional<std::string> parse_port(std::string_view v, int* out) {
  auto n = parse_int(v);
  if (!n || *n < -1 || *n > 65535) {
    return "ERROR: Invalid port number " + std::string(v) + ".";
  }
  *out = static_cast<int>(*n);
  return std::nullopt;
}

std::optional<std::string> Parser::apply(char flag, const char* raw) {
  std::string_view v = raw ? raw : "";
  switch (flag) {
    case 'p':
      tcp_port_given_ = true;
      return parse_port(v, &s_->tcp_port);
    case 'U':
      udp_port_given_ = true;
      return parse_port(v, &s_->udp_port);
    case 's':
      if (v.empty()) return std::string("UNIX socket path must not be empty");
      s_->unix_socket = std::string(v);
      return std::nullopt;
    case 'a': {
      // memcached reads this with strtol(..., 8) and turns junk into 0 (a socket nobody can open);
      // we insist on octal digits.
      bool ok = !v.empty();
      long mask = 0;
      for (char c : v) {
        if (c < '0' || c > '7' || mask > 0777) {
          ok = false;
          break;
        }
        mask = mask * 8 + (c - '0');
      }
      if (!ok || mask > 0777) {
        return "Invalid UNIX socket mask '" + std::string(v) + "': expected octal, e.g. 700";
      }
      s_->unix_mask = static_cast<int>(mask);
      return std::nullopt;
    }
    case 'A':
      s_->shutdown_command = true;
      return std::nullopt;
    case 'l': {
      size_t start = 0;
      bool any = false;
      while (start <= v.size()) {
        size_t comma = v.find(',', start);
        if (comma == std::string_view::npos) comma = v.size();
        std::string_view item = v.substr(start, comma - start);
        if (!item.empty()) {
          s_->listen.emplace_back(item);
          any = true;
        }
        start = comma + 1;
      }
      if (!any) return "Invalid listen address '" + std::string(v) + "'";
      return std::nullopt;
    }
    case 'd':
      s_->daemonize = true;
      return std::nullopt;
    case 'r':
      s_->enable_coredumps = true;
      return std::nullopt;
    case 'u':
      if (v.empty()) return std::string("User name must not be empty");
      s_->user = std::string(v);
      return std::nullopt;
    case 'm': {
      // memcached reads -m with atoi, so "-m 64m" is 64 MB but "-m 1g" is 1 MB, not 1 GB. We keep
      // that meaning (configs must behave the same) and warn, since it is rarely what was meant.
      std::string_view digits = v;
      char unit = 0;
      if (!v.empty() && std::string_view("kKmMgGtT").find(v.back()) != std::string_view::npos) {
        unit = v.back();
        digits = v.substr(0, v.size() - 1);
      }
      auto n = parse_int(digits);
      if (!n) {
        return "Invalid memory limit '" + std::string(v) + "': expected a number of megabytes";
      }
      if (*n <= 0) return std::string("Memory limit must be greater than 0");
      if (*n > (1LL << 40)) return "Memory limit " + std::string(v) + " MB is too large";
      s_->memory_limit_mb = static_cast<size_t>(*n);
      if (unit != 0 && unit != 'm' && unit != 'M') {
        warn("-m " + std::string(v) + " means " + std::string(digits) +
             " megabytes: -m ignores unit suffixes, as in memcached");
      }
      return std::nullopt;
    }
    case 'M':
      s_->evict = false;
      return std::nullopt;
    case 'c': {
      auto n = parse_int(v);
      if (!n || *n <= 0) return std::string("Maximum connections must be greater than 0");
      if (*n > 0x7fffffff) return "Maximum connections " + std::string(v) + " is too large";
      s_->max_connections = static_cast<int>(*n);
      return std::nullopt;
    }
    case 'k':
      s_->lock_memory = true;
      warn("-k (lock memory) is accepted but has no effect in memshield yet");
      return std::nullopt;
    case 'v':
      ++s_->verbosity;  // --verbose=N ignores N, as memcached does
      return std::nullopt;
    case 'h':
      exit_text_ = usage_text();
      return std::nullopt;
    case 'i':
      exit_text_ = std::string("memshield ") + kOwnVersion +
                   " is released under the MIT License; it contains no memcached code.\n";
      return std::nullopt;
    case 'V':
      exit_text_ = std::string("memcached ") + kCompatVersion + "\n";
      return std::nullopt;
    case 'P':
      if (v.empty()) return std::string("PID file path must not be empty");
      s_->pidfile = std::string(v);
      return std::nullopt;
    case 'f': {
      auto d = parse_double(v);
      if (!d || *d <= 1.0) return std::string("Factor must be greater than 1");
      s_->growth_factor = *d;
      warn("-f (slab growth factor) is accepted but has no effect in memshield (no slab classes)");
      return std::nullopt;
    }
    case 'n': {
      auto n = parse_int(v);
      if (!n || *n <= 0 || *n > 0x7fffffff) {
        return std::string("Chunk size must be greater than 0");
      }
      s_->chunk_size = static_cast<int>(*n);
      warn("-n (slab min size) is accepted but has no effect in memshield (no slab classes)");
      return std::nullopt;
    }
    case 'L':
      s_->large_pages = true;
      warn("-L (large pages) is accepted but has no effect in memshield");
      return std::nullopt;
    case 'D':
      if (v.empty()) return std::string("No delimiter specified");
      if (v.size() > 1) {
        warn("-D " + std::string(v) + ": only the first character '" + std::string(1, v[0]) +
             "' is used as the delimiter");
      }
      s_->prefix_delimiter = v[0];
      s_->detail_enabled = true;
      return std::nullopt;
    case 't': {
      auto n = parse_int(v);
      if (!n || *n <= 0) return std::string("Number of threads must be greater than 0");
      if (*n > 4096) return "Number of threads " + std::string(v) + " is too large";
      s_->threads = static_cast<int>(*n);
      if (*n > 64) {
        warn("Setting a high number of worker threads (" + std::string(v) +
             ") is not recommended; use the number of cores or fewer");
      }
      return std::nullopt;
    }
    case 'R': {
      auto n = parse_int(v);
      if (!n || *n <= 0) return std::string("Number of requests per event must be greater than 0");
      if (*n > 0x7fffffff) return "Requests per event " + std::string(v) + " is too large";
      s_->reqs_per_event = static_cast<int>(*n);
      return std::nullopt;
    }
    case 'C':
      s_->use_cas = false;
      return std::nullopt;
    case 'b': {
      // memcached passes any atoi result to listen(); 0 is meaningful, negatives are not.
      auto n = parse_int(v);
      if (!n || *n < 0 || *n > 0x7fffffff) {
        return "Invalid listen backlog '" + std::string(v) + "'";
      }
      s_->backlog = static_cast<int>(*n);
      return std::nullopt;
    }
    case 'B':
      s_->protocol_given = true;
      if (v == "auto") {
        s_->protocol = BindingProtocol::kAuto;
      } else if (v == "ascii") {
        s_->protocol = BindingProtocol::kAscii;
      } else if (v == "binary") {
        s_->protocol = BindingProtocol::kBinary;
      } else {
        return "Invalid value for binding protocol: " + std::string(v) +
               " -- should be one of auto, binary, or ascii";
      }
      return std::nullopt;
    case 'I': {
      // memcached takes a trailing k or m (either case); anything else is not a size.
      std::string_view digits = v;
      long long mult = 1;
      if (!v.empty() && (v.back() == 'k' || v.back() == 'K')) {
        mult = 1024;
        digits = v.substr(0, v.size() - 1);
      } else if (!v.empty() && (v.back() == 'm' || v.back() == 'M')) {
        mult = 1024 * 1024;
        digits = v.substr(0, v.size() - 1);
      }
      auto n = parse_int(digits);
      if (!n) {
        return "Invalid item size '" + std::string(v) + "': expected bytes with an optional k or m";
      }
      // Clamp before multiplying so a huge number cannot overflow into a small one.
      long long bytes = (*n > (1LL << 31)) ? (1LL << 31) : *n * mult;
      if (bytes < 1024) return std::string("Item max size cannot be less than 1024 bytes.");
      if (bytes > 1024LL * 1024 * 1024) {
        return std::string("Cannot set item size limit higher than a gigabyte.");
      }
      s_->item_size_max = static_cast<size_t>(bytes);
      return std::nullopt;
    }
    case 'S':
      s_->sasl = true;
      return std::nullopt;
    case 'F':
      s_->flush_enabled = false;
      return std::nullopt;
    case 'X':
      s_->dump_enabled = false;
      return std::nullopt;
    case 'W':
      s_->watch_enabled = false;
      return std::nullopt;
    case 'Y':
      if (v.empty()) return std::string("Auth file path must not be empty");
      s_->auth_file = std::string(v);
      return std::nullopt;
    case 'e':
      if (v.empty()) return std::string("Memory file path must not be empty");
      s_->memory_file = std::string(v);
      return std::nullopt;
    case 'Z':
      s_->ssl = true;
      return std::nullopt;
    case 'o':
      return apply_extended(v);
    case 'N': {
      auto n = parse_int(v);
      if (!n || *n <= 0) return "Invalid number of NAPI ids '" + std::string(v) + "'";
      warn("-N (NAPI ids) is accepted but has no effect in memshield");
      return std::nullopt;
    }
    // CIDR lists are checked when the server builds its ACL, which names the bad entry.
    case kOptAllow:
      s_->allow.emplace_back(v);
      return std::nullopt;
    case kOptDeny:
      s_->deny.emplace_back(v);
      return std::nullopt;
    case kOptUdpTrust:
      s_->udp_trust.emplace_back(v);
      return std::nullopt;
    case kOptUdpMaxAmplification: {
      auto f = parse_double(v);
      if (!f || *f < 0 || *f > 3) {
        return "--udp-max-amplification must be a number from 0 to 3 (QUIC's limit), not '" +
               std::string(v) + "'";
      }
      s_->udp_max_amplification = *f;
      return std::nullopt;
    }
    case kOptUdpValidate:
      if (v != "tcp" && v != "cookie") {
        return "--udp-validate takes 'tcp' (trust peers with a live TCP connection) or 'cookie' "
               "(the default), not '" + std::string(v) + "'";
      }
      s_->udp_validate = v == "tcp" ? "tcp" : "";
      return std::nullopt;
    case kOptUdpRatePps:
      return apply_rate("--udp-rate-pps", v, &s_->udp_rate_pps);
    case kOptUdpRateBps:
      return apply_rate("--udp-rate-bps", v, &s_->udp_rate_bps);
    case kOptUdpEgressBps:
      return apply_rate("--udp-egress-bps", v, &s_->udp_egress_bps);
    case kOptRequestTimeout: {
      auto n = parse_int(v);
      if (!n || *n < 0 || *n > 86400) {
        return "--request-timeout takes whole seconds from 0 (never) to 86400, not '" +
               std::string(v) + "'";
      }
      s_->request_timeout = static_cast<int>(*n);
      return std::nullopt;
    }
    case kOptSeccomp:
      s_->seccomp = true;
      return std::nullopt;
    case kOptTakeover:
      if (v.empty() || v.size() >= 100) {
        return "--takeover takes the path of a unix socket (under 100 bytes)";
      }
      s_->takeover = std::string(v);
      return std::nullopt;
    case kOptSaslPwdb:
      s_->sasl_pwdb = std::string(v);
      return std::nullopt;
    case kOptMetrics: {
      sockaddr_storage sa;
      std::string error;
      if (!parse_metrics_address(v, &sa, &error)) return error;
      s_->metrics = std::string(v);
      return std::nullopt;
    }
    case kOptMaxConnsPerSource: {
      auto n = parse_int(v);
      if (!n || *n < 0 || *n > 1000000) {
        return "--max-conns-per-source takes a count from 0 (no limit) to 1000000, not '" +
               std::string(v) + "'";
      }
      s_->max_conns_per_source = static_cast<int>(*n);
      return std::nullopt;
    }
    case kOptConfig:
      if (in_config_file_) return std::string("--config cannot be used inside a config file");
      s_->config_file = std::string(v);
      return apply_config_file(v);
  }
  return "unhandled option -" + std::string(1, flag);  // unreachable: kFlags and switch agree
}

std::optional<std::string> Parser::apply_rate(std::string_view flag, std::string_view v,
                                              double* out) {
  auto n = parse_int(v);
  if (!n || *n < 0) {
    return std::string(flag) + " takes a whole number >= 0 (0 = unlimited), not '" +
           std::string(v) + "'";
  }
  *out = static_cast<double>(*n);
  return std::nullopt;
}

// Debian's /etc/memcached.conf style: one flag (and its value) per line, '#' starts a comment.
// Each line goes through the same parser as the command line; errors name file and line.
std::optional<std::string> Parser::apply_config_file(std::string_view path) {
  std::ifstream in{std::string(path)};
  if (!in) return "cannot read config file " + std::string(path) + ": " + strerror(errno);
  std::string line;
  int lineno = 0;
  in_config_file_ = true;
  while (std::getline(in, line)) {
    ++lineno;
    size_t hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::vector<std::string> args{prog_};
    for (std::string w; words >> w;) args.push_back(w);
    if (args.size() == 1) continue;
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto err = run_words(static_cast<int>(args.size()), argv.data());
    if (err) {
      in_config_file_ = false;
      return std::string(path) + ":" + std::to_string(lineno) + ": " + *err;
    }
  }
  in_config_file_ = false;
  return std::nullopt;
}

// getsubopt semantics as memcached uses them: "a,b=1," is fine (trailing comma ends the list),
// but an empty item before another one ("a,,b" or ",") is an illegal suboption "".
std::optional<std::string> Parser::apply_extended(std::string_view list) {
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = list.substr(pos, comma - pos);
    pos = comma + 1;
    size_t eq = item.find('=');
    std::string_view key = item.substr(0, eq);
    std::optional<std::string_view> value;
    if (eq != std::string_view::npos) value = item.substr(eq + 1);
    const ExtSpec* spec = nullptr;
    for (const ExtSpec& e : kExtOptions) {
      if (key == e.name) spec = &e;
    }
    if (!spec) return "Illegal suboption \"" + std::string(item) + "\"";
    if (spec->value != OptValue::kNone && (!value || value->empty())) {
      if (key == "idle_timeout" || key == "hashpower" || key == "tail_repair_time") {
        return "Missing numeric argument for " + std::string(key);
      }
      return "Missing " + std::string(key) + " argument";
    }
    if (auto err = apply_ext(*spec, value.value_or(""))) return err;
  }
  return std::nullopt;
}

std::optional<std::string> Parser::apply_ext(const ExtSpec& spec, std::string_view value) {
  std::string_view name(spec.name);
  std::optional<long long> num;
  std::optional<double> dbl;
  if (spec.value == OptValue::kUint) {
    num = parse_int(value);
    if (!num || *num < 0 || *num > 0xffffffffLL) {
      // hashpower and tail_repair_time have their own memcached messages below.
      if (name != "hashpower" && name != "tail_repair_time") {
        return "could not parse argument to " + std::string(name);
      }
    }
  } else if (spec.value == OptValue::kDouble) {
    dbl = parse_double(value);
    if (!dbl) return "could not parse argument to " + std::string(name);
  }
  long long n = num.value_or(0);

  if (name == "watcher_logbuf_size") {
    // memcached: kilobytes; each watcher's buffer.
    if (n > (1 << 20)) return "could not parse argument to watcher_logbuf_size";
    s_->watcher_logbuf_kb = static_cast<size_t>(n);
  } else if (name == "idle_timeout") {
    if (n > 0x7fffffff) return "could not parse argument to idle_timeout";
    s_->idle_timeout = static_cast<int>(n);
  } else if (name == "maxconns_fast") {
    s_->maxconns_fast = true;  // memcached ignores any "=value" here
  } else if (name == "no_maxconns_fast") {
    s_->maxconns_fast = false;
  } else if (name == "drop_privileges") {
    s_->seccomp = true;
  } else if (name == "no_drop_privileges") {
    s_->seccomp = false;
  } else if (name == "worker_yield") {
    if (n > 1000000) return "could not parse argument to worker_yield";
    s_->worker_yield = static_cast<int>(n);
  } else if (name == "no_worker_yield") {
    s_->worker_yield = 0;
  } else if (name == "no_modern") {
    // memcached's pre-1.5 defaults; only maxconns_fast changes behaviour here, the rest changes
    // which fields `stats` and `stats settings` list, and their values.
    s_->maxconns_fast = false;
    s_->slab_reassign = false;
    s_->slab_automove = 0;
    s_->slab_chunk_whole = true;
    s_->lru_crawler = false;
    s_->lru_maintainer = false;
    s_->lru_segmented = false;
    warn("-o no_modern: only its maxconns_fast=off part has an effect in memshield");
  } else if (name == "hashpower") {
    if (n < 12) return "Initial hashtable multiplier of " + std::to_string(n) + " is too low";
    if (n >= 64) {
      return "Initial hashtable multiplier of " + std::to_string(n) +
             " is too high; choose a value based on \"STAT hash_power_level\" from a running "
             "instance";
    }
    s_->hashpower_init = static_cast<int>(n);
  } else if (name == "ssl_chain_cert") {
    s_->ssl_chain_cert = std::string(value);
  } else if (name == "ssl_key") {
    s_->ssl_key = std::string(value);
  } else if (name == "ssl_ca_cert") {
    s_->ssl_ca_cert = std::string(value);
  } else if (name == "ssl_verify_mode") {
    if (n > 3) return std::string("Invalid ssl_verify_mode. Use help to see valid options.");
    s_->ssl_verify_mode = static_cast<int>(n);
  } else if (name == "ssl_min_version") {
    // memcached takes 0..3 here and reports the protocol name in "stats settings".
    static constexpr const char* kNames[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
    if (n > 3) return std::string("could not parse argument to ssl_min_version");
    s_->ssl_min_version = kNames[n];
  } else if (name == "ssl_keyformat") {
    s_->ssl_keyformat = static_cast<int>(n);  // passed to OpenSSL as memcached does
  } else if (name == "ssl_ciphers") {
    s_->ssl_ciphers = std::string(value);
  } else {
    // Ignored options: reproduce memcached's rejections so both refuse the same configs.
    if (name == "tail_repair_time" && (!num || n < 10)) {
      return std::string("Cannot set tail_repair_time to less than 10 seconds");
    }
    if (name == "hash_algorithm" && value != "jenkins" && value != "murmur3" && value != "xxh3") {
      return std::string("Unknown hash_algorithm option (jenkins, murmur3, xxh3)");
    }
    if ((name == "hot_lru_pct" || name == "warm_lru_pct") && (n < 1 || n >= 80)) {
      return std::string(name) + " must be > 1 and < 80";
    }
    if ((name == "hot_max_factor" || name == "warm_max_factor") && *dbl <= 0) {
      return std::string(name) + " must be > 0";
    }
    if (name == "lru_crawler_sleep" && n > 1000000) {
      return std::string("LRU crawler sleep must be between 0 and 1 second");
    }
    if (name == "slab_automove" && n > 2) {
      return std::string("slab_automove must be between 0 and 2");
    }
    if (name == "slab_automove_ratio" && (*dbl <= 0 || *dbl >= 1)) {
      return std::string("slab_automove_ratio must be > 0 and < 1");
    }
    if (name == "slab_automove_window" && n <= 2) {
      return std::string("slab_automove_window must be > 2");
    }
    // Reported in `stats settings` (and shaping which `stats` fields memcached lists), but
    // with no effect on behaviour here.
    if (name == "lru_crawler" || name == "no_lru_crawler") {
      s_->lru_crawler = name == "lru_crawler";
    } else if (name == "lru_maintainer") {
      s_->lru_maintainer = true;
      s_->lru_segmented = true;
    } else if (name == "no_lru_maintainer") {
      s_->lru_maintainer = false;
      s_->lru_segmented = false;  // memcached: segmented LRUs need the maintainer
    } else if (name == "slab_reassign" || name == "no_slab_reassign") {
      s_->slab_reassign = name == "slab_reassign";
    } else if (name == "slab_automove") {
      s_->slab_automove = static_cast<int>(n);
    } else if (name == "no_slab_automove") {
      s_->slab_automove = 0;
    } else if (name == "slab_chunk_max") {
      s_->slab_chunk_max = static_cast<size_t>(n);
      s_->slab_chunk_whole = false;
    } else if (name == "ssl_wbuf_size") {
      s_->ssl_wbuf_size = static_cast<size_t>(n) * 1024;  // given in KB, as memcached
    } else if (name == "ssl_session_cache") {
      s_->ssl_session_cache = true;
    } else if (name == "ssl_kernel_tls") {
      s_->ssl_kernel_tls = true;
    }
    if (name == "lru_crawler_sleep") s_->lru_crawler_sleep = static_cast<uint32_t>(n);
    if (name == "lru_crawler_tocrawl") s_->lru_crawler_tocrawl = static_cast<uint32_t>(n);
    if (name == "hot_lru_pct") s_->hot_lru_pct = static_cast<uint32_t>(n);
    if (name == "warm_lru_pct") s_->warm_lru_pct = static_cast<uint32_t>(n);
    if (name == "hot_max_factor") s_->hot_max_factor = *dbl;
    if (name == "warm_max_factor") s_->warm_max_factor = *dbl;
    if (name == "temporary_ttl") {
      s_->temp_lru = true;
      s_->temporary_ttl = static_cast<uint32_t>(n);
    }
    if (name == "track_sizes") {
      s_->track_sizes = true;  // `stats sizes` walks the store for its histogram
      return std::nullopt;
    }
    warn("-o " + std::string(name) + " is accepted but has no effect in memshield");
  }
  return std::nullopt;
}

// Checks that need every flag seen first, as memcached does them after its getopt loop.
std::optional<std::string> Parser::check_combination() const {
  if (s_->item_size_max > s_->memory_limit_mb * 1024 * 1024 / 2) {
    return std::string("Cannot set item size limit higher than 1/2 of memory max.");
  }
  // memcached: -S with an explicit -B other than binary (auto included) is refused.
  if (s_->sasl && (s_->protocol == BindingProtocol::kAscii ||
                   (s_->protocol_given && s_->protocol == BindingProtocol::kAuto))) {
    return std::string("ERROR: You cannot allow the ASCII protocol while using SASL.");
  }
  if (!s_->auth_file.empty() && s_->protocol == BindingProtocol::kBinary) {
    return std::string(
        "ERROR: You cannot allow the BINARY protocol while using ascii authentication tokens.");
  }
  return std::nullopt;
}

std::string program_name(int argc, char** argv) {
  if (argc < 1 || !argv[0] || !*argv[0]) return "memshield";
  std::string_view p(argv[0]);
  size_t slash = p.rfind('/');
  return std::string(slash == std::string_view::npos ? p : p.substr(slash + 1));
}

}  // namespace

ParseResult parse_command_line(int argc, char** argv, Settings* out) {
  Parser parser(program_name(argc, argv), out);
  ParseResult result;
  if (auto err = parser.run(argc, argv)) {
    result.outcome = ParseOutcome::kUsageError;
    result.exit_code = kExUsage;
    result.output = *err + "\n" + usage_text();
    return result;
  }
  if (parser.exit_text()) {
    result.outcome = ParseOutcome::kExit;
    result.output = *parser.exit_text();
  }
  return result;
}

const char* version_string() { return kCompatVersion; }

std::string usage_text() {
  std::string t =
      std::string("memshield ") + kOwnVersion + " (memcached " + kCompatVersion + " compatible)\n";
  t += R"(-p, --port=<num>          TCP port to listen on (default: 11211); 0 turns TCP off, -1
                          picks a free port ($MEMCACHED_PORT_FILENAME names a file that
                          gets the ports bound)
-U, --udp-port=<num>      UDP port to listen on (default: 0, off); -1 picks a free port;
                          without -p, TCP listens on the same port
-s, --unix-socket=<file>  UNIX socket to listen on (turns TCP and UDP off)
-a, --unix-mask=<mask>    permissions of the UNIX socket, in octal (default: 700)
-A, --enable-shutdown     allow the ascii "shutdown" command
-l, --listen=<addr>       address to listen on; repeat it or give a comma-separated
                          list for several (default: 127.0.0.1 and ::1 (loopback
                          only; memshield's safe default))
-d, --daemon              run in the background as a daemon
-r, --enable-coredumps    raise the core file size limit to the maximum
-u, --user=<user>         switch to <user> after binding (required when run as root)
-m, --memory-limit=<num>  memory for items, in megabytes (default: 64)
-M, --disable-evictions   answer with an error when memory is full instead of evicting
-c, --conn-limit=<num>    maximum number of open connections (default: 1024)
-k, --lock-memory         lock all paged memory (accepted; no effect yet)
-v, --verbose             verbose: log errors and warnings from the event loop
-vv                       very verbose: also log client commands and responses
-vvv                      extremely verbose: also log internal state changes
-h, --help                show this help and exit
-i, --license             show the license and exit
-V, --version             show the memcached-compatible version and exit
-P, --pidfile=<file>      write the process id to <file> (used with -d)
-f, --slab-growth-factor=<num> slab chunk growth factor (accepted; memshield has no
                          slab classes) (default: 1.25)
-n, --slab-min-size=<bytes> smallest slab chunk (accepted; no effect) (default: 48)
-L, --enable-largepages   use large memory pages (accepted; no effect)
-D <char>                 delimiter between key prefixes and ids for per-prefix stats
                          (default: ":"); giving -D also turns per-prefix stats on,
                          otherwise "stats detail on" does
-t, --threads=<num>       number of worker threads (default: number of cores)
-R, --max-reqs-per-event  requests served per connection before others get a turn,
                          so one busy client cannot starve the rest (default: 20)
-C, --disable-cas         turn CAS off
-b, --listen-backlog=<num> length of the listen queue (default: 1024)
-B, --protocol=<name>     ascii, binary or auto (default: auto-negotiate)
-I, --max-item-size=<num> largest item, in bytes with an optional k or m suffix
                          (default: 1m, min: 1k, max: 1024m)
-S, --enable-sasl         binary-protocol SASL authentication (text protocol
                          refused): Cyrus SASL configured by memcached.conf in
                          $SASL_CONF_PATH, or PLAIN against the user:password file
                          named by --sasl-pwdb or $MEMCACHED_SASL_PWDB
-F, --disable-flush-all   turn the flush_all command off
-X, --disable-dumping     turn stats cachedump and lru_crawler metadump off
-W, --disable-watch       turn the watch command (live logging) off
-Y, --auth-file=<file>    ascii authentication from a user:password file (re-read on
                          SIGHUP); UDP is then never answered
-e, --memory-file=<file>  keep item memory in <file> (put it on tmpfs, e.g. /dev/shm);
                          SIGUSR1 (or `shutdown graceful` with -A) saves <file>.meta, and
                          a restart with the same -m, -I, -C, -M restores every item
-Z, --enable-ssl          TLS on every TCP listener (OpenSSL; not the UNIX socket or
                          UDP); certificates are reloaded on SIGHUP and refresh_certs
-o, --extended            comma-separated list of extended options; repeatable
   - maxconns_fast:       close new connections at once when over the limit
                          (default: on; no_maxconns_fast turns it off)
   - hashpower:           initial hash table size as a power of two, 12..63
                          (default: 0, grow as needed)
   - idle_timeout:        close connections idle this many seconds (default: 0, never)
   - ssl_chain_cert:      certificate chain file, PEM
   - ssl_key:             private key file, if not in ssl_chain_cert
   - ssl_ca_cert:         PEM file of client CAs to accept
   - ssl_verify_mode:     client certificate check: 0 none, 1 request, 2 require,
                          3 once (default: 0)
   - ssl_min_version:     oldest TLS version: 0 tlsv1.0, 1 tlsv1.1, 2 tlsv1.2,
                          3 tlsv1.3 (default: 2)
   - ssl_keyformat:       format of ssl_key: 1 PEM, 2 DER (default: 1)
   - ssl_ciphers:         OpenSSL cipher list for TLS 1.2 and older (default: OpenSSL's)
   - drop_privileges:     once serving, allow only the system calls memshield needs
                          (seccomp); any other kills the process (default: off)
   - no_drop_privileges:  turn drop_privileges off
   - worker_yield:        a worker that has served this many ready connections without
                          once waiting for more offers its CPU to other runnable threads
                          (sched_yield), so clients sharing its core keep pace; 0 never
                          (default: 32)
   - no_worker_yield:     the same as worker_yield=0
   Accepted for compatibility with memcached, validated, but with no effect in memshield
   (its store has no slab classes, LRU threads, extstore or logger buffers):
     tail_repair_time, hash_algorithm, lru_crawler, no_lru_crawler, lru_crawler_sleep,
     lru_crawler_tocrawl, read_buf_mem_limit, lru_maintainer, no_lru_maintainer,
     hot_lru_pct, warm_lru_pct, hot_max_factor, warm_max_factor, temporary_ttl,
     slab_chunk_max, slab_sizes, slab_reassign, slab_automove, slab_automove_ratio,
     slab_automove_window, slab_automove_freeratio, watcher_logbuf_size,
     worker_logbuf_size, track_sizes, no_hashexpand, modern, no_modern (turns
     maxconns_fast off), sock_cookie_id, ssl_wbuf_size, ssl_session_cache,
     ssl_kernel_tls, and every extstore suboption (ext_*: memshield has no extstore,
     so this list does not name its path option, which tools read as extstore support)
-N, --napi-ids            number of NAPI ids (accepted; no effect)

memshield's own options (long form only):
--config=<file>           read flags from <file>, one per line, '#' comments (Debian's
                          /etc/memcached.conf style); ACLs are re-read on SIGHUP
--allow=<cidr>[,<cidr>]   serve only these networks, over TCP and UDP; repeatable
--deny=<cidr>[,<cidr>]    never serve these networks; repeatable; deny wins over allow
--udp-trust=<cidr>[,...]  networks where spoofing is impossible (ingress filtering):
                          full UDP responses without a cookie
--udp-max-amplification=<f> unvalidated UDP sources get back at most f times the
                          bytes they sent, 0..3 (default: 1.0)
--udp-validate=tcp        also trust UDP sources that hold a live TCP connection, under
                          the per-prefix byte rate (weaker than cookies: see SECURITY.md)
--request-timeout=<s>     close a connection whose request has been arriving for <s>
                          seconds, e.g. a client sending one byte a second (default: 30;
                          0 = never)
--max-conns-per-source=<n> TCP connections one IP address may hold; more are closed
                          before a byte is sent (default: 0 = no limit)
--udp-rate-pps=<n>        UDP packets/s accepted per /24 (IPv4) or /56 (IPv6) source
                          prefix (default: 2000; 0 = unlimited)
--udp-rate-bps=<n>        UDP response bytes/s per source prefix (default: 4194304)
--udp-egress-bps=<n>      UDP response bytes/s in all (default: 67108864)
--metrics=[<addr>:]<port> serve Prometheus metrics over HTTP at /metrics; <addr> is
                          an IP literal, IPv6 in brackets (default: off; 127.0.0.1
                          when only a port is given)
--sasl-pwdb=<file>        with -S: PLAIN against this user:password file instead of
                          Cyrus SASL (default: $MEMCACHED_SASL_PWDB)
--seccomp                 the same as -o drop_privileges
--takeover=<path>         zero-downtime upgrade over the unix control socket <path>: if a
                          memshield listens there, take over its listening sockets, its
                          cache (with -e) and its open connections, and it exits; if none
                          does, start normally. Either way, listen there for the next one
                          (docs/OPERATIONS.md "Upgrades without downtime")
)";
  return t;
}

}  // namespace memshield::server
