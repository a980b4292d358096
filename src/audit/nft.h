// The firewall half of the fix: an nftables ruleset that lets only listed client networks reach
// memcached ports, caps their rate, and drops the rest, which is the ACL plus rate limit the 2018
// CERT advisory asks for. It lives in its own table so applying it touches no other rules.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace memshield::audit {

struct NftOptions {
  std::set<uint16_t> tcp_ports;
  std::set<uint16_t> udp_ports;
  std::vector<std::string> allow_v4;  // CIDRs; loopback is always allowed
  std::vector<std::string> allow_v6;
  uint32_t tcp_new_per_second = 200;  // new TCP connections, all allowed clients together
  uint32_t udp_per_second = 100;      // UDP requests, all allowed clients together
};

// Adds a --allow CIDR to the right family list; false (with *error) if it is malformed.
bool add_allowed(const std::string& cidr, NftOptions* options, std::string* error);

std::string nft_ruleset(const NftOptions& options);

}  // namespace memshield::audit
