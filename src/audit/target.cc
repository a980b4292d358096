// See target.h. Parsing is strict on purpose: an audit that silently probes something other
// than what the operator meant is worse than one that refuses the argument.
#include "audit/target.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <utility>

namespace memshield::audit {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool parse_port(std::string_view s, uint16_t* port) {
  if (!all_digits(s) || s.size() > 5) return false;
  uint32_t v = 0;
  for (char c : s) v = v * 10 + static_cast<uint32_t>(c - '0');
  if (v == 0 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// A hostname per RFC 1123 letters-digits-hyphen-dot; anything made only of digits and dots is
// a mistyped IPv4 address, not a name to look up.
bool valid_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  bool has_alpha = false;
  for (char c : s) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    has_alpha = has_alpha || alpha || c == '-';
    if (!alpha && !(c >= '0' && c <= '9') && c != '-' && c != '.') return false;
  }
  return has_alpha && s.front() != '.' && s.front() != '-';
}

void mask_host_bits(IpAddress* a, int prefix) {
  const int bits = static_cast<int>(a->size()) * 8;
  for (int i = prefix; i < bits; ++i) a->bytes[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
}

// Adds n to the address (n < 2^64; IPv6 carries through all 16 bytes).
IpAddress offset_address(const IpAddress& base, uint64_t n) {
  IpAddress a = base;
  for (int i = static_cast<int>(a.size()) - 1; i >= 0 && n != 0; --i) {
    uint64_t sum = a.bytes[i] + (n & 0xff);
    a.bytes[i] = static_cast<uint8_t>(sum);
    n = (n >> 8) + (sum >> 8);
  }
  return a;
}

bool read_target_file(const std::string& path, std::vector<std::string>* lines,
                      std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read target file '" + path + "': " + strerror(errno);
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    size_t b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    size_t e = line.find_last_not_of(" \t\r");
    lines->push_back(line.substr(b, e - b + 1));
  }
  return true;
}

}  // namespace

bool IpAddress::is_loopback() const {
  if (family == AF_INET) return bytes[0] == 127;
  if (family != AF_INET6) return false;
  static const uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (memcmp(bytes, kLoop6, 16) == 0) return true;
  return memcmp(bytes, kMapped, 12) == 0 && bytes[12] == 127;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 0 || inet_ntop(family, bytes, buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

bool IpAddress::operator==(const IpAddress& o) const {
  return family == o.family && memcmp(bytes, o.bytes, size()) == 0;
}

bool parse_ip(std::string_view text, IpAddress* out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, s.c_str(), a.bytes) == 1) {
    a.family = AF_INET6;
  } else {
    return false;
  }
  *out = a;
  return true;
}

bool parse_cidr(std::string_view text, IpAddress* network, int* prefix, std::string* error) {
  size_t slash = text.find('/');
  IpAddress a;
  if (!parse_ip(text.substr(0, slash), &a)) {
    *error = "'" + std::string(text) + "' is not an IP address or CIDR";
    return false;
  }
  const int bits = static_cast<int>(a.size()) * 8;
  int p = bits;
  if (slash != std::string_view::npos) {
    std::string_view ps = text.substr(slash + 1);
    if (!all_digits(ps) || ps.size() > 3 || std::stoi(std::string(ps)) > bits) {
      *error = "'" + std::string(text) + "': prefix length must be 0.." + std::to_string(bits);
      return false;
    }
    p = std::stoi(std::string(ps));
  }
  mask_host_bits(&a, p);
  *network = a;
  *prefix = p;
  return true;
}

std::string cidr_to_string(const IpAddress& network, int prefix) {
  return network.to_string() + "/" + std::to_string(prefix);
}

uint64_t TargetSpec::count() const {
  if (kind != Kind::kCidr) return 1;
  const int host_bits = static_cast<int>(address.size()) * 8 - prefix;
  return host_bits >= 64 ? UINT64_MAX : uint64_t{1} << host_bits;
}

