// Addresses and prefixes for the security layer: one representation for IPv4 and IPv6 (IPv4 kept
// as IPv4, and IPv4-mapped IPv6 such as ::ffff:1.2.3.4 folded to IPv4, so a rule written for
// 1.2.3.0/24 also matches a dual-stack socket's peer), CIDR parsing and matching.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memshield::security {

struct IpAddress {
  bool v4 = true;
  uint8_t bytes[16] = {};  // v4: the first 4 bytes; v6: all 16

  size_t size() const { return v4 ? 4 : 16; }
  bool operator==(const IpAddress& o) const;
  std::string to_string() const;
  // The first `bits` bits, the rest zeroed (for per-prefix tables).
  IpAddress masked(int bits) const;
  uint64_t hash() const;
};

// Parses "1.2.3.4", "::1", "::ffff:1.2.3.4" (folded to IPv4).
bool parse_ip(std::string_view text, IpAddress* out);
// From a socket address (AF_INET or AF_INET6, mapped addresses folded). False for others.
bool ip_from_sockaddr(const sockaddr* sa, IpAddress* out);

struct Cidr {
  IpAddress base;  // already masked to `prefix` bits
  int prefix = 0;  // 0..32 for IPv4, 0..128 for IPv6
  bool contains(const IpAddress& ip) const;
  std::string to_string() const;
};

// Parses "10.0.0.0/8", "2001:db8::/32", "1.2.3.4" (/32), "::1" (/128), "::ffff:10.0.0.0/104"
// (folded to 10.0.0.0/8). Host bits set below the prefix are an error ("10.0.0.1/8"), as is
// anything malformed; *error says what, quoting the input.
bool parse_cidr(std::string_view text, Cidr* out, std::string* error);
// A comma-separated list; empty items are errors.
bool parse_cidr_list(std::string_view text, std::vector<Cidr>* out, std::string* error);

}  // namespace memshield::security
