// memshield's own flags: ACLs, the UDP guard's knobs and the config file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "server/settings.h"

namespace memshield::server {
namespace {

ParseResult parse(std::vector<std::string> args, Settings* s) {
  args.insert(args.begin(), "memshield");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse_command_line(static_cast<int>(args.size()), argv.data(), s);
}

TEST(MemshieldFlags, AclAndTrustListsAccumulate) {
  Settings s;
  ASSERT_EQ(parse({"--allow=10.0.0.0/8,127.0.0.1", "--allow", "::1", "--deny=10.1.0.0/16",
                   "--udp-trust=192.168.0.0/16"},
                  &s)
                .outcome,
            ParseOutcome::kRun);
  EXPECT_EQ(s.allow, (std::vector<std::string>{"10.0.0.0/8,127.0.0.1", "::1"}));
  EXPECT_EQ(s.deny, (std::vector<std::string>{"10.1.0.0/16"}));
  EXPECT_EQ(s.udp_trust, (std::vector<std::string>{"192.168.0.0/16"}));
}

TEST(MemshieldFlags, SaslPasswordFile) {
  Settings s;
  ASSERT_EQ(parse({"-S", "--sasl-pwdb=/etc/memshield.pw"}, &s).outcome, ParseOutcome::kRun);
  EXPECT_TRUE(s.sasl);
  EXPECT_EQ(s.sasl_pwdb, "/etc/memshield.pw");
  EXPECT_TRUE(s.warnings.empty());
  Settings t;
  ParseResult r = parse({"-S", "-B", "ascii"}, &t);
  EXPECT_EQ(r.outcome, ParseOutcome::kUsageError);
  EXPECT_NE(r.output.find("cannot allow the ASCII protocol while using SASL"), std::string::npos);
  Settings y;
  r = parse({"-Y", "/x", "-B", "binary"}, &y);
  EXPECT_EQ(r.outcome, ParseOutcome::kUsageError);
  EXPECT_NE(r.output.find("cannot allow the BINARY protocol"), std::string::npos);
}

TEST(MemshieldFlags, UdpGuardKnobs) {
  Settings s;
  EXPECT_EQ(s.udp_max_amplification, 1.0);
  ASSERT_EQ(parse({"--udp-max-amplification=2.5", "--udp-validate=tcp", "--udp-rate-pps=10",
                   "--udp-rate-bps=0", "--udp-egress-bps=1000"},
                  &s)
                .outcome,
            ParseOutcome::kRun);
  EXPECT_EQ(s.udp_max_amplification, 2.5);
  EXPECT_EQ(s.udp_validate, "tcp");
  EXPECT_EQ(s.udp_rate_pps, 10);
  EXPECT_EQ(s.udp_rate_bps, 0);
  EXPECT_EQ(s.udp_egress_bps, 1000);
}

// memcached's -o names for its seccomp filter, and memshield's long option; off by default.
TEST(MemshieldFlags, SeccompFilter) {
  Settings a, b, c, d;
  EXPECT_FALSE(a.seccomp);
  ASSERT_EQ(parse({"--seccomp"}, &a).outcome, ParseOutcome::kRun);
  EXPECT_TRUE(a.seccomp);
  ASSERT_EQ(parse({"-o", "drop_privileges"}, &b).outcome, ParseOutcome::kRun);
  EXPECT_TRUE(b.seccomp);
  EXPECT_TRUE(b.warnings.empty());
  ASSERT_EQ(parse({"-o", "drop_privileges,no_drop_privileges"}, &c).outcome, ParseOutcome::kRun);
  EXPECT_FALSE(c.seccomp);
  EXPECT_EQ(parse({"--seccomp=1"}, &d).outcome, ParseOutcome::kUsageError);
}

TEST(MemshieldFlags, Rejections) {
  for (const char* bad : {"--udp-max-amplification=3.5", "--udp-max-amplification=-1",
                          "--udp-max-amplification=x", "--udp-validate=dns",
                          "--udp-rate-pps=-5", "--udp-rate-bps=1.5"}) {
    Settings s;
    ParseResult r = parse({bad}, &s);
    EXPECT_EQ(r.outcome, ParseOutcome::kUsageError) << bad;
    EXPECT_EQ(r.exit_code, 64) << bad;
  }
}

TEST(MemshieldFlags, ConfigFileLinesAndErrors) {
  char path[] = "/tmp/memshield-settings-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string text =
      "# Debian style\n-m 128\n\n-p 11300   # trailing comment\n--allow=127.0.0.2/32\n-vv\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  Settings s;
  ParseResult r = parse({std::string("--config=") + path, "-t", "3"}, &s);
  ASSERT_EQ(r.outcome, ParseOutcome::kRun) << r.output;
  EXPECT_EQ(s.memory_limit_mb, 128u);
  EXPECT_EQ(s.tcp_port, 11300);
  EXPECT_EQ(s.allow, (std::vector<std::string>{"127.0.0.2/32"}));
  EXPECT_EQ(s.verbosity, 2);
  EXPECT_EQ(s.threads, 3);
  EXPECT_EQ(s.config_file, path);

  FILE* f = fopen(path, "w");
  fputs("-m 64\n-p notaport\n", f);
  fclose(f);
  Settings bad;
  r = parse({std::string("--config=") + path}, &bad);
  EXPECT_EQ(r.outcome, ParseOutcome::kUsageError);
  EXPECT_NE(r.output.find(std::string(path) + ":2:"), std::string::npos) << r.output;
  unlink(path);

  Settings missing;
  r = parse({"--config=/nonexistent/memshield.conf"}, &missing);
  EXPECT_EQ(r.outcome, ParseOutcome::kUsageError);
  EXPECT_NE(r.output.find("cannot read config file"), std::string::npos);
}

}  // namespace
}  // namespace memshield::server

namespace memshield::server {
namespace {

// memshield's own -o worker_yield (on by default, every 32 connections served awake).
TEST(MemshieldFlags, WorkerYield) {
  Settings a, b, c, d;
  EXPECT_EQ(a.worker_yield, 32);
  ASSERT_EQ(parse({"-o", "worker_yield=8"}, &b).outcome, ParseOutcome::kRun);
  EXPECT_EQ(b.worker_yield, 8);
  EXPECT_TRUE(b.warnings.empty());
  ASSERT_EQ(parse({"-o", "no_worker_yield"}, &c).outcome, ParseOutcome::kRun);
  EXPECT_EQ(c.worker_yield, 0);
  EXPECT_NE(parse({"-o", "worker_yield=x"}, &d).outcome, ParseOutcome::kRun);
}

}  // namespace
}  // namespace memshield::server
