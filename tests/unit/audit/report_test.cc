// Report rendering: JSON carries the documented fields with the right types and escapes hostile
// bytes; the text table has no colour codes unless asked.
#include "audit/report.h"

#include <gtest/gtest.h>

namespace memshield::audit {
namespace {

ReportEntry sample() {
  ReportEntry e;
  TargetReport& r = e.report;
  EXPECT_TRUE(parse_ip("127.0.0.1", &r.target.address));
  r.target.port = 11211;
  r.udp_port = 11211;
  r.scanned = true;
  r.tcp.state = TcpState::kOpen;
  r.tcp.speaks = Speaks::kOther;
  r.tcp.detail = "speaks another protocol: \"\x1b[31m\"";
  UdpProbeResult p;
  p.name = "stats";
  p.state = UdpProbeState::kAnswered;
  p.request_bytes = 15;
  p.response_bytes = 2228;
  p.request_wire_bytes = 43;
  p.response_wire_bytes = 2284;
  p.datagrams = p.datagrams_expected = 2;
  r.udp.push_back(p);
  e.assessment = assess(r);
  return e;
}

TEST(Report, JsonFieldsAndEscaping) {
  std::string j = render_json({sample()});
  for (const char* field :
       {"\"target\": \"127.0.0.1:11211\"", "\"tcp_open\": true", "\"udp_open\": true",
        "\"auth_required\": null", "\"version\": null", "\"udp_amplification\": 148.53",
        "\"risk\": \"critical\"", "\"fixes\": [\""}) {
    EXPECT_NE(j.find(field), std::string::npos) << field << "\n" << j;
  }
  EXPECT_EQ(j.find('\x1b'), std::string::npos);
  EXPECT_NE(j.find("\\u001b"), std::string::npos);
  EXPECT_EQ(j.front(), '[');
}

TEST(Report, TextColourOnlyWhenAsked) {
  std::string plain = render_text({sample()}, TextStyle{false});
  std::string color = render_text({sample()}, TextStyle{true});
  EXPECT_NE(plain.find("CRITICAL"), std::string::npos);
  EXPECT_NE(plain.find("148.53x"), std::string::npos);
  EXPECT_NE(color.find("\033[1;97;41mCRITICAL"), std::string::npos);
  // The peer's escape sequence was made printable by the probe, not by the renderer; plain
  // output must still contain no colour codes of its own.
  EXPECT_EQ(plain.find("\033[0m"), std::string::npos);
}

}  // namespace
}  // namespace memshield::audit
