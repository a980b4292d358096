// The UDP cookie block codec: round trip, the exact byte layout, short input, unknown version.
#include "protocol/udp_frame/cookie_block.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace memshield::protocol::udp {
namespace {

CookieBlock sample() {
  CookieBlock b;
  b.flags = kFlagServerCookie;
  for (int i = 0; i < 8; ++i) b.client_cookie[i] = static_cast<uint8_t>(0xa0 + i);
  for (int i = 0; i < 16; ++i) b.server_cookie[i] = static_cast<uint8_t>(0x10 + i);
  return b;
}

TEST(CookieBlock, RoundTripAndLayout) {
  char wire[kCookieBlockSize];
  encode_cookie_block(sample(), wire);
  EXPECT_EQ(static_cast<uint8_t>(wire[0]), kCookieVersion);
  EXPECT_EQ(static_cast<uint8_t>(wire[1]), kFlagServerCookie);
  EXPECT_EQ(static_cast<uint8_t>(wire[2]), 0xa0);
  EXPECT_EQ(static_cast<uint8_t>(wire[9]), 0xa7);
  EXPECT_EQ(static_cast<uint8_t>(wire[10]), 0x10);
  EXPECT_EQ(static_cast<uint8_t>(wire[25]), 0x1f);

  // Trailing bytes (the text request) are left alone.
  std::string datagram_tail(wire, kCookieBlockSize);
  datagram_tail += "get foo\r\n";
  CookieBlock out;
  ASSERT_TRUE(decode_cookie_block(datagram_tail, &out));
  EXPECT_EQ(out.version, kCookieVersion);
  EXPECT_EQ(out.flags, kFlagServerCookie);
  EXPECT_EQ(std::memcmp(out.client_cookie, sample().client_cookie, 8), 0);
  EXPECT_EQ(std::memcmp(out.server_cookie, sample().server_cookie, 16), 0);
}

TEST(CookieBlock, ShortInput) {
  char wire[kCookieBlockSize];
  encode_cookie_block(sample(), wire);
  CookieBlock out;
  for (size_t n = 0; n < kCookieBlockSize; ++n) {
    EXPECT_FALSE(decode_cookie_block(std::string_view(wire, n), &out)) << n;
  }
  EXPECT_TRUE(decode_cookie_block(std::string_view(wire, kCookieBlockSize), &out));
}

TEST(CookieBlock, UnknownVersion) {
  char wire[kCookieBlockSize];
  encode_cookie_block(sample(), wire);
  CookieBlock out;
  for (int v : {0, 2, 0x4d, 0xff}) {
    wire[0] = static_cast<char>(v);
    EXPECT_FALSE(decode_cookie_block(std::string_view(wire, kCookieBlockSize), &out)) << v;
  }
}

TEST(CookieBlock, UnknownFlagsKeptForTheCaller) {
  CookieBlock b = sample();
  b.flags = 0x81;
  char wire[kCookieBlockSize];
  encode_cookie_block(b, wire);
  CookieBlock out;
  ASSERT_TRUE(decode_cookie_block(std::string_view(wire, kCookieBlockSize), &out));
  EXPECT_EQ(out.flags, 0x81);
}

}  // namespace
}  // namespace memshield::protocol::udp