bool parse_target_spec(std::string_view text, uint16_t default_port, TargetSpec* out,
                       std::string* error) {
  const std::string quoted = "'" + std::string(text) + "'";
  TargetSpec spec;
  spec.text = std::string(text);
  spec.port = default_port;
  std::string_view host = text;
  bool bracketed = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      *error = quoted + ": missing ']'";
      return false;
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty() && (rest.front() != ':' || !parse_port(rest.substr(1), &spec.port))) {
      *error = quoted + ": expected [IPv6]:PORT with PORT 1..65535";
      return false;
    }
    bracketed = true;
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos &&
                                            text.find(':', colon + 1) == std::string_view::npos) {
    // Exactly one colon: host:port. Two or more: a bare IPv6 address, which takes no port.
    host = text.substr(0, colon);
    if (!parse_port(text.substr(colon + 1), &spec.port)) {
      *error = quoted + ": port must be a number 1..65535";
      return false;
    }
  }
  if (host.empty()) {
    *error = quoted + ": empty host";
    return false;
  }
  if (host.find('/') != std::string_view::npos) {
    if (!parse_cidr(host, &spec.address, &spec.prefix, error)) return false;
    spec.kind = TargetSpec::Kind::kCidr;
  } else if (parse_ip(host, &spec.address)) {
    spec.kind = TargetSpec::Kind::kAddress;
    if (bracketed && spec.address.family != AF_INET6) {
      *error = quoted + ": brackets are for IPv6 addresses";
      return false;
    }
  } else if (!bracketed && valid_hostname(host)) {
    spec.kind = TargetSpec::Kind::kHostname;
    spec.hostname = std::string(host);
  } else {
    *error = quoted + " is not a host, host:port, [IPv6]:port or CIDR";
    return false;
  }
  *out = std::move(spec);
  return true;
}

bool collect_specs(const std::vector<std::string>& args, uint16_t default_port,
                   std::vector<TargetSpec>* out, std::string* error) {
  for (const std::string& arg : args) {
    std::vector<std::string> items;
    std::string origin;
    if (!arg.empty() && arg.front() == '@') {
      if (!read_target_file(arg.substr(1), &items, error)) return false;
      origin = arg.substr(1);
    } else {
      items.push_back(arg);
    }
    for (const std::string& item : items) {
      if (!origin.empty() && !item.empty() && item.front() == '@') {
        *error = origin + ": target files do not nest ('" + item + "')";
        return false;
      }
      TargetSpec spec;
      if (!parse_target_spec(item, default_port, &spec, error)) {
        if (!origin.empty()) *error = origin + ": " + *error;
        return false;
      }
      out->push_back(std::move(spec));
    }
  }
  return true;
}

std::string Target::endpoint() const {
  std::string a = address.to_string();
  if (address.family == AF_INET6) a = "[" + a + "]";
  return a + ":" + std::to_string(port);
}

std::string Target::label() const {
  if (hostname.empty()) return endpoint();
  return hostname + ":" + std::to_string(port);
}

socklen_t Target::to_sockaddr(sockaddr_storage* ss) const {
  memset(ss, 0, sizeof(*ss));
  if (address.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    memcpy(&sin->sin_addr, address.bytes, 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  memcpy(&sin6->sin6_addr, address.bytes, 16);
  return sizeof(sockaddr_in6);
}

uint64_t total_count(const std::vector<TargetSpec>& specs) {
  uint64_t total = 0;
  for (const TargetSpec& s : specs) {
    uint64_t c = s.count();
    total = (UINT64_MAX - total < c) ? UINT64_MAX : total + c;
  }
  return total;
}

bool expand_targets(const std::vector<TargetSpec>& specs, uint64_t max_targets,
                    std::vector<Target>* out, std::string* error) {
  const uint64_t total = total_count(specs);
  if (total == 0) {
    *error = "no targets given";
    return false;
  }
  const uint64_t limit = std::min(max_targets, kHardTargetCeiling);
  if (total > limit) {
    std::string n = total == UINT64_MAX ? "more than 2^64" : std::to_string(total);
    *error = "the targets expand to " + n + " addresses, above the limit of " +
             std::to_string(limit) +
             (limit < max_targets ? " (the hard ceiling)" : "; raise it with --max-targets N");
    return false;
  }
  std::set<std::pair<std::string, uint16_t>> seen;
  auto add = [&](Target t) {
    if (seen.insert({t.address.to_string(), t.port}).second) out->push_back(std::move(t));
  };
  for (const TargetSpec& s : specs) {
    if (s.kind == TargetSpec::Kind::kHostname) {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* res = nullptr;
      int rc = getaddrinfo(s.hostname.c_str(), nullptr, &hints, &res);
      if (rc != 0 || res == nullptr) {
        *error = "cannot resolve '" + s.hostname + "': " + gai_strerror(rc);
        return false;
      }
      Target t;
      t.hostname = s.hostname;
      t.port = s.port;
      t.address.family = res->ai_family;
      if (res->ai_family == AF_INET) {
        memcpy(t.address.bytes, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, 4);
      } else {
        memcpy(t.address.bytes, &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, 16);
      }
      freeaddrinfo(res);
      add(std::move(t));
      continue;
    }
    for (uint64_t i = 0; i < s.count(); ++i) {
      Target t;
      t.address = offset_address(s.address, i);
      t.port = s.port;
      add(std::move(t));
    }
  }
  return true;
}

}  // namespace memshield::audit
