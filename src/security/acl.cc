// Builds and evaluates --allow/--deny lists. A linear scan: ACLs are a handful of operator-written
// rules checked once per TCP accept or UDP datagram, where a trie would cost more than it saves.
#include "security/acl.h"

#include <utility>

namespace memshield::security {
namespace {

bool append_specs(const char* flag, const std::vector<std::string>& specs, std::vector<Cidr>* out,
                  std::string* error) {
  for (const std::string& spec : specs) {
    std::string why;
    if (!parse_cidr_list(spec, out, &why)) {
      if (error != nullptr) *error = std::string(flag) + ": " + why;
      return false;
    }
  }
  return true;
}

bool any_contains(const std::vector<Cidr>& list, const IpAddress& ip) {
  for (const Cidr& cidr : list) {
    if (cidr.contains(ip)) return true;
  }
  return false;
}

std::string join(const std::vector<Cidr>& list) {
  std::string out;
  for (const Cidr& cidr : list) {
    if (!out.empty()) out += ',';
    out += cidr.to_string();
  }
  return out;
}

}  // namespace

bool Acl::build(const std::vector<std::string>& allow_specs,
                const std::vector<std::string>& deny_specs, Acl* out, std::string* error) {
  Acl acl;
  if (!append_specs("--allow", allow_specs, &acl.allow_, error)) return false;
  if (!append_specs("--deny", deny_specs, &acl.deny_, error)) return false;
  *out = std::move(acl);
  return true;
}

bool Acl::allows(const IpAddress& ip) const {
  // Deny first, so an address in both lists is refused whatever order the flags came in.
  if (any_contains(deny_, ip)) return false;
  return allow_.empty() || any_contains(allow_, ip);
}

std::string Acl::describe() const {
  if (empty()) return "allow all";
  std::string out;
  if (!allow_.empty()) out = "allow " + join(allow_);
  if (!deny_.empty()) {
    if (!out.empty()) out += "; ";
    out += "deny " + join(deny_);
  }
  return out;
}

}  // namespace memshield::security
