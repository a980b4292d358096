// The ASCII authentication table (-Y): memcached's "user:password" file, loaded once and then
// immutable (SIGHUP builds a new one). Passwords are kept only as SHA-256 digests and compared
// in constant time, so neither a timing difference nor a password length leaks to a client.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace memshield::security {

class AuthFile {
 public:
  // Parses the file's text. False with memcached's message in `error` on a malformed line (no
  // ':', empty or containing '\r'). An empty text is valid: nobody can authenticate.
  static bool parse(std::string_view text, const std::string& path, AuthFile* out,
                    std::string* error);
  // Reads and parses `path`; false with memcached's message when it cannot be opened.
  static bool load(const std::string& path, std::shared_ptr<const AuthFile>* out,
                   std::string* error);

  // True if user:password is an entry. Every entry is examined whatever matches first.
  bool check(std::string_view user, std::string_view password) const;
  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    Digest user;
    Digest password;
  };
  static Digest digest(std::string_view s);
  std::vector<Entry> entries_;
};

}  // namespace memshield::security
