// memshield's UDP cookie extension, carried in a form that existing memcached clients never send:
// the frame header's reserved field (always 0 from memcached clients) set to kCookieMagic means a
// 26-byte cookie block follows the header, before the text request. Pure codec; the MAC lives in
// security/udp_cookie.h. Full description: docs/UDP-COOKIES.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memshield::protocol::udp {

inline constexpr uint16_t kCookieMagic = 0x4D53;  // "MS"
inline constexpr size_t kCookieBlockSize = 26;
inline constexpr uint8_t kCookieVersion = 1;
inline constexpr uint8_t kFlagServerCookie = 0x01;  // server cookie field holds a cookie

struct CookieBlock {
  uint8_t version = kCookieVersion;
  uint8_t flags = 0;
  uint8_t client_cookie[8] = {};
  uint8_t server_cookie[16] = {};  // zeros unless kFlagServerCookie
};

// Parses the block at the start of `after_header`; false if short or of an unknown version.
bool decode_cookie_block(std::string_view after_header, CookieBlock* out);
void encode_cookie_block(const CookieBlock& block, char out[kCookieBlockSize]);

}  // namespace memshield::protocol::udp
