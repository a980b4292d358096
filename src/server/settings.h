// Everything the operator can set: memcached 1.6's command-line flags (short and long forms,
// -o extended options) plus memshield's own. Parsing is pure: no sockets, no side effects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace memshield::server {

enum class BindingProtocol { kAuto, kAscii, kBinary };

struct Settings {
  // Network
  int tcp_port = 11211;              // -p (0 = no TCP, -1 = an ephemeral port, as memcached)
  int udp_port = 0;                  // -U (0 = off; memshield's default, as memcached >= 1.5.6;
                                     // -1 = an ephemeral port). -U without -p: TCP on the same.
  std::vector<std::string> listen;   // -l, each "addr", "addr:port", "[v6addr]:port"; empty means
                                     // loopback only (127.0.0.1 and ::1): memshield's safe default
  std::string unix_socket;           // -s (disables TCP and UDP, as in memcached)
  int unix_mask = 0700;              // -a, octal
  int backlog = 1024;                // -b
  int max_connections = 1024;        // -c
  int threads = 0;                   // -t; 0 = number of cores
  int reqs_per_event = 20;           // -R
  BindingProtocol protocol = BindingProtocol::kAuto;  // -B
  bool protocol_given = false;  // -B was on the command line (-S refuses an explicit auto)

  // Memory and items
  size_t memory_limit_mb = 64;       // -m
  bool evict = true;                 // -M turns eviction off
  bool use_cas = true;               // -C turns CAS off
  size_t item_size_max = 1u << 20;   // -I, accepts k/m suffixes; 1k..1024m
  double growth_factor = 1.25;       // -f (accepted; memshield has no slab classes)
  int chunk_size = 48;               // -n (accepted; memshield has no slab classes)
  bool lock_memory = false;          // -k
  bool large_pages = false;          // -L
  std::string memory_file;           // -e
  std::string takeover;              // --takeover=PATH: control socket (server/takeover.h)

  // Process
  bool daemonize = false;            // -d
  std::string pidfile;               // -P
  std::string user;                  // -u
  bool seccomp = false;              // -o drop_privileges, --seccomp: syscall allow-list
  int worker_yield = 32;             // -o worker_yield=N / no_worker_yield: see net::WorkerConfig
  bool enable_coredumps = false;     // -r
  int verbosity = 0;                 // -v, -vv, -vvv

  // Commands
  bool shutdown_command = false;     // -A
  bool flush_enabled = true;         // -F disables flush_all
  bool dump_enabled = true;          // -X
  bool watch_enabled = true;         // -W
  size_t watcher_logbuf_kb = 256;    // -o watcher_logbuf_size: each watcher's buffer
  char prefix_delimiter = ':';       // -D
  bool detail_enabled = false;       // -D turns it on

  // Security
  bool sasl = false;                 // -S
  std::string sasl_pwdb;             // --sasl-pwdb=FILE (else $MEMCACHED_SASL_PWDB)
  std::string auth_file;             // -Y
  bool ssl = false;                  // -Z

  // -o extended options that memshield uses
  int idle_timeout = 0;              // idle_timeout=
  bool maxconns_fast = true;         // maxconns_fast / no_maxconns_fast
  int hashpower_init = 0;            // hashpower=
  std::string ssl_chain_cert;        // ssl_chain_cert=
  std::string ssl_key;               // ssl_key=
  std::string ssl_ca_cert;           // ssl_ca_cert=
  int ssl_verify_mode = 0;           // ssl_verify_mode=
  std::string ssl_min_version = "tlsv1.2";  // ssl_min_version=
  int ssl_keyformat = 1;             // ssl_keyformat=: 1 PEM, 2 DER (OpenSSL's numbers)
  std::string ssl_ciphers;           // ssl_ciphers=: TLS <= 1.2 cipher list; empty = default
  size_t ssl_wbuf_size = 16384;      // ssl_wbuf_size= (given in KB, as memcached; reported only)
  bool ssl_session_cache = false;    // ssl_session_cache (reported only)
  bool ssl_kernel_tls = false;       // ssl_kernel_tls (reported only)

