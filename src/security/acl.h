// Access control lists for TCP and UDP peers: --allow and --deny CIDR lists. Deny wins; if any
// allow is given, everything not allowed is denied; with neither, everything is allowed.
// Immutable once built: a reload builds a new one and swaps it in.
#pragma once

#include <string>
#include <vector>

#include "security/ip_address.h"

namespace memshield::security {

class Acl {
 public:
  Acl() = default;
  // Each spec is a comma-separated CIDR list (flags may be repeated). False with *error set on
  // the first malformed entry.
  static bool build(const std::vector<std::string>& allow_specs,
                    const std::vector<std::string>& deny_specs, Acl* out, std::string* error);

  bool allows(const IpAddress& ip) const;
  bool empty() const { return allow_.empty() && deny_.empty(); }
  // "allow 10.0.0.0/8,127.0.0.0/8; deny 10.1.0.0/16" for logs.
  std::string describe() const;

 private:
  std::vector<Cidr> allow_;
  std::vector<Cidr> deny_;
};

}  // namespace memshield::security
