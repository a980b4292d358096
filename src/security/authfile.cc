// Loads and checks the -Y authentication file; see authfile.h.
#include "security/authfile.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace memshield::security {

AuthFile::Digest AuthFile::digest(std::string_view s) {
  Digest d{};
  unsigned int n = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

bool AuthFile::parse(std::string_view text, const std::string& path, AuthFile* out,
                     std::string* error) {
  out->entries_.clear();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    size_t colon = line.find(':');
    if (line.empty() || colon == std::string_view::npos ||
        line.find('\r') != std::string_view::npos) {
      *error = "Authfile [" + path + "] has a malformed entry. Should be 'user:password'";
      out->entries_.clear();
      return false;
    }
    out->entries_.push_back({digest(line.substr(0, colon)), digest(line.substr(colon + 1))});
  }
  return true;
}

bool AuthFile::load(const std::string& path, std::shared_ptr<const AuthFile>* out,
                    std::string* error) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) {
    const char* why = strerror(errno);
    *error = "Could not open authfile [" + path + "] for reading, error " + why + ": " + why;
    return false;
  }
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  const bool read_error = ferror(f) != 0;
  fclose(f);
  if (read_error) {
    *error = "Could not read authfile [" + path + "]";
    return false;
  }
  auto table = std::make_shared<AuthFile>();
  if (!parse(text, path, table.get(), error)) return false;
  *out = std::move(table);
  return true;
}

bool AuthFile::check(std::string_view user, std::string_view password) const {
  const Digest u = digest(user);
  const Digest p = digest(password);
  int found = 0;
  for (const Entry& e : entries_) {
    const int user_ok = CRYPTO_memcmp(u.data(), e.user.data(), u.size()) == 0;
    const int pass_ok = CRYPTO_memcmp(p.data(), e.password.data(), p.size()) == 0;
    found |= user_ok & pass_ok;
  }
  return found != 0;
}

}  // namespace memshield::security
