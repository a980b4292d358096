// The risk table, rule by rule, on hand-written findings; and the exit status it maps to.
#include "audit/risk.h"

#include <gtest/gtest.h>

namespace memshield::audit {
namespace {

TargetReport report(const char* ip) {
  TargetReport r;
  IpAddress a;
  EXPECT_TRUE(parse_ip(ip, &a));
  r.target.address = a;
  r.target.port = 11211;
  r.udp_port = 11211;
  r.scanned = true;
  return r;
}

void tcp_open(TargetReport* r, Speaks speaks, const char* listen = "") {
  r->tcp.state = TcpState::kOpen;
  r->tcp.speaks = speaks;
  r->tcp.listen = listen;
}

void udp_answer(TargetReport* r, const char* name, uint64_t in, uint64_t out) {
  UdpProbeResult p;
  p.name = name;
  p.state = UdpProbeState::kAnswered;
  p.request_bytes = in;
  p.response_bytes = out;
  p.datagrams = p.datagrams_expected = 1;
  r->udp.push_back(p);
}

void udp_closed(TargetReport* r) {
  UdpProbeResult p;
  p.name = "version";
  p.state = UdpProbeState::kRefused;
  r->udp.push_back(p);
}

TEST(Risk, UdpAmplificationIsCriticalEvenOnLoopback) {
  TargetReport r = report("127.0.0.1");
  tcp_open(&r, Speaks::kMemcached, "127.0.0.1");
  udp_answer(&r, "version", 17, 24);
  udp_answer(&r, "stats", 15, 2228);
  Assessment a = assess(r);
  EXPECT_EQ(a.risk, Risk::kCritical);
  EXPECT_NEAR(r.max_amplification(), 148.53, 0.01);
  EXPECT_EQ(exit_code_for(a.risk), 2);
  ASSERT_FALSE(a.fixes.empty());
  EXPECT_NE(a.fixes[0].find("-U 0"), std::string::npos);
  EXPECT_NE(a.reasons[0].find("stats"), std::string::npos);
}

TEST(Risk, FactorOfExactlyOneIsNotCritical) {
  TargetReport r = report("127.0.0.1");
  udp_answer(&r, "stats", 15, 15);
  EXPECT_EQ(risk_level(r), Risk::kMedium);
  r.udp.clear();
  udp_answer(&r, "stats", 15, 16);
  EXPECT_EQ(risk_level(r), Risk::kCritical);
}

TEST(Risk, ReplyPaidFromEarlierUnansweredBytesIsNotAmplification) {
  // memshield's budget: "version" and "stats" withheld, a later reply spends their credit.
  TargetReport r = report("127.0.0.1");
  UdpProbeResult silent;
  silent.name = "version";
  silent.state = UdpProbeState::kNoAnswer;
  silent.request_bytes = 17;
  r.udp.push_back(silent);
  silent.name = "stats";
  silent.request_bytes = 15;
  r.udp.push_back(silent);
  udp_answer(&r, "get", 46, 71);
  r.account_credit();
  EXPECT_EQ(r.udp[2].credit_bytes, 32u);
  EXPECT_NEAR(r.udp[2].amplification(), 1.54, 0.01);
  EXPECT_NEAR(r.max_amplification(), 71.0 / 78.0, 0.001);
  Assessment a = assess(r);
  EXPECT_EQ(a.risk, Risk::kMedium);
  // memcached answers everything, so no credit builds up and the factors stay per-probe.
  TargetReport m = report("127.0.0.1");
  udp_answer(&m, "version", 17, 24);
  udp_answer(&m, "stats", 15, 2228);
  m.account_credit();
  EXPECT_EQ(m.udp[1].credit_bytes, 0u);
  EXPECT_NEAR(m.max_amplification(), 148.53, 0.01);
}

TEST(Risk, UnauthenticatedTcpOffLoopbackIsHigh) {
  TargetReport r = report("192.0.2.10");
  tcp_open(&r, Speaks::kMemcached, "NULL");
  udp_closed(&r);
  Assessment a = assess(r);
  EXPECT_EQ(a.risk, Risk::kHigh);
  EXPECT_EQ(exit_code_for(a.risk), 1);
  bool has_bind = false, has_nft = false;
  for (const auto& f : a.fixes) {
    has_bind = has_bind || f.find("-l 127.0.0.1") != std::string::npos;
    has_nft = has_nft || f.find("--nft") != std::string::npos;
  }
  EXPECT_TRUE(has_bind);
  EXPECT_TRUE(has_nft);
}

TEST(Risk, UdpWithoutAmplificationIsMedium) {
  TargetReport r = report("127.0.0.1");
  tcp_open(&r, Speaks::kMemcached, "127.0.0.1:11211");
  udp_answer(&r, "version", 17, 16);
  udp_answer(&r, "stats", 15, 12);
  EXPECT_EQ(risk_level(r), Risk::kMedium);
}

TEST(Risk, LoopbackOnlyIsLow) {
  TargetReport r = report("127.0.0.1");
  tcp_open(&r, Speaks::kMemcached, "127.0.0.1");
  udp_closed(&r);
  EXPECT_EQ(risk_level(r), Risk::kLow);
  EXPECT_EQ(exit_code_for(Risk::kLow), 0);
  r.tcp.listen = "";  // stats settings not readable: trust what we measured
  EXPECT_EQ(risk_level(r), Risk::kLow);
}

TEST(Risk, LoopbackProbeOfWildcardListenerIsMedium) {
  for (const char* inter : {"NULL", "0.0.0.0", "::", "127.0.0.1:1,0.0.0.0:11211", "[::]:11211"}) {
    TargetReport r = report("::1");
    tcp_open(&r, Speaks::kMemcached, inter);
    udp_closed(&r);
    EXPECT_EQ(risk_level(r), Risk::kMedium) << inter;
  }
}

TEST(Risk, AuthRequiredOtherSilentClosedAreNone) {
  for (Speaks s : {Speaks::kMemcachedAuth, Speaks::kOther, Speaks::kSilent}) {
    TargetReport r = report("192.0.2.10");
    tcp_open(&r, s);
    udp_closed(&r);
    EXPECT_EQ(risk_level(r), Risk::kNone) << static_cast<int>(s);
  }
  TargetReport closed = report("192.0.2.10");
  closed.tcp.state = TcpState::kClosed;
  udp_closed(&closed);
  Assessment a = assess(closed);
  EXPECT_EQ(a.risk, Risk::kNone);
  EXPECT_TRUE(a.fixes.empty());
  EXPECT_EQ(exit_code_for(a.risk), 0);
}

TEST(Risk, NotScannedIsUnknownAndNotAllClear) {
  TargetReport r = report("127.0.0.1");
  r.scanned = false;
  EXPECT_EQ(risk_level(r), Risk::kUnknown);
  EXPECT_EQ(exit_code_for(Risk::kUnknown), 1);
  EXPECT_GT(Risk::kUnknown, Risk::kLow);
  EXPECT_LT(Risk::kUnknown, Risk::kMedium);
}

TEST(Risk, Names) {
  EXPECT_STREQ(risk_name(Risk::kCritical), "critical");
  EXPECT_STREQ(risk_name(Risk::kHigh), "high");
  EXPECT_STREQ(risk_name(Risk::kMedium), "medium");
  EXPECT_STREQ(risk_name(Risk::kLow), "low");
  EXPECT_STREQ(risk_name(Risk::kNone), "none");
}

}  // namespace
}  // namespace memshield::audit
