// The password file behind -S (memcached's MEMCACHED_SASL_PWDB format): one "user:password" per
// line, split at the first ':'. Loaded once at start-up; checks compare in constant time.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memshield::security {

class PasswordDb {
 public:
  // Reads `path`; false with *error set if it cannot be read.
  bool load(const std::string& path, std::string* error);
  // Parses the file's text (also used by tests).
  void parse(std::string_view text);
  bool check(std::string_view user, std::string_view password) const;
  size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

}  // namespace memshield::security
