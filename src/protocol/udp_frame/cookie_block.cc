// The 26-byte cookie block that follows a frame header whose reserved field is kCookieMagic:
// version(1) flags(1) client_cookie(8) server_cookie(16). Pure codec; what the cookies mean is
// security/udp_cookie.h's business. See docs/UDP-COOKIES.md.
#include "protocol/udp_frame/cookie_block.h"

#include <cstring>

namespace memshield::protocol::udp {

static_assert(kCookieBlockSize ==
                  1 + 1 + sizeof(CookieBlock::client_cookie) + sizeof(CookieBlock::server_cookie),
              "the wire block and the struct must describe the same 26 bytes");

bool decode_cookie_block(std::string_view after_header, CookieBlock* out) {
  if (after_header.size() < kCookieBlockSize) return false;
  const char* p = after_header.data();
  // Future versions may change the layout, so nothing past the version byte is trusted.
  if (static_cast<uint8_t>(p[0]) != kCookieVersion) return false;
  out->version = kCookieVersion;
  // Unknown flag bits are kept, not rejected: they are reserved for extensions a newer client
  // may set, and the server acts only on the bits it knows.
  out->flags = static_cast<uint8_t>(p[1]);
  std::memcpy(out->client_cookie, p + 2, sizeof(out->client_cookie));
  std::memcpy(out->server_cookie, p + 2 + sizeof(out->client_cookie), sizeof(out->server_cookie));
  return true;
}

void encode_cookie_block(const CookieBlock& block, char out[kCookieBlockSize]) {
  out[0] = static_cast<char>(block.version);
  out[1] = static_cast<char>(block.flags);
  std::memcpy(out + 2, block.client_cookie, sizeof(block.client_cookie));
  std::memcpy(out + 2 + sizeof(block.client_cookie), block.server_cookie,
              sizeof(block.server_cookie));
}

}  // namespace memshield::protocol::udp