  // memcached's slab and LRU tunables: memshield has neither, but `stats` and `stats settings`
  // list fields by them exactly as memcached does (its field set depends on these).
  bool slab_reassign = true;         // slab_reassign / no_slab_reassign (no_modern: off)
  int slab_automove = 1;             // slab_automove= (no_modern: 0)
  size_t slab_chunk_max = 0;         // slab_chunk_max=; 0: item_size_max / 2
  bool slab_chunk_whole = false;     // no_modern: slab_chunk_max is item_size_max
  bool lru_crawler = true;           // lru_crawler / no_lru_crawler
  bool lru_maintainer = true;        // lru_maintainer / no_lru_maintainer
  bool lru_segmented = true;         // off with no_lru_maintainer or no_modern
  // memcached's crawler and LRU tunables: their starting values (the `lru_crawler` and `lru`
  // commands change them at run time; `stats settings` reports the current ones).
  uint32_t lru_crawler_sleep = 100;  // -o lru_crawler_sleep (microseconds)
  uint32_t lru_crawler_tocrawl = 0;  // -o lru_crawler_tocrawl (0: no limit)
  bool track_sizes = false;          // -o track_sizes: `stats sizes` lists the size histogram
  bool temp_lru = false;             // -o temporary_ttl
  uint32_t temporary_ttl = 61;
  uint32_t hot_lru_pct = 20, warm_lru_pct = 40;
  double hot_max_factor = 0.2, warm_max_factor = 2.0;

  // memshield's own (long options only)
  std::vector<std::string> allow;    // --allow=CIDR[,CIDR...], repeatable (TCP and UDP)
  std::vector<std::string> deny;     // --deny=CIDR[,CIDR...], repeatable; deny wins
  std::vector<std::string> udp_trust;  // --udp-trust=CIDR[,...]: networks that cannot spoof
  double udp_max_amplification = 1.0;  // --udp-max-amplification=F, 0..3
  std::string udp_validate;          // --udp-validate=tcp: trust peers with a live TCP conn
  double udp_rate_pps = 2000;        // --udp-rate-pps: packets/s per source prefix, 0 = off
  double udp_rate_bps = 4u << 20;    // --udp-rate-bps: response bytes/s per prefix, 0 = off
  double udp_egress_bps = 64u << 20; // --udp-egress-bps: all UDP responses, bytes/s, 0 = off
  std::string config_file;           // --config=FILE: one flag per line; re-read on SIGHUP
  int request_timeout = 30;          // --request-timeout=S: close a connection whose request has
                                     // been arriving for S seconds (slowloris); 0 = never
  int max_conns_per_source = 0;      // --max-conns-per-source=N: TCP connections per IP; 0 = off
  std::string metrics;               // --metrics=[ADDR:]PORT: Prometheus endpoint; empty = off

  // Flags and options accepted for compatibility that have no effect (yet): one line each,
  // printed as a warning at start-up.
  std::vector<std::string> warnings;
};

enum class ParseOutcome {
  kRun,         // start the server
  kExit,        // -h / -V / -i: text was printed, exit 0
  kUsageError,  // unknown flag or bad value: message printed with the usage text, exit 64
};

struct ParseResult {
  ParseOutcome outcome = ParseOutcome::kRun;
  int exit_code = 0;    // 0 for kRun/kExit, 64 (EX_USAGE) for kUsageError
  std::string output;   // what to print (stdout for kExit, stderr for kUsageError)
};

// Parses argv (memcached's getopt_long syntax: "-p 11211", "-p11211", "--port=11211",
// "--port 11211", bundled "-vv", repeated -l appended). Fills *out.
ParseResult parse_command_line(int argc, char** argv, Settings* out);

// The -h text, memcached's flags with memshield's defaults.
std::string usage_text();

// "1.6.18" compatible version string reported by `version` and -V.
const char* version_string();

}  // namespace memshield::server
