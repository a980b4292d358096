// Addresses for the security tests (ACLs, address parsing, the rate limiter and UDP budget).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "security/ip_address.h"

namespace memshield::security {

// The address `text` names; a bad text fails the test.
inline IpAddress ip(const std::string& text) {
  IpAddress out;
  EXPECT_TRUE(parse_ip(text, &out)) << text;
  return out;
}

// The IPv4 address a.b.c.d.
inline IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress out;
  out.v4 = true;
  out.bytes[0] = a;
  out.bytes[1] = b;
  out.bytes[2] = c;
  out.bytes[3] = d;
  return out;
}

}  // namespace memshield::security
