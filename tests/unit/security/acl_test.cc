// Access control semantics: deny wins over allow, any allow turns the default to deny, no rules
// allows everyone, families are matched separately, and build errors name the offending flag.
#include "security/acl.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ip_test_util.h"

namespace memshield::security {
namespace {

Acl build(const std::vector<std::string>& allow, const std::vector<std::string>& deny) {
  Acl acl;
  std::string error;
  EXPECT_TRUE(Acl::build(allow, deny, &acl, &error)) << error;
  return acl;
}

TEST(Acl, EmptyAllowsEveryone) {
  Acl acl = build({}, {});
  EXPECT_TRUE(acl.empty());
  EXPECT_TRUE(acl.allows(ip("1.2.3.4")));
  EXPECT_TRUE(acl.allows(ip("::1")));
  EXPECT_EQ(acl.describe(), "allow all");
  Acl default_constructed;
  EXPECT_TRUE(default_constructed.allows(ip("203.0.113.1")));
}

TEST(Acl, AllowTurnsTheDefaultToDeny) {
  Acl acl = build({"10.0.0.0/8"}, {});
  EXPECT_FALSE(acl.empty());
  EXPECT_TRUE(acl.allows(ip("10.1.2.3")));
  EXPECT_FALSE(acl.allows(ip("11.0.0.1")));
  EXPECT_FALSE(acl.allows(ip("::1")));  // no IPv6 allowed
}

TEST(Acl, DenyOnlyAllowsTheRest) {
  Acl acl = build({}, {"192.0.2.0/24"});
  EXPECT_FALSE(acl.allows(ip("192.0.2.200")));
  EXPECT_TRUE(acl.allows(ip("192.0.3.1")));
  EXPECT_TRUE(acl.allows(ip("2001:db8::1")));
}

TEST(Acl, DenyWins) {
  Acl acl = build({"10.0.0.0/8"}, {"10.1.0.0/16"});
  EXPECT_TRUE(acl.allows(ip("10.2.0.1")));
  EXPECT_FALSE(acl.allows(ip("10.1.0.1")));
  // The same network in both lists: deny, whatever order the lists were given in.
  Acl both = build({"10.0.0.0/8"}, {"10.0.0.0/8"});
  EXPECT_FALSE(both.allows(ip("10.0.0.1")));
  Acl wide_deny = build({"10.1.2.3"}, {"0.0.0.0/0"});
  EXPECT_FALSE(wide_deny.allows(ip("10.1.2.3")));
}

TEST(Acl, MixedFamilies) {
  Acl acl = build({"10.0.0.0/8, 2001:db8::/32", "::1"}, {"2001:db8:bad::/48"});
  EXPECT_TRUE(acl.allows(ip("10.0.0.1")));
  EXPECT_TRUE(acl.allows(ip("::ffff:10.0.0.1")));  // dual-stack socket peer
  EXPECT_TRUE(acl.allows(ip("2001:db8::7")));
  EXPECT_TRUE(acl.allows(ip("::1")));
  EXPECT_FALSE(acl.allows(ip("2001:db8:bad::1")));
  EXPECT_FALSE(acl.allows(ip("127.0.0.1")));
  EXPECT_FALSE(acl.allows(ip("2001:db9::1")));

  // An IPv6 "everything" does not cover IPv4 peers, mapped or not.
  Acl v6_only = build({"::/0"}, {});
  EXPECT_TRUE(v6_only.allows(ip("2001:db8::1")));
  EXPECT_FALSE(v6_only.allows(ip("1.2.3.4")));
  EXPECT_FALSE(v6_only.allows(ip("::ffff:1.2.3.4")));
  // A mapped deny rule applies to plain IPv4 peers.
  Acl mapped_deny = build({}, {"::ffff:192.0.2.0/120"});
  EXPECT_FALSE(mapped_deny.allows(ip("192.0.2.9")));
  EXPECT_TRUE(mapped_deny.allows(ip("192.0.3.9")));
}

TEST(Acl, RepeatedFlagsAccumulate) {
  Acl acl = build({"10.0.0.0/8", "127.0.0.0/8"}, {"10.1.0.0/16"});
  EXPECT_TRUE(acl.allows(ip("127.0.0.1")));
  EXPECT_TRUE(acl.allows(ip("10.9.0.1")));
  EXPECT_EQ(acl.describe(), "allow 10.0.0.0/8,127.0.0.0/8; deny 10.1.0.0/16");
  EXPECT_EQ(build({}, {"::1"}).describe(), "deny ::1/128");
}

TEST(Acl, ErrorsNameTheFlag) {
  Acl acl = build({"10.0.0.0/8"}, {});
  std::string error;
  EXPECT_FALSE(Acl::build({"10.0.0.0/8", "10.0.0.1/8"}, {}, &acl, &error));
  EXPECT_EQ(error.rfind("--allow: ", 0), 0u) << error;
  EXPECT_NE(error.find("10.0.0.0/8?"), std::string::npos) << error;

  EXPECT_FALSE(Acl::build({"10.0.0.0/8"}, {"nonsense"}, &acl, &error));
  EXPECT_EQ(error.rfind("--deny: ", 0), 0u) << error;
  EXPECT_NE(error.find("\"nonsense\""), std::string::npos) << error;

  EXPECT_FALSE(Acl::build({}, {""}, &acl, &error));
  EXPECT_EQ(error.rfind("--deny: ", 0), 0u) << error;
  EXPECT_FALSE(Acl::build({"1.2.3.4,"}, {}, &acl, &error));
  EXPECT_EQ(error.rfind("--allow: ", 0), 0u) << error;

  // A failed build leaves the previous ACL in force.
  EXPECT_TRUE(acl.allows(ip("10.0.0.1")));
  EXPECT_FALSE(acl.allows(ip("11.0.0.1")));
}

}  // namespace
}  // namespace memshield::security
