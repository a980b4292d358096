// Address parsing and CIDR matching: both families, IPv4-mapped IPv6 folding, the /0 and
// full-length edges, and every way parse_cidr and parse_cidr_list refuse malformed input.
#include "security/ip_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <string>
#include <vector>

#include "ip_test_util.h"

namespace memshield::security {
namespace {

Cidr cidr(const char* text) {
  Cidr out;
  std::string error;
  EXPECT_TRUE(parse_cidr(text, &out, &error)) << text << ": " << error;
  return out;
}

// Returns the error for input that must be refused.
std::string cidr_error(std::string_view text) {
  Cidr out;
  std::string error;
  EXPECT_FALSE(parse_cidr(text, &out, &error)) << text;
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(ParseIp, Ipv4) {
  IpAddress a = ip("192.0.2.7");
  EXPECT_TRUE(a.v4);
  EXPECT_EQ(a.size(), 4u);
  EXPECT_EQ(a.bytes[0], 192);
  EXPECT_EQ(a.bytes[3], 7);
  EXPECT_EQ(a.to_string(), "192.0.2.7");
}

TEST(ParseIp, Ipv6) {
  IpAddress a = ip("2001:db8::1");
  EXPECT_FALSE(a.v4);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.to_string(), "2001:db8::1");
  EXPECT_EQ(ip("::1").to_string(), "::1");
  EXPECT_EQ(ip("::").to_string(), "::");
}

TEST(ParseIp, MappedFoldsToIpv4) {
  IpAddress a = ip("::ffff:10.1.2.3");
  EXPECT_TRUE(a.v4);
  EXPECT_EQ(a, ip("10.1.2.3"));
  EXPECT_EQ(a.to_string(), "10.1.2.3");
  EXPECT_TRUE(ip("::ffff:a01:203").v4);
  // IPv4-compatible (deprecated) and NAT64 addresses are real IPv6 addresses: not folded.
  EXPECT_FALSE(ip("::10.1.2.3").v4);
  EXPECT_FALSE(ip("64:ff9b::10.1.2.3").v4);
}

TEST(ParseIp, RejectsMalformed) {
  IpAddress out;
  for (const char* bad :
       {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "01.2.3.4", "1.2.3.-4",
        "::g", "1::2::3", "fe80::1%eth0", "localhost", "1.2.3.4/32"}) {
    EXPECT_FALSE(parse_ip(bad, &out)) << bad;
  }
  EXPECT_FALSE(parse_ip(std::string_view("1.2.3.4\0", 8), &out));
  EXPECT_FALSE(parse_ip(std::string(200, '1'), &out));
}

TEST(IpAddress, EqualityAndFamilies) {
  EXPECT_EQ(ip("10.0.0.1"), ip("10.0.0.1"));
  EXPECT_FALSE(ip("10.0.0.1") == ip("10.0.0.2"));
  // Same bytes, different families.
  EXPECT_FALSE(ip("0.0.0.0") == ip("::"));
  EXPECT_NE(ip("0.0.0.0").hash(), ip("::").hash());
  EXPECT_EQ(ip("::ffff:1.2.3.4").hash(), ip("1.2.3.4").hash());
}

TEST(IpAddress, Masked) {
  EXPECT_EQ(ip("10.1.2.3").masked(24), ip("10.1.2.0"));
  EXPECT_EQ(ip("10.1.2.3").masked(20), ip("10.1.0.0"));
  EXPECT_EQ(ip("10.1.255.3").masked(20), ip("10.1.240.0"));
  EXPECT_EQ(ip("10.1.2.3").masked(0), ip("0.0.0.0"));
  EXPECT_EQ(ip("10.1.2.3").masked(32), ip("10.1.2.3"));
  EXPECT_EQ(ip("10.1.2.3").masked(99), ip("10.1.2.3"));  // clamped
  EXPECT_EQ(ip("10.1.2.3").masked(-5), ip("0.0.0.0"));
  EXPECT_EQ(ip("2001:db8:aaaa:bbcc::1").masked(56), ip("2001:db8:aaaa:bb00::"));
  EXPECT_EQ(ip("2001:db8::1").masked(128), ip("2001:db8::1"));
}

TEST(IpAddress, FromSockaddr) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.4", &sin.sin_addr);
  IpAddress out;
  ASSERT_TRUE(ip_from_sockaddr(reinterpret_cast<sockaddr*>(&sin), &out));
  EXPECT_EQ(out, ip("198.51.100.4"));

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "::ffff:198.51.100.4", &sin6.sin6_addr);
  ASSERT_TRUE(ip_from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), &out));
  EXPECT_TRUE(out.v4);
  EXPECT_EQ(out, ip("198.51.100.4"));

  inet_pton(AF_INET6, "2001:db8::5", &sin6.sin6_addr);
  ASSERT_TRUE(ip_from_sockaddr(reinterpret_cast<sockaddr*>(&sin6), &out));
  EXPECT_EQ(out, ip("2001:db8::5"));

  sockaddr unix_addr{};
  unix_addr.sa_family = AF_UNIX;
  EXPECT_FALSE(ip_from_sockaddr(&unix_addr, &out));
  EXPECT_FALSE(ip_from_sockaddr(nullptr, &out));
}

