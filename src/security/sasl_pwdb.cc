// See sasl_pwdb.h.
#include "security/sasl_pwdb.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace memshield::security {

namespace {

// Compares without an early exit, so timing does not reveal how much of a password matched.
bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned diff = a.size() != b.size();
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i]) ^
            static_cast<unsigned char>(b.empty() ? 0 : b[i % b.size()]);
  }
  return diff == 0;
}

}  // namespace

bool PasswordDb::load(const std::string& path, std::string* error) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) {
    *error = "cannot open the SASL password file " + path + ": " + strerror(errno);
    return false;
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  fclose(f);
  parse(text);
  return true;
}

void PasswordDb::parse(std::string_view text) {
  entries_.clear();
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    entries_.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 1)));
  }
}

bool PasswordDb::check(std::string_view user, std::string_view password) const {
  bool ok = false;
  for (const auto& [u, p] : entries_) {
    if (u == user && equal_constant_time(p, password)) ok = true;
  }
  return ok;
}

}  // namespace memshield::security
