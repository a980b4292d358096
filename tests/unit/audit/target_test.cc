// Target parsing and CIDR expansion: every accepted form, the size limit that refuses /0, and
// the malformed inputs that must be refused rather than guessed at.
#include "audit/target.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace memshield::audit {
namespace {

TargetSpec parse_ok(const std::string& text, uint16_t default_port = kDefaultPort) {
  TargetSpec s;
  std::string err;
  EXPECT_TRUE(parse_target_spec(text, default_port, &s, &err)) << text << ": " << err;
  return s;
}

std::vector<Target> expand_ok(const std::vector<std::string>& args, uint64_t max = 256) {
  std::vector<TargetSpec> specs;
  std::vector<Target> out;
  std::string err;
  EXPECT_TRUE(collect_specs(args, kDefaultPort, &specs, &err)) << err;
  EXPECT_TRUE(expand_targets(specs, max, &out, &err)) << err;
  return out;
}

TEST(Target, Ipv4Host) {
  TargetSpec s = parse_ok("192.0.2.7");
  EXPECT_EQ(s.kind, TargetSpec::Kind::kAddress);
  EXPECT_EQ(s.address.to_string(), "192.0.2.7");
  EXPECT_EQ(s.port, kDefaultPort);
  EXPECT_EQ(s.count(), 1u);
}

TEST(Target, HostPortAndDefaultPort) {
  EXPECT_EQ(parse_ok("192.0.2.7:1234").port, 1234);
  EXPECT_EQ(parse_ok("192.0.2.7", 4000).port, 4000);
  TargetSpec h = parse_ok("cache-1.example.com:11311");
  EXPECT_EQ(h.kind, TargetSpec::Kind::kHostname);
  EXPECT_EQ(h.hostname, "cache-1.example.com");
  EXPECT_EQ(h.port, 11311);
}

TEST(Target, Ipv6BareAndBracketed) {
  TargetSpec a = parse_ok("::1");
  EXPECT_EQ(a.address.family, AF_INET6);
  EXPECT_EQ(a.port, kDefaultPort);
  EXPECT_TRUE(a.address.is_loopback());
  TargetSpec b = parse_ok("[2001:db8::1]:9999");
  EXPECT_EQ(b.address.to_string(), "2001:db8::1");
  EXPECT_EQ(b.port, 9999);
  EXPECT_EQ(parse_ok("[::1]").port, kDefaultPort);
}

TEST(Target, Cidr30ExpandsToFourInOrder) {
  auto t = expand_ok({"127.0.0.0/30"});
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].label(), "127.0.0.0:11211");
  EXPECT_EQ(t[3].label(), "127.0.0.3:11211");
}

TEST(Target, CidrMasksHostBitsAndTakesPort) {
  auto t = expand_ok({"10.1.2.7/30:5000"});
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].label(), "10.1.2.4:5000");
}

TEST(Target, Cidr32IsOneHost) {
  auto t = expand_ok({"198.51.100.9/32"});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].address.to_string(), "198.51.100.9");
}

TEST(Target, Ipv6Cidr) {
  auto t = expand_ok({"[2001:db8::ff/126]:7000"});
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].label(), "[2001:db8::fc]:7000");
  EXPECT_EQ(t[3].label(), "[2001:db8::ff]:7000");
  EXPECT_EQ(expand_ok({"fd00::/127"}).size(), 2u);
}

TEST(Target, SlashZeroRefusedWithoutMaxTargets) {
  std::vector<TargetSpec> specs;
  std::vector<Target> out;
  std::string err;
  ASSERT_TRUE(collect_specs({"0.0.0.0/0"}, kDefaultPort, &specs, &err));
  EXPECT_EQ(total_count(specs), uint64_t{1} << 32);
  EXPECT_FALSE(expand_targets(specs, 256, &out, &err));
  EXPECT_NE(err.find("4294967296"), std::string::npos) << err;
  EXPECT_NE(err.find("--max-targets"), std::string::npos) << err;
  EXPECT_TRUE(out.empty());
  // Even a huge --max-targets stops at the hard ceiling, and IPv6 /0 saturates.
  EXPECT_FALSE(expand_targets(specs, UINT64_MAX, &out, &err));
  specs.clear();
  ASSERT_TRUE(collect_specs({"::/0"}, kDefaultPort, &specs, &err));
  EXPECT_EQ(total_count(specs), UINT64_MAX);
}

TEST(Target, LimitCountsAllArguments) {
  std::vector<TargetSpec> specs;
  std::vector<Target> out;
  std::string err;
  ASSERT_TRUE(collect_specs({"10.0.0.0/30", "10.0.1.0/30"}, kDefaultPort, &specs, &err));
  EXPECT_FALSE(expand_targets(specs, 7, &out, &err));
  EXPECT_TRUE(expand_targets(specs, 8, &out, &err));
  EXPECT_EQ(out.size(), 8u);
}

TEST(Target, DuplicatesDropped) {
  auto t = expand_ok({"127.0.0.1", "127.0.0.1:11211", "127.0.0.0/31"});
  EXPECT_EQ(t.size(), 2u);
}

TEST(Target, AtFile) {
  char path[] = "/tmp/audit-targets-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "# memcached fleet\n\n127.0.0.1:21211\n  [::1]:21212  # v6\n10.0.0.0/31\n";
  }
  auto t = expand_ok({std::string("@") + path, "192.0.2.1"});
  ASSERT_EQ(t.size(), 5u);
  EXPECT_EQ(t[0].label(), "127.0.0.1:21211");
  EXPECT_EQ(t[1].label(), "[::1]:21212");
  EXPECT_EQ(t[4].label(), "192.0.2.1:11211");
  {
    std::ofstream f(path);
    f << "127.0.0.1\nnot a target\n";
  }
  std::vector<TargetSpec> specs;
  std::string err;
  EXPECT_FALSE(collect_specs({std::string("@") + path}, kDefaultPort, &specs, &err));
  EXPECT_NE(err.find(path), std::string::npos) << err;
  unlink(path);
  EXPECT_FALSE(collect_specs({"@/nonexistent/targets"}, kDefaultPort, &specs, &err));
}

TEST(Target, Malformed) {
  for (const char* bad :
       {"",          "host:",       ":11211",      "1.2.3.4:0",    "1.2.3.4:65536", "1.2.3.4:http",
        "1.2.3.256", "1.2.3",       "10.0.0.0/33", "10.0.0.0/",    "10.0.0.0/-1",   "fd00::/129",
        "[::1",      "[::1]x",      "[::1]:",      "[1.2.3.4]:80", "a b",           "host_name",
        "-x",        "1.2.3.4:5:6x"}) {
    TargetSpec s;
    std::string err;
    EXPECT_FALSE(parse_target_spec(bad, kDefaultPort, &s, &err)) << "accepted '" << bad << "'";
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(Target, Loopback) {
  IpAddress a;
  ASSERT_TRUE(parse_ip("127.9.9.9", &a));
  EXPECT_TRUE(a.is_loopback());
  ASSERT_TRUE(parse_ip("::ffff:127.0.0.1", &a));
  EXPECT_TRUE(a.is_loopback());
  ASSERT_TRUE(parse_ip("10.0.0.1", &a));
  EXPECT_FALSE(a.is_loopback());
  ASSERT_TRUE(parse_ip("::2", &a));
  EXPECT_FALSE(a.is_loopback());
}

}  // namespace
}  // namespace memshield::audit