TEST(Cidr, Ipv4Matching) {
  Cidr c = cidr("10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("10.0.0.0")));
  EXPECT_TRUE(c.contains(ip("10.255.255.255")));
  EXPECT_FALSE(c.contains(ip("11.0.0.0")));
  EXPECT_FALSE(c.contains(ip("9.255.255.255")));
  Cidr odd = cidr("192.168.4.0/22");
  EXPECT_TRUE(odd.contains(ip("192.168.7.255")));
  EXPECT_FALSE(odd.contains(ip("192.168.8.0")));
  EXPECT_FALSE(odd.contains(ip("192.168.3.255")));
  EXPECT_EQ(c.to_string(), "10.0.0.0/8");
}

TEST(Cidr, Ipv6Matching) {
  Cidr c = cidr("2001:db8::/32");
  EXPECT_TRUE(c.contains(ip("2001:db8::1")));
  EXPECT_TRUE(c.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  EXPECT_FALSE(c.contains(ip("2001:db9::")));
  Cidr odd = cidr("2001:db8:0:100::/57");
  EXPECT_TRUE(odd.contains(ip("2001:db8:0:17f::1")));
  EXPECT_FALSE(odd.contains(ip("2001:db8:0:180::1")));
  EXPECT_EQ(c.to_string(), "2001:db8::/32");
}

TEST(Cidr, FullLengthEdges) {
  Cidr host4 = cidr("192.0.2.1/32");
  EXPECT_TRUE(host4.contains(ip("192.0.2.1")));
  EXPECT_FALSE(host4.contains(ip("192.0.2.0")));
  EXPECT_FALSE(host4.contains(ip("192.0.2.2")));
  Cidr bare4 = cidr("192.0.2.1");
  EXPECT_EQ(bare4.prefix, 32);
  EXPECT_TRUE(bare4.base.v4);

  Cidr host6 = cidr("::1/128");
  EXPECT_TRUE(host6.contains(ip("::1")));
  EXPECT_FALSE(host6.contains(ip("::2")));
  Cidr bare6 = cidr("::1");
  EXPECT_EQ(bare6.prefix, 128);
  EXPECT_FALSE(bare6.base.v4);
  EXPECT_TRUE(bare6.contains(ip("::1")));
}

TEST(Cidr, ZeroPrefixMatchesItsFamilyOnly) {
  Cidr all4 = cidr("0.0.0.0/0");
  EXPECT_TRUE(all4.contains(ip("1.2.3.4")));
  EXPECT_TRUE(all4.contains(ip("255.255.255.255")));
  EXPECT_TRUE(all4.contains(ip("::ffff:1.2.3.4")));
  EXPECT_FALSE(all4.contains(ip("::1")));
  Cidr all6 = cidr("::/0");
  EXPECT_TRUE(all6.contains(ip("::1")));
  EXPECT_TRUE(all6.contains(ip("2001:db8::1")));
  EXPECT_FALSE(all6.contains(ip("1.2.3.4")));
  // A mapped peer is IPv4 after folding, so ::/0 does not cover it.
  EXPECT_FALSE(all6.contains(ip("::ffff:1.2.3.4")));
}

TEST(Cidr, FamiliesNeverCrossMatch) {
  // 0.0.0.0/8 and ::/8 have the same leading bits; neither matches the other family.
  EXPECT_FALSE(cidr("0.0.0.0/8").contains(ip("::1")));
  EXPECT_FALSE(cidr("::/8").contains(ip("0.0.0.1")));
  EXPECT_FALSE(cidr("::1/128").contains(ip("0.0.0.1")));
}

TEST(Cidr, MappedPrefixFoldsToIpv4) {
  Cidr c = cidr("::ffff:10.0.0.0/104");
  EXPECT_TRUE(c.base.v4);
  EXPECT_EQ(c.prefix, 8);
  EXPECT_EQ(c.to_string(), "10.0.0.0/8");
  EXPECT_TRUE(c.contains(ip("10.9.9.9")));
  EXPECT_TRUE(c.contains(ip("::ffff:10.9.9.9")));
  EXPECT_FALSE(c.contains(ip("11.0.0.0")));

  Cidr host = cidr("::ffff:192.0.2.1");
  EXPECT_TRUE(host.base.v4);
  EXPECT_EQ(host.prefix, 32);
  Cidr all = cidr("::ffff:0.0.0.0/96");
  EXPECT_TRUE(all.base.v4);
  EXPECT_EQ(all.prefix, 0);
  EXPECT_TRUE(all.contains(ip("203.0.113.9")));
}

TEST(ParseCidr, ErrorsQuoteTheInput) {
  EXPECT_NE(cidr_error("").find("empty"), std::string::npos);

  std::string e = cidr_error("10.0.0.0/");
  EXPECT_NE(e.find("\"10.0.0.0/\""), std::string::npos) << e;
  EXPECT_NE(e.find("missing prefix"), std::string::npos) << e;

  e = cidr_error("/8");
  EXPECT_NE(e.find("missing address"), std::string::npos) << e;

  for (const char* bad : {"10.0.0.0/x", "10.0.0.0/8x", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/ 8",
                          "10.0.0.0/8/8", "10.0.0.0/8.0"}) {
    e = cidr_error(bad);
    EXPECT_NE(e.find("decimal"), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find(bad), std::string::npos) << e;
  }

  e = cidr_error("10.0.0.0/33");
  EXPECT_NE(e.find("33 is out of range for IPv4"), std::string::npos) << e;
  e = cidr_error("2001:db8::/129");
  EXPECT_NE(e.find("129 is out of range for IPv6"), std::string::npos) << e;
  e = cidr_error("10.0.0.0/99999999999999999999");
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  e = cidr_error("::ffff:10.0.0.0/129");
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;

  for (const char* bad : {"garbage", "garbage/8", "10.0.0/8", "1.2.3.4.5/32", "::g/64",
                          " 10.0.0.0/8", "10.0.0.0 /8", "10.0.0.0/8 ", "fe80::/10%eth0"}) {
    e = cidr_error(bad);
    EXPECT_FALSE(e.empty()) << bad;
  }
  e = cidr_error("garbage");
  EXPECT_NE(e.find("\"garbage\""), std::string::npos) << e;
  EXPECT_NE(e.find("not an IPv4 or IPv6 address"), std::string::npos) << e;
}

TEST(ParseCidr, HostBitsSetSuggestsTheNetwork) {
  std::string e = cidr_error("10.0.0.1/8");
  EXPECT_NE(e.find("\"10.0.0.1/8\""), std::string::npos) << e;
  EXPECT_NE(e.find("did you mean 10.0.0.0/8?"), std::string::npos) << e;
  e = cidr_error("2001:db8::1/32");
  EXPECT_NE(e.find("did you mean 2001:db8::/32?"), std::string::npos) << e;
  e = cidr_error("::ffff:10.0.0.1/104");
  EXPECT_NE(e.find("did you mean ::ffff:10.0.0.0/104?"), std::string::npos) << e;
  e = cidr_error("0.0.0.1/0");
  EXPECT_NE(e.find("did you mean 0.0.0.0/0?"), std::string::npos) << e;
}

TEST(ParseCidr, ShortMappedPrefixIsAnError) {
  std::string e = cidr_error("::ffff:0.0.0.0/95");
  EXPECT_NE(e.find("/96 or longer"), std::string::npos) << e;
  cidr_error("::ffff:10.0.0.0/8");
}

TEST(ParseCidr, ControlCharactersAreEscaped) {
  std::string e = cidr_error(std::string_view("1.2.3.4\n/8", 10));
  EXPECT_NE(e.find("\\x0a"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos);
  e = cidr_error(std::string(500, 'x'));
  EXPECT_LT(e.size(), 200u);
}

TEST(ParseCidr, FailureLeavesOutputAlone) {
  Cidr out = cidr("10.0.0.0/8");
  std::string error;
  EXPECT_FALSE(parse_cidr("10.0.0.1/8", &out, &error));
  EXPECT_EQ(out.to_string(), "10.0.0.0/8");
  EXPECT_FALSE(parse_cidr("bad", &out, nullptr));  // a null error pointer is allowed
}

TEST(ParseCidrList, CommaSeparatedWithSpaces) {
  std::vector<Cidr> list;
  std::string error;
  ASSERT_TRUE(parse_cidr_list(" 10.0.0.0/8 ,\t::1, 192.0.2.0/24", &list, &error)) << error;
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].to_string(), "10.0.0.0/8");
  EXPECT_EQ(list[1].to_string(), "::1/128");
  EXPECT_EQ(list[2].to_string(), "192.0.2.0/24");
  // Appended, so repeated flags can be collected into one vector.
  ASSERT_TRUE(parse_cidr_list("127.0.0.1", &list, &error));
  ASSERT_EQ(list.size(), 4u);
  EXPECT_EQ(list[3].to_string(), "127.0.0.1/32");
}

TEST(ParseCidrList, EmptyItemsAreErrors) {
  std::vector<Cidr> list;
  std::string error;
  for (const char* bad :
       {"", "   ", ",", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,::1", "10.0.0.0/8, ,::1"}) {
    EXPECT_FALSE(parse_cidr_list(bad, &list, &error)) << bad;
    EXPECT_NE(error.find("empty"), std::string::npos) << bad << ": " << error;
  }
  EXPECT_FALSE(parse_cidr_list("10.0.0.0/8,,::1", &list, &error));
  EXPECT_NE(error.find("item 2"), std::string::npos) << error;
}

TEST(ParseCidrList, BadItemReportsTheItem) {
  std::vector<Cidr> list = {cidr("1.1.1.1")};
  std::string error;
  EXPECT_FALSE(parse_cidr_list("10.0.0.0/8, 10.0.0.1/8", &list, &error));
  EXPECT_NE(error.find("\"10.0.0.1/8\""), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean 10.0.0.0/8?"), std::string::npos) << error;
  ASSERT_EQ(list.size(), 1u);  // untouched on failure
}

}  // namespace
}  // namespace memshield::security
