// UDP framing: header round trip and memcached's 1400-byte cut.
#include "protocol/udp_frame/udp_frame.h"

#include <gtest/gtest.h>

namespace memshield::protocol::udp {
namespace {

TEST(UdpFrame, HeaderRoundTrip) {
  char buf[kHeaderSize];
  encode_header({0x1234, 2, 719, 0}, buf);
  FrameHeader h;
  ASSERT_TRUE(decode_header(std::string_view(buf, kHeaderSize), &h));
  EXPECT_EQ(h.request_id, 0x1234);
  EXPECT_EQ(h.sequence, 2);
  EXPECT_EQ(h.total, 719);
  EXPECT_EQ(h.reserved, 0);
  EXPECT_FALSE(decode_header("short", &h));
}

TEST(UdpFrame, CutsLikeMemcached) {
  // memcached: a get of a 1,000,000-byte value is 719 datagrams of at most 1400 bytes.
  std::string resp = "VALUE big 0 1000000\r\n" + std::string(1000000, 'x') + "\r\nEND\r\n";
  std::vector<std::string> d;
  ASSERT_TRUE(frame_response(7, resp, &d));
  ASSERT_EQ(d.size(), 719u);
  EXPECT_EQ(d[0].size(), 1400u);
  std::string joined;
  for (size_t i = 0; i < d.size(); ++i) {
    FrameHeader h;
    ASSERT_TRUE(decode_header(d[i], &h));
    EXPECT_EQ(h.sequence, i);
    EXPECT_EQ(h.total, 719);
    joined += d[i].substr(kHeaderSize);
  }
  EXPECT_EQ(joined, resp);
  EXPECT_EQ(framed_size(resp.size()), resp.size() + 719 * kHeaderSize);
  ASSERT_TRUE(frame_response(1, "", &d));
  EXPECT_EQ(d.size(), 1u);
}

}  // namespace
}  // namespace memshield::protocol::udp
