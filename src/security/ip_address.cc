// Address and CIDR parsing and matching. Parsing is strict (inet_pton, decimal prefixes, no host
// bits below the prefix) because these strings come from operators writing access rules: a rule
// that silently means something other than what was typed is a security hole, so every refusal
// says what was wrong and, where it can, what was probably meant.
#include "security/ip_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "common/hash.h"

namespace memshield::security {
namespace {

constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const uint8_t bytes[16]) {
  return std::memcmp(bytes, kMappedPrefix, sizeof(kMappedPrefix)) == 0;
}

// Raw 16 bytes into an IpAddress, folding ::ffff:a.b.c.d to IPv4.
IpAddress from_v6_bytes(const uint8_t bytes[16]) {
  IpAddress ip;
  if (is_v4_mapped(bytes)) {
    ip.v4 = true;
    std::memcpy(ip.bytes, bytes + 12, 4);
  } else {
    ip.v4 = false;
    std::memcpy(ip.bytes, bytes, 16);
  }
  return ip;
}

// inet_pton wants a NUL-terminated string; the longest valid text form is 45 characters.
bool to_cstr(std::string_view text, char (&buf)[64]) {
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  if (text.find('\0') != std::string_view::npos) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  return true;
}

// Input quoted for an error message: operators paste these from config files, so control
// characters are escaped and very long input is cut rather than flooding the log.
std::string quote(std::string_view text) {
  constexpr size_t kMaxShown = 80;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

bool fail(std::string* error, std::string_view input, const std::string& why) {
  if (error != nullptr) *error = "invalid CIDR " + quote(input) + ": " + why;
  return false;
}

// True if the first `bits` bits of a and b agree (both at least ceil(bits/8) bytes long).
bool same_prefix(const uint8_t* a, const uint8_t* b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff00 >> rest);
  return ((a[whole] ^ b[whole]) & mask) == 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

bool IpAddress::operator==(const IpAddress& o) const {
  return v4 == o.v4 && std::memcmp(bytes, o.bytes, size()) == 0;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  if (inet_ntop(v4 ? AF_INET : AF_INET6, bytes, buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

IpAddress IpAddress::masked(int bits) const {
  IpAddress out;
  out.v4 = v4;
  int total = static_cast<int>(size()) * 8;
  if (bits < 0) bits = 0;
  if (bits > total) bits = total;
  int whole = bits / 8;
  std::memcpy(out.bytes, bytes, static_cast<size_t>(whole));
  if (bits % 8 != 0) out.bytes[whole] = bytes[whole] & static_cast<uint8_t>(0xff00 >> (bits % 8));
  return out;
}

uint64_t IpAddress::hash() const {
  // The family goes into the seed so that 0.0.0.0 and :: (both all-zero bytes) differ.
  return XXH3_64bits_withSeed(bytes, size(), v4 ? 4 : 6);
}

bool parse_ip(std::string_view text, IpAddress* out) {
  char buf[64];
  if (!to_cstr(text, buf)) return false;
  if (text.find(':') == std::string_view::npos) {
    IpAddress ip;
    ip.v4 = true;
    if (inet_pton(AF_INET, buf, ip.bytes) != 1) return false;
    *out = ip;
    return true;
  }
  uint8_t raw[16];
  if (inet_pton(AF_INET6, buf, raw) != 1) return false;
  *out = from_v6_bytes(raw);
  return true;
}

bool ip_from_sockaddr(const sockaddr* sa, IpAddress* out) {
  if (sa == nullptr) return false;
  // memcpy rather than casts: callers hand us sockaddr_storage and friends of any alignment.
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin;
    std::memcpy(&sin, sa, sizeof(sin));
    IpAddress ip;
    ip.v4 = true;
    std::memcpy(ip.bytes, &sin.sin_addr, 4);
    *out = ip;
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, sa, sizeof(sin6));
    uint8_t raw[16];
    std::memcpy(raw, &sin6.sin6_addr, 16);
    *out = from_v6_bytes(raw);
    return true;
  }
  return false;
}

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.v4 != base.v4) return false;
  return same_prefix(ip.bytes, base.bytes, prefix);
}

std::string Cidr::to_string() const { return base.to_string() + "/" + std::to_string(prefix); }

bool parse_cidr(std::string_view text, Cidr* out, std::string* error) {
  if (text.empty()) return fail(error, text, "empty");
  size_t slash = text.find('/');
  std::string_view addr_text = text.substr(0, slash);
  if (addr_text.empty()) return fail(error, text, "missing address before '/'");

  // Parse without folding first: a mapped prefix is written in IPv6 bits and must be converted.
  char buf[64];
  bool written_v6 = addr_text.find(':') != std::string_view::npos;
  uint8_t raw[16] = {};
  if (!to_cstr(addr_text, buf) || inet_pton(written_v6 ? AF_INET6 : AF_INET, buf, raw) != 1) {
    return fail(error, text, "not an IPv4 or IPv6 address");
  }
  int max_bits = written_v6 ? 128 : 32;

  int prefix = max_bits;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty()) return fail(error, text, "missing prefix length after '/'");
    prefix = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return fail(error, text, "prefix length must be a decimal number");
      // Cap while accumulating so "/99999999999" cannot overflow; anything past 999 is out of
      // range anyway.
      if (prefix < 1000) prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max_bits) {
      std::string shown = prefix >= 1000 ? std::string(digits) : std::to_string(prefix);
      return fail(error, text,
                  "prefix length " + shown + " is out of range for " +
                      (written_v6 ? "IPv6 (0-128)" : "IPv4 (0-32)"));
    }
  }

  Cidr cidr;
  if (written_v6 && is_v4_mapped(raw)) {
    if (prefix < 96) {
      return fail(error, text,
                  "an IPv4-mapped prefix must be /96 or longer (IPv4 peers are matched as IPv4; "
                  "write an IPv4 CIDR instead)");
    }
    cidr.base.v4 = true;
    std::memcpy(cidr.base.bytes, raw + 12, 4);
    cidr.prefix = prefix - 96;
  } else if (written_v6) {
    cidr.base.v4 = false;
    std::memcpy(cidr.base.bytes, raw, 16);
    cidr.prefix = prefix;
  } else {
    cidr.base.v4 = true;
    std::memcpy(cidr.base.bytes, raw, 4);
    cidr.prefix = prefix;
  }

  IpAddress network = cidr.base.masked(cidr.prefix);
  if (!(network == cidr.base)) {
    // Suggest the network in the form the operator used.
    std::string suggestion = network.to_string();
    if (written_v6 && cidr.base.v4) suggestion = "::ffff:" + suggestion;
    suggestion += "/" + std::to_string(prefix);
    return fail(error, text,
                "host bits are set below the /" + std::to_string(prefix) +
                    " prefix; did you mean " + suggestion + "?");
  }
  *out = cidr;
  return true;
}

bool parse_cidr_list(std::string_view text, std::vector<Cidr>* out, std::string* error) {
  if (trim(text).empty()) {
    if (error != nullptr) *error = "empty CIDR list " + quote(text);
    return false;
  }
  std::vector<Cidr> result;
  size_t item = 0;
  std::string_view rest = text;
  while (true) {
    ++item;
    size_t comma = rest.find(',');
    std::string_view piece = trim(rest.substr(0, comma));
    if (piece.empty()) {
      if (error != nullptr) {
        *error = "empty item " + std::to_string(item) + " in CIDR list " + quote(text);
      }
      return false;
    }
    Cidr cidr;
    if (!parse_cidr(piece, &cidr, error)) return false;
    result.push_back(cidr);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  // Appended, all or nothing: callers collect repeated flags into one vector.
  out->insert(out->end(), result.begin(), result.end());
  return true;
}

}  // namespace memshield::security
