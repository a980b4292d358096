// Audit targets: turns "host", "host:port", "[v6]:port", IPv4/IPv6 CIDR and "@file" arguments
// into the list of address:port pairs to probe. Sizes are counted before anything is expanded,
// so a typo such as "/0" is refused up front instead of starting a four-billion-host scan.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memshield::audit {

inline constexpr uint16_t kDefaultPort = 11211;
// Even with --max-targets, no run expands more than this (16 M): memory stays bounded.
inline constexpr uint64_t kHardTargetCeiling = uint64_t{1} << 24;

struct IpAddress {
  int family = 0;  // AF_INET or AF_INET6
  uint8_t bytes[16] = {};

  size_t size() const { return family == AF_INET ? 4 : 16; }
  bool is_loopback() const;
  std::string to_string() const;  // "127.0.0.1", "::1"
  bool operator==(const IpAddress& o) const;
};

// Parses a literal IPv4 (dotted quad) or IPv6 address.
bool parse_ip(std::string_view text, IpAddress* out);

// One argument as written by the user, before CIDR expansion or name resolution.
struct TargetSpec {
  enum class Kind { kAddress, kCidr, kHostname };
  Kind kind = Kind::kAddress;
  IpAddress address;     // kAddress, and the (masked) network of kCidr
  int prefix = 0;        // kCidr
  std::string hostname;  // kHostname
  uint16_t port = kDefaultPort;
  std::string text;  // the argument itself, for error messages

  // Addresses this spec stands for, saturating at UINT64_MAX (an IPv6 /0 does not fit).
  uint64_t count() const;
};

// Parses one target (not "@file"). On failure returns false and says why in *error.
bool parse_target_spec(std::string_view text, uint16_t default_port, TargetSpec* out,
                       std::string* error);

// Parses a CIDR ("10.0.0.0/8", "fc00::/7") or a single address (taken as /32 or /128), as used
// by --allow; host bits are cleared.
bool parse_cidr(std::string_view text, IpAddress* network, int* prefix, std::string* error);
std::string cidr_to_string(const IpAddress& network, int prefix);

// Expands command-line arguments: "@path" reads one target per line ('#' starts a comment,
// blank lines are skipped; files do not nest).
bool collect_specs(const std::vector<std::string>& args, uint16_t default_port,
                   std::vector<TargetSpec>* out, std::string* error);

// A concrete address and port to probe.
struct Target {
  IpAddress address;
  uint16_t port = kDefaultPort;
  std::string hostname;  // when the user gave a name; empty for literals

  std::string label() const;     // "127.0.0.1:11211", "[::1]:11211", "db1:11211"
  std::string endpoint() const;  // always the address form
  bool is_loopback() const { return address.is_loopback(); }
  socklen_t to_sockaddr(sockaddr_storage* ss) const;
};

// Sum of count() over specs, saturating.
uint64_t total_count(const std::vector<TargetSpec>& specs);

// Expands CIDRs and resolves names (first address getaddrinfo returns). Refuses, before
// expanding, when the total exceeds max_targets. Duplicates are dropped, order is kept.
bool expand_targets(const std::vector<TargetSpec>& specs, uint64_t max_targets,
                    std::vector<Target>* out, std::string* error);

}  // namespace memshield::audit
