// The nftables ruleset: its own table, re-appliable, ACL sets with loopback plus --allow, rate
// limits on both protocols, and the ports of the targets.
#include "audit/nft.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace memshield::audit {
namespace {

bool has(const std::string& s, const std::string& needle) {
  return s.find(needle) != std::string::npos;
}

TEST(Nft, DefaultRuleset) {
  NftOptions o;
  std::string r = nft_ruleset(o);
  EXPECT_EQ(r.rfind("#!/usr/sbin/nft -f\n", 0), 0u);
  EXPECT_TRUE(has(r, "table inet memcached_guard\ndelete table inet memcached_guard\n"));
  EXPECT_TRUE(has(r, "flags interval\n\t\tauto-merge\n"));  // --allow may overlap loopback
  EXPECT_TRUE(has(r, "elements = { 127.0.0.0/8 }"));
  EXPECT_TRUE(has(r, "elements = { ::1/128 }"));
  EXPECT_TRUE(has(r, "type filter hook input priority filter; policy accept;"));
  EXPECT_TRUE(has(r, "tcp dport { 11211 } jump memcached_tcp"));
  EXPECT_TRUE(has(r, "udp dport { 11211 } jump memcached_udp"));
  EXPECT_TRUE(has(r,
                  "ip saddr @allowed_v4 ct state new limit rate 200/second burst 400 packets "
                  "accept"));
  EXPECT_TRUE(has(r, "ip6 saddr @allowed_v6 limit rate 100/second burst 200 packets accept"));
  EXPECT_TRUE(has(r, "ct state established,related accept"));
  EXPECT_FALSE(has(r, "flush ruleset"));  // never touch other tables
  // Two chains end in a drop: nothing outside the ACL reaches memcached.
  size_t drops = 0;
  for (size_t p = r.find("counter drop"); p != std::string::npos; p = r.find("counter drop", p + 1))
    ++drops;
  EXPECT_EQ(drops, 2u);
  // Balanced braces: a truncated ruleset would fail to load half-way.
  EXPECT_EQ(std::count(r.begin(), r.end(), '{'), std::count(r.begin(), r.end(), '}'));
}

TEST(Nft, AllowListsAndPorts) {
  NftOptions o;
  std::string err;
  ASSERT_TRUE(add_allowed("10.1.2.3/16", &o, &err));
  ASSERT_TRUE(add_allowed("fd00::/8", &o, &err));
  ASSERT_TRUE(add_allowed("192.0.2.7", &o, &err));
  EXPECT_FALSE(add_allowed("10.0.0.0/40", &o, &err));
  EXPECT_FALSE(add_allowed("nonsense", &o, &err));
  o.tcp_ports = {11211, 21211};
  o.udp_ports = {11211, 21211};
  std::string r = nft_ruleset(o);
  EXPECT_TRUE(has(r, "elements = { 127.0.0.0/8, 10.1.0.0/16, 192.0.2.7/32 }"));
  EXPECT_TRUE(has(r, "elements = { ::1/128, fd00::/8 }"));
  EXPECT_TRUE(has(r, "tcp dport { 11211, 21211 } jump memcached_tcp"));
  EXPECT_TRUE(has(r, "udp dport { 11211, 21211 } jump memcached_udp"));
}

}  // namespace
}  // namespace memshield::audit
