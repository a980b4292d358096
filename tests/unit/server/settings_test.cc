// Tests for the memcached-compatible command-line parser: every flag in short and long form,
// getopt_long syntax variants, -o extended options, and memcached's own rejections.
#include "server/settings.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace memshield::server {
namespace {

struct Parsed {
  ParseResult result;
  Settings settings;
};

// Builds a mutable argv the way main() receives it, with a program name in front.
Parsed parse(std::vector<std::string> args) {
  args.insert(args.begin(), "memshield");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Parsed p;
  p.result = parse_command_line(static_cast<int>(args.size()), argv.data(), &p.settings);
  return p;
}

Settings ok(std::vector<std::string> args) {
  Parsed p = parse(std::move(args));
  EXPECT_EQ(p.result.outcome, ParseOutcome::kRun) << p.result.output;
  EXPECT_EQ(p.result.exit_code, 0);
  return p.settings;
}

// Returns the first line of the error output; the rest must be the usage text.
std::string usage_error(std::vector<std::string> args) {
  Parsed p = parse(std::move(args));
  EXPECT_EQ(p.result.outcome, ParseOutcome::kUsageError);
  EXPECT_EQ(p.result.exit_code, 64);
  size_t nl = p.result.output.find('\n');
  if (nl == std::string::npos) return p.result.output;
  EXPECT_EQ(p.result.output.substr(nl + 1), usage_text());
  return p.result.output.substr(0, nl);
}

bool has_warning(const Settings& s, const std::string& part) {
  for (const std::string& w : s.warnings) {
    if (w.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(SettingsTest, DefaultsWithNoArguments) {
  Settings s = ok({});
  EXPECT_EQ(s.tcp_port, 11211);
  EXPECT_EQ(s.udp_port, 0);
  EXPECT_TRUE(s.listen.empty());
  EXPECT_EQ(s.threads, 0);
  EXPECT_EQ(s.max_connections, 1024);
  EXPECT_EQ(s.memory_limit_mb, 64u);
  EXPECT_EQ(s.item_size_max, 1u << 20);
  EXPECT_EQ(s.unix_mask, 0700);
  EXPECT_EQ(s.backlog, 1024);
  EXPECT_EQ(s.reqs_per_event, 20);
  EXPECT_EQ(s.protocol, BindingProtocol::kAuto);
  EXPECT_EQ(s.verbosity, 0);
  EXPECT_TRUE(s.evict);
  EXPECT_TRUE(s.use_cas);
  EXPECT_TRUE(s.flush_enabled);
  EXPECT_TRUE(s.maxconns_fast);
  EXPECT_EQ(s.prefix_delimiter, ':');
  EXPECT_FALSE(s.detail_enabled);
  EXPECT_EQ(s.ssl_min_version, "tlsv1.2");
  EXPECT_TRUE(s.warnings.empty());
}

TEST(SettingsTest, PortSyntaxVariants) {
  EXPECT_EQ(ok({"-p", "1234"}).tcp_port, 1234);
  EXPECT_EQ(ok({"-p1234"}).tcp_port, 1234);
  EXPECT_EQ(ok({"--port=1234"}).tcp_port, 1234);
  EXPECT_EQ(ok({"--port", "1234"}).tcp_port, 1234);
  EXPECT_EQ(ok({"--por=1234"}).tcp_port, 1234);  // unambiguous prefix, as getopt_long
  EXPECT_EQ(ok({"-p", "0"}).tcp_port, 0);
  EXPECT_EQ(ok({"-p", "65535"}).tcp_port, 65535);
  EXPECT_EQ(ok({"-p", "1", "-p", "2"}).tcp_port, 2);  // last one wins
}

// memcached's port rules (issue_67.t): 0 turns TCP or UDP off, -1 asks for an ephemeral port,
// and -U without -p puts TCP on the UDP port.
TEST(SettingsTest, PortZeroOffMinusOneEphemeralAndUdpWithoutTcp) {
  EXPECT_EQ(ok({"-p", "-1"}).tcp_port, -1);
  EXPECT_EQ(ok({"-U", "-1"}).udp_port, -1);
  EXPECT_EQ(ok({"-U", "-1"}).tcp_port, -1);
  EXPECT_EQ(ok({"-U", "11222"}).tcp_port, 11222);
  EXPECT_EQ(ok({"-U", "0"}).tcp_port, 11211);
  EXPECT_EQ(ok({"-p", "11262", "-U", "-1"}).tcp_port, 11262);
  EXPECT_EQ(ok({"-U", "11252", "-p", "-1"}).tcp_port, -1);
  EXPECT_EQ(ok({"-p", "0"}).udp_port, 0);
}

// Options memshield only reports: they shape `stats settings` and which `stats` fields exist.
TEST(SettingsTest, ReportedOnlyOptionsSetTheirFields) {
  Settings d = ok({});
  EXPECT_TRUE(d.lru_crawler && d.lru_maintainer && d.lru_segmented && d.slab_reassign);
  EXPECT_EQ(d.ssl_wbuf_size, 16384u);
  EXPECT_EQ(ok({"-o", "ssl_wbuf_size=64"}).ssl_wbuf_size, 65536u);  // KB, as memcached
  EXPECT_TRUE(ok({"-o", "ssl_session_cache"}).ssl_session_cache);
  EXPECT_TRUE(ok({"-o", "ssl_kernel_tls"}).ssl_kernel_tls);
  Settings n = ok({"-o", "no_lru_crawler,no_lru_maintainer,slab_chunk_max=1024"});
  EXPECT_FALSE(n.lru_crawler || n.lru_maintainer || n.lru_segmented);
  EXPECT_EQ(n.slab_chunk_max, 1024u);
  Settings m = ok({"-o", "no_modern"});
  EXPECT_FALSE(m.lru_crawler || m.lru_maintainer || m.lru_segmented || m.slab_reassign);
  EXPECT_EQ(m.slab_automove, 0);
  EXPECT_TRUE(m.slab_chunk_whole);
}

TEST(SettingsTest, PortRejections) {
  EXPECT_EQ(usage_error({"-p", "70000"}), "ERROR: Invalid port number 70000.");
  EXPECT_EQ(usage_error({"-p", "-2"}), "ERROR: Invalid port number -2.");
  EXPECT_EQ(usage_error({"-p", "abc"}), "ERROR: Invalid port number abc.");
  EXPECT_EQ(usage_error({"-p", "12x"}), "ERROR: Invalid port number 12x.");
  EXPECT_EQ(usage_error({"-U", "70000"}), "ERROR: Invalid port number 70000.");
  EXPECT_EQ(usage_error({"-p"}), "memshield: option requires an argument -- 'p'");
  EXPECT_EQ(usage_error({"--port"}), "memshield: option '--port' requires an argument");
}

TEST(SettingsTest, NetworkFlagsShortAndLong) {
  EXPECT_EQ(ok({"-U", "11212"}).udp_port, 11212);
  EXPECT_EQ(ok({"--udp-port=11212"}).udp_port, 11212);
  EXPECT_EQ(ok({"-s", "/tmp/m.sock"}).unix_socket, "/tmp/m.sock");
  EXPECT_EQ(ok({"--unix-socket=/tmp/m.sock"}).unix_socket, "/tmp/m.sock");
  EXPECT_EQ(ok({"-a", "755"}).unix_mask, 0755);
  EXPECT_EQ(ok({"--unix-mask=0600"}).unix_mask, 0600);
  EXPECT_EQ(ok({"-b", "64"}).backlog, 64);
  EXPECT_EQ(ok({"--listen-backlog=0"}).backlog, 0);
  EXPECT_EQ(ok({"-c", "10"}).max_connections, 10);
  EXPECT_EQ(ok({"--conn-limit=10"}).max_connections, 10);
  EXPECT_EQ(ok({"-t", "3"}).threads, 3);
  EXPECT_EQ(ok({"--threads=3"}).threads, 3);
  EXPECT_EQ(ok({"-R", "5"}).reqs_per_event, 5);
  EXPECT_EQ(ok({"--max-reqs-per-event=5"}).reqs_per_event, 5);
  EXPECT_EQ(ok({"-B", "ascii"}).protocol, BindingProtocol::kAscii);
  EXPECT_EQ(ok({"--protocol=binary"}).protocol, BindingProtocol::kBinary);
  EXPECT_EQ(ok({"-B", "auto"}).protocol, BindingProtocol::kAuto);
}

TEST(SettingsTest, NetworkRejections) {
  EXPECT_EQ(usage_error({"-a", "999"}), "Invalid UNIX socket mask '999': expected octal, e.g. 700");
  EXPECT_EQ(usage_error({"-a", "7777"}),
            "Invalid UNIX socket mask '7777': expected octal, e.g. 700");
  EXPECT_EQ(usage_error({"-t", "0"}), "Number of threads must be greater than 0");
  EXPECT_EQ(usage_error({"-t", "abc"}), "Number of threads must be greater than 0");
  EXPECT_EQ(usage_error({"-c", "0"}), "Maximum connections must be greater than 0");
  EXPECT_EQ(usage_error({"-R", "0"}), "Number of requests per event must be greater than 0");
  EXPECT_EQ(usage_error({"-b", "-1"}), "Invalid listen backlog '-1'");
  EXPECT_EQ(usage_error({"-B", "ASCII"}),
            "Invalid value for binding protocol: ASCII -- should be one of auto, binary, or ascii");
}

TEST(SettingsTest, ManyThreadsWarnsLikeMemcached) {
  Settings s = ok({"-t", "65"});
  EXPECT_EQ(s.threads, 65);
  EXPECT_TRUE(has_warning(s, "high number of worker threads"));
}

TEST(SettingsTest, ListenRepeatedAndCommaSeparated) {
  Settings s = ok({"-l", "10.0.0.1", "--listen=[::1]:11211", "-l127.0.0.2,127.0.0.3:99", "--listen",
                   "notls:10.0.0.9:1"});
  EXPECT_EQ(s.listen, (std::vector<std::string>{"10.0.0.1", "[::1]:11211", "127.0.0.2",
                                                "127.0.0.3:99", "notls:10.0.0.9:1"}));
  EXPECT_EQ(ok({"-l", "a,,b,"}).listen, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(usage_error({"-l", ","}), "Invalid listen address ','");
}

TEST(SettingsTest, BooleanFlagsShortAndLong) {
  struct Case {
    const char* short_form;
    const char* long_form;
    bool Settings::*field;
    bool expected;
  };
  const Case cases[] = {
      {"-A", "--enable-shutdown", &Settings::shutdown_command, true},
      {"-d", "--daemon", &Settings::daemonize, true},
      {"-r", "--enable-coredumps", &Settings::enable_coredumps, true},
      {"-M", "--disable-evictions", &Settings::evict, false},
      {"-k", "--lock-memory", &Settings::lock_memory, true},
      {"-L", "--enable-largepages", &Settings::large_pages, true},
      {"-C", "--disable-cas", &Settings::use_cas, false},
      {"-S", "--enable-sasl", &Settings::sasl, true},
      {"-F", "--disable-flush-all", &Settings::flush_enabled, false},
      {"-X", "--disable-dumping", &Settings::dump_enabled, false},
      {"-W", "--disable-watch", &Settings::watch_enabled, false},
      {"-Z", "--enable-ssl", &Settings::ssl, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ok({c.short_form}).*(c.field), c.expected) << c.short_form;
    EXPECT_EQ(ok({c.long_form}).*(c.field), c.expected) << c.long_form;
  }
  EXPECT_EQ(usage_error({"--daemon=1"}), "memshield: option '--daemon' doesn't allow an argument");
}

TEST(SettingsTest, StringFlagsShortAndLong) {
  EXPECT_EQ(ok({"-u", "nobody"}).user, "nobody");
  EXPECT_EQ(ok({"--user=nobody"}).user, "nobody");
  EXPECT_EQ(ok({"-P", "/run/m.pid"}).pidfile, "/run/m.pid");
  EXPECT_EQ(ok({"--pidfile=/run/m.pid"}).pidfile, "/run/m.pid");
  EXPECT_EQ(ok({"-Y", "/etc/auth"}).auth_file, "/etc/auth");
  EXPECT_EQ(ok({"--auth-file=/etc/auth"}).auth_file, "/etc/auth");
  EXPECT_EQ(ok({"-e", "/dev/shm/m"}).memory_file, "/dev/shm/m");
  EXPECT_EQ(ok({"--memory-file=/dev/shm/m"}).memory_file, "/dev/shm/m");
}

TEST(SettingsTest, VerbosityCountsBundledAndRepeated) {
  EXPECT_EQ(ok({"-v"}).verbosity, 1);
  EXPECT_EQ(ok({"-vv"}).verbosity, 2);
  EXPECT_EQ(ok({"-vvv"}).verbosity, 3);
  EXPECT_EQ(ok({"-v", "-v"}).verbosity, 2);
  EXPECT_EQ(ok({"--verbose", "--verbose"}).verbosity, 2);
  EXPECT_EQ(ok({"--verbose=2"}).verbosity, 1);  // memcached ignores the value
  EXPECT_EQ(usage_error({"-v3"}), "memshield: invalid option -- '3'");
}

TEST(SettingsTest, BundledFlagsWithTrailingValue) {
  Settings s = ok({"-dvvp11300"});
  EXPECT_TRUE(s.daemonize);
  EXPECT_EQ(s.verbosity, 2);
  EXPECT_EQ(s.tcp_port, 11300);
  Settings t = ok({"-dMt", "2"});
  EXPECT_FALSE(t.evict);
  EXPECT_EQ(t.threads, 2);
}

TEST(SettingsTest, MemoryLimit) {
  EXPECT_EQ(ok({"-m", "128"}).memory_limit_mb, 128u);
  EXPECT_EQ(ok({"--memory-limit=128"}).memory_limit_mb, 128u);
  Settings m = ok({"-m", "64m"});
  EXPECT_EQ(m.memory_limit_mb, 64u);
  EXPECT_TRUE(m.warnings.empty());
  // memcached reads "-m 2g" as 2 megabytes; keep that, but say so.
  Settings g = ok({"-m", "2g"});
  EXPECT_EQ(g.memory_limit_mb, 2u);
  EXPECT_TRUE(has_warning(g, "ignores unit suffixes"));
  EXPECT_EQ(usage_error({"-m", "0"}), "Memory limit must be greater than 0");
  EXPECT_EQ(usage_error({"-m", "-5"}), "Memory limit must be greater than 0");
  EXPECT_EQ(usage_error({"-m", "abc"}),
            "Invalid memory limit 'abc': expected a number of megabytes");
  EXPECT_EQ(usage_error({"-m", "1.5"}),
            "Invalid memory limit '1.5': expected a number of megabytes");
  // "1g" is 1 MB, too small for the default 1 MB item size: memcached's message.
  EXPECT_EQ(usage_error({"-m", "1g"}), "Cannot set item size limit higher than 1/2 of memory max.");
}

TEST(SettingsTest, MaxItemSizeSuffixesAndLimits) {
  EXPECT_EQ(ok({"-I", "2m"}).item_size_max, 2u << 20);
  EXPECT_EQ(ok({"-I", "2M"}).item_size_max, 2u << 20);
  EXPECT_EQ(ok({"--max-item-size=512k"}).item_size_max, 512u << 10);
  EXPECT_EQ(ok({"-I", "1K"}).item_size_max, 1024u);
  EXPECT_EQ(ok({"-I", "1024"}).item_size_max, 1024u);
  EXPECT_EQ(ok({"-I", "100000"}).item_size_max, 100000u);
  EXPECT_EQ(ok({"-m", "2048", "-I", "1024m"}).item_size_max, 1u << 30);
  EXPECT_EQ(ok({"-I", "4m", "-m", "8"}).item_size_max, 4u << 20);  // order does not matter
  EXPECT_EQ(usage_error({"-I", "1023"}), "Item max size cannot be less than 1024 bytes.");
  EXPECT_EQ(usage_error({"-I", "0"}), "Item max size cannot be less than 1024 bytes.");
  EXPECT_EQ(usage_error({"-I", "-1k"}), "Item max size cannot be less than 1024 bytes.");
  EXPECT_EQ(usage_error({"-m", "4096", "-I", "1025m"}),
            "Cannot set item size limit higher than a gigabyte.");
  EXPECT_EQ(usage_error({"-I", "9000000000000000m"}),
            "Cannot set item size limit higher than a gigabyte.");
  EXPECT_EQ(usage_error({"-I", "64m"}),
            "Cannot set item size limit higher than 1/2 of memory max.");
  EXPECT_EQ(usage_error({"-I", "1g"}),
            "Invalid item size '1g': expected bytes with an optional k or m");
  EXPECT_EQ(usage_error({"-I", "1.5m"}),
            "Invalid item size '1.5m': expected bytes with an optional k or m");
}

TEST(SettingsTest, NoEffectFlagsWarnButParse) {
  Settings f = ok({"-f", "1.5"});
  EXPECT_DOUBLE_EQ(f.growth_factor, 1.5);
  EXPECT_TRUE(has_warning(f, "-f (slab growth factor)"));
  EXPECT_DOUBLE_EQ(ok({"--slab-growth-factor=2"}).growth_factor, 2.0);
  Settings n = ok({"-n", "96"});
  EXPECT_EQ(n.chunk_size, 96);
  EXPECT_TRUE(has_warning(n, "-n (slab min size)"));
  EXPECT_EQ(ok({"--slab-min-size=96"}).chunk_size, 96);
  EXPECT_TRUE(has_warning(ok({"-L"}), "-L (large pages) is accepted but has no effect"));
  EXPECT_TRUE(has_warning(ok({"-k"}), "-k (lock memory)"));
  EXPECT_TRUE(ok({"-e", "/x"}).warnings.empty());  // a warm-restart memory file (issue 17)
  EXPECT_FALSE(has_warning(ok({"-S"}), "not supported yet"));  // binary SASL PLAIN (issue 5)
  // memcached 1.6.18: -S refuses an explicit -B auto as it refuses ascii (binary-sasl.t).
  EXPECT_EQ(usage_error({"-S", "-B", "auto"}),
            "ERROR: You cannot allow the ASCII protocol while using SASL.");
  EXPECT_EQ(usage_error({"-S", "-B", "binary", "-B", "ascii"}),
            "ERROR: You cannot allow the ASCII protocol while using SASL.");
  EXPECT_TRUE(ok({"-S", "-B", "binary"}).sasl);
  EXPECT_TRUE(ok({"-Y", "/x"}).warnings.empty());
  EXPECT_EQ(ok({"-Y", "/x"}).auth_file, "/x");
  EXPECT_EQ(ok({"--max-conns-per-source=8"}).max_conns_per_source, 8);
  EXPECT_EQ(ok({}).max_conns_per_source, 0);
  EXPECT_NE(usage_error({"--max-conns-per-source=-1"}).find("--max-conns-per-source"),
            std::string::npos);
  EXPECT_TRUE(ok({"-Z"}).warnings.empty());  // implemented: no "no effect" warning
  EXPECT_TRUE(ok({"-Z"}).ssl);
  EXPECT_TRUE(has_warning(ok({"-N", "2"}), "-N (NAPI ids)"));
  EXPECT_TRUE(has_warning(ok({"--napi-ids=2"}), "-N (NAPI ids)"));
  EXPECT_EQ(ok({"-L", "-L"}).warnings.size(), 1u);
  EXPECT_EQ(usage_error({"-f", "1"}), "Factor must be greater than 1");
  EXPECT_EQ(usage_error({"-f", "abc"}), "Factor must be greater than 1");
  EXPECT_EQ(usage_error({"-n", "0"}), "Chunk size must be greater than 0");
}

TEST(SettingsTest, PrefixDelimiter) {
  Settings s = ok({"-D", "/"});
  EXPECT_EQ(s.prefix_delimiter, '/');
  EXPECT_TRUE(s.detail_enabled);
  EXPECT_EQ(ok({"-D."}).prefix_delimiter, '.');
  // getopt hands -D the next word even when it looks like a flag; memcached then uses '-'.
  Settings dash = ok({"-D", "-p", "7"});
  EXPECT_EQ(dash.prefix_delimiter, '-');
  EXPECT_EQ(dash.tcp_port, 11211);
  Settings multi = ok({"-D", "ab"});
  EXPECT_EQ(multi.prefix_delimiter, 'a');
  EXPECT_TRUE(has_warning(multi, "only the first character"));
  EXPECT_EQ(usage_error({"-D", ""}), "No delimiter specified");
  EXPECT_EQ(usage_error({"--delimiter=:"}), "memshield: unrecognized option '--delimiter=:'");
}

TEST(SettingsTest, ExtendedOptionsThatMemshieldUses) {
  Settings s = ok({"-o", "idle_timeout=30,hashpower=20", "--extended=no_maxconns_fast", "-o",
                   "ssl_chain_cert=/c.pem,ssl_key=/k.pem,ssl_ca_cert=/ca.pem", "-o",
                   "ssl_verify_mode=2,ssl_min_version=3", "-o",
                   "ssl_keyformat=2,ssl_ciphers=HIGH:!aNULL"});
  EXPECT_EQ(s.idle_timeout, 30);
  EXPECT_EQ(s.hashpower_init, 20);
  EXPECT_FALSE(s.maxconns_fast);
  EXPECT_EQ(s.ssl_chain_cert, "/c.pem");
  EXPECT_EQ(s.ssl_key, "/k.pem");
  EXPECT_EQ(s.ssl_ca_cert, "/ca.pem");
  EXPECT_EQ(s.ssl_verify_mode, 2);
  EXPECT_EQ(s.ssl_min_version, "tlsv1.3");
  EXPECT_EQ(s.ssl_keyformat, 2);
  EXPECT_EQ(s.ssl_ciphers, "HIGH:!aNULL");
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_TRUE(ok({"-o", "no_maxconns_fast,maxconns_fast"}).maxconns_fast);
  EXPECT_TRUE(ok({"-o", "maxconns_fast=0"}).maxconns_fast);  // value ignored, as memcached
  EXPECT_FALSE(ok({"-o", "no_modern"}).maxconns_fast);
  EXPECT_EQ(ok({"-o", "idle_timeout=5,"}).idle_timeout, 5);  // trailing comma is fine
  EXPECT_TRUE(ok({"-o", ""}).warnings.empty());
}

TEST(SettingsTest, ExtendedOptionRejections) {
  EXPECT_EQ(usage_error({"-o", "foo"}), "Illegal suboption \"foo\"");
  EXPECT_EQ(usage_error({"-o", "idle_timeout=1,bogus=2"}), "Illegal suboption \"bogus=2\"");
  EXPECT_EQ(usage_error({"-o", ","}), "Illegal suboption \"\"");
  EXPECT_EQ(usage_error({"-o", "IDLE_TIMEOUT=5"}), "Illegal suboption \"IDLE_TIMEOUT=5\"");
  // Removed from memcached before 1.6.18, which rejects them too.
  EXPECT_EQ(usage_error({"-o", "lru_segmented"}), "Illegal suboption \"lru_segmented\"");
  EXPECT_EQ(usage_error({"-o", "inline_ascii_response"}),
            "Illegal suboption \"inline_ascii_response\"");
  EXPECT_EQ(usage_error({"-o", "idle_timeout"}), "Missing numeric argument for idle_timeout");
  EXPECT_EQ(usage_error({"-o", "hashpower"}), "Missing numeric argument for hashpower");
  EXPECT_EQ(usage_error({"-o", "ssl_key"}), "Missing ssl_key argument");
  EXPECT_EQ(usage_error({"-o", "hashpower=11"}), "Initial hashtable multiplier of 11 is too low");
  EXPECT_EQ(usage_error({"-o", "hashpower=abc"}), "Initial hashtable multiplier of 0 is too low");
  EXPECT_NE(usage_error({"-o", "hashpower=64"}).find("of 64 is too high"), std::string::npos);
  EXPECT_EQ(usage_error({"-o", "idle_timeout=-1"}), "could not parse argument to idle_timeout");
  EXPECT_EQ(usage_error({"-o", "ssl_verify_mode=4"}),
            "Invalid ssl_verify_mode. Use help to see valid options.");
  EXPECT_EQ(usage_error({"-o", "ssl_min_version=tlsv1.3"}),
            "could not parse argument to ssl_min_version");
}

// -o track_sizes turns `stats sizes` on; the crawler and LRU tunables are kept for `stats
// settings` (and the `lru_crawler`/`lru` commands start from them).
TEST(SettingsTest, TrackSizesAndLruTunablesAreKept) {
  Settings s = ok({"-o", "track_sizes"});
  EXPECT_TRUE(s.track_sizes);
  EXPECT_TRUE(s.warnings.empty());
  s = ok({"-o", "lru_crawler_sleep=7,lru_crawler_tocrawl=9,temporary_ttl=30,hot_lru_pct=11"});
  EXPECT_EQ(s.lru_crawler_sleep, 7u);
  EXPECT_EQ(s.lru_crawler_tocrawl, 9u);
  EXPECT_TRUE(s.temp_lru);
  EXPECT_EQ(s.temporary_ttl, 30u);
  EXPECT_EQ(s.hot_lru_pct, 11u);
}

TEST(SettingsTest, WatcherLogbufSizeSetsEachWatchersBuffer) {
  Settings s = ok({"-o", "watcher_logbuf_size=8"});
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(s.watcher_logbuf_kb, 8u);
  EXPECT_EQ(ok({}).watcher_logbuf_kb, 256u);
}

TEST(SettingsTest, ExtendedOptionsWithoutEffectWarn) {
  // Packed by hand: one option a line would run to 45 lines.
  // clang-format off
  const char* options[] = {
      "tail_repair_time=60", "hash_algorithm=xxh3", "no_lru_crawler", "lru_crawler",
      "lru_crawler_sleep=100", "lru_crawler_tocrawl=0", "read_buf_mem_limit=0",
      "no_lru_maintainer", "lru_maintainer", "hot_lru_pct=20", "warm_lru_pct=40",
      "hot_max_factor=0.2", "warm_max_factor=2.0", "temporary_ttl=61", "slab_chunk_max=512",
      "worker_logbuf_size=64", "no_hashexpand",
      "modern", "sock_cookie_id=3", "slab_reassign", "no_slab_reassign", "slab_automove=1",
      "slab_automove_ratio=0.8", "slab_automove_window=30", "slab_automove_freeratio=0.01",
      "ext_path=/mnt/x:1G", "ext_page_size=64", "ext_wbuf_size=4", "ext_threads=1",
      "ext_item_size=512", "ext_item_age=10", "ext_low_ttl=0", "ext_drop_unread",
      "ext_recache_rate=2000", "ext_compact_under=10", "ext_drop_under=10",
      "ext_max_frag=0.8", "ext_max_sleep=1000000", "ssl_wbuf_size=16", "ssl_session_cache", "ssl_kernel_tls"};
  // clang-format on
  for (const char* o : options) {
    Settings s = ok({"-o", o});
    ASSERT_EQ(s.warnings.size(), 1u) << o;
    std::string key = std::string(o).substr(0, std::string(o).find('='));
    EXPECT_EQ(s.warnings[0], "-o " + key + " is accepted but has no effect in memshield") << o;
  }
  EXPECT_EQ(usage_error({"-o", "tail_repair_time=5"}),
            "Cannot set tail_repair_time to less than 10 seconds");
  EXPECT_EQ(usage_error({"-o", "hash_algorithm=md5"}),
            "Unknown hash_algorithm option (jenkins, murmur3, xxh3)");
  EXPECT_EQ(usage_error({"-o", "slab_automove=3"}), "slab_automove must be between 0 and 2");
  EXPECT_EQ(usage_error({"-o", "ext_threads=abc"}), "could not parse argument to ext_threads");
}

TEST(SettingsTest, UnknownFlagsAreUsageErrors) {
  EXPECT_EQ(usage_error({"-q"}), "memshield: invalid option -- 'q'");
  EXPECT_EQ(usage_error({"-vq"}), "memshield: invalid option -- 'q'");
  EXPECT_EQ(usage_error({"--bogus"}), "memshield: unrecognized option '--bogus'");
  EXPECT_NE(usage_error({"--ver"}).find("is ambiguous"), std::string::npos);
  EXPECT_NE(usage_error({"--enable"}).find("'--enable-sasl'"), std::string::npos);
}

TEST(SettingsTest, StrayWordsAndDoubleDash) {
  Settings s = ok({"foo", "-p", "5"});
  EXPECT_EQ(s.tcp_port, 5);
  EXPECT_TRUE(has_warning(s, "ignoring non-option argument 'foo'"));
  Settings d = ok({"--", "-p", "5"});
  EXPECT_EQ(d.tcp_port, 11211);
}

TEST(SettingsTest, HelpVersionLicense) {
  Parsed h = parse({"-h"});
  EXPECT_EQ(h.result.outcome, ParseOutcome::kExit);
  EXPECT_EQ(h.result.exit_code, 0);
  EXPECT_EQ(h.result.output, usage_text());
  EXPECT_EQ(parse({"--help"}).result.output, usage_text());
  EXPECT_EQ(usage_text().rfind("memshield 0.1.0 (memcached 1.6.18 compatible)\n", 0), 0u);

  Parsed v = parse({"-V"});
  EXPECT_EQ(v.result.outcome, ParseOutcome::kExit);
  EXPECT_EQ(v.result.output, "memcached 1.6.18\n");
  EXPECT_EQ(parse({"--version"}).result.output, "memcached 1.6.18\n");
  EXPECT_STREQ(version_string(), "1.6.18");

  Parsed i = parse({"-i"});
  EXPECT_EQ(i.result.outcome, ParseOutcome::kExit);
  EXPECT_NE(i.result.output.find("MIT"), std::string::npos);
  EXPECT_EQ(parse({"--license"}).result.outcome, ParseOutcome::kExit);

  // -h stops parsing where it stands, so later bad flags do not matter.
  EXPECT_EQ(parse({"-h", "--bogus"}).result.outcome, ParseOutcome::kExit);
}

TEST(SettingsTest, UsageTextMentionsEveryFlagAndMemshieldDefaults) {
  const std::string u = usage_text();
  for (const char* f : {"-p, --port",
                        "-U, --udp-port",
                        "-s, --unix-socket",
                        "-a, --unix-mask",
                        "-A, --enable-shutdown",
                        "-l, --listen",
                        "-d, --daemon",
                        "-r, --enable-coredumps",
                        "-u, --user",
                        "-m, --memory-limit",
                        "-M, --disable-evictions",
                        "-c, --conn-limit",
                        "-k, --lock-memory",
                        "-v, --verbose",
                        "-vv",
                        "-vvv",
                        "-h, --help",
                        "-i, --license",
                        "-V, --version",
                        "-P, --pidfile",
                        "-f, --slab-growth-factor",
                        "-n, --slab-min-size",
                        "-L, --enable-largepages",
                        "-D <char>",
                        "-t, --threads",
                        "-R, --max-reqs-per-event",
                        "-C, --disable-cas",
                        "-b, --listen-backlog",
                        "-B, --protocol",
                        "-I, --max-item-size",
                        "-S, --enable-sasl",
                        "-F, --disable-flush-all",
                        "-X, --disable-dumping",
                        "-W, --disable-watch",
                        "-Y, --auth-file",
                        "-e, --memory-file",
                        "-Z, --enable-ssl",
                        "-o, --extended",
                        "-N, --napi-ids"}) {
    EXPECT_NE(u.find(f), std::string::npos) << f;
  }
  EXPECT_NE(u.find("127.0.0.1 and ::1"), std::string::npos);
  EXPECT_NE(u.find("(default: 0, off)"), std::string::npos);
  EXPECT_NE(u.find("number of cores"), std::string::npos);
}

TEST(SettingsTest, ParsingTwiceInOneProcess) {
  Settings a = ok({"-p", "1", "-vv", "-l", "x"});
  Settings b = ok({"-p", "2", "-v", "-l", "y"});
  EXPECT_EQ(a.tcp_port, 1);
  EXPECT_EQ(b.tcp_port, 2);
  EXPECT_EQ(b.verbosity, 1);
  EXPECT_EQ(b.listen, std::vector<std::string>{"y"});
  EXPECT_EQ(usage_error({"-q"}), "memshield: invalid option -- 'q'");
  EXPECT_EQ(ok({"-p3"}).tcp_port, 3);
}

// memcached's test suite (and other tools) read "ext_path" in -h as extstore support, which
// memshield does not have: the ext_* options are accepted and ignored, but -h must not name it.
TEST(SettingsTest, HelpDoesNotClaimExtstore) {
  EXPECT_EQ(usage_text().find("ext_path"), std::string::npos);
  EXPECT_NE(usage_text().find("ext_*"), std::string::npos);
}

}  // namespace
}  // namespace memshield::server
