// Server cookies: per-request proof that the sender receives memshield's packets at its source
// address, in the spirit of DNS cookies (RFC 7873, RFC 9018). A server cookie is a MAC over the
// client's address, the client's own cookie and a timestamp, keyed by a secret that rotates; the
// previous secret stays valid for one more period. Only the server can mint one, and one minted
// for one address is worthless at any other. Wire format: docs/UDP-COOKIES.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "security/ip_address.h"

namespace memshield::security {

inline constexpr size_t kClientCookieSize = 8;
inline constexpr size_t kServerCookieSize = 16;

enum class CookieVerdict { kValid, kMissing, kBadMac, kExpired, kMalformed };

class CookieJar {
 public:
  // rotation_seconds: how often the secret changes; a cookie stays valid for up to two periods.
  explicit CookieJar(uint32_t rotation_seconds = 1800);
  ~CookieJar();

  // Mints the server cookie for (client address, client cookie) at unix time now.
  void mint(const IpAddress& client, const uint8_t client_cookie[kClientCookieSize],
            uint32_t now_unix, uint8_t out[kServerCookieSize]);
  CookieVerdict verify(const IpAddress& client, const uint8_t client_cookie[kClientCookieSize],
                       const uint8_t server_cookie[kServerCookieSize], uint32_t now_unix);
  // Moves to a new secret if the period has passed (called from the server's ticker; mint and
  // verify also rotate lazily). Thread-safe.
  void maybe_rotate(uint32_t now_unix);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memshield::security
