// The -Y credentials as the engine sees them: an immutable security::AuthFile behind an atomic
// pointer, so SIGHUP can swap in a re-read file while workers keep checking the old one.
#pragma once

#include <atomic>
#include <memory>
#include <string_view>

#include "engine/ascii_auth.h"
#include "security/authfile.h"

namespace memshield::server {

class AuthTable final : public engine::Authenticator {
 public:
  bool check(std::string_view user, std::string_view password) const override {
    std::shared_ptr<const security::AuthFile> t = table_.load();
    return t != nullptr && t->check(user, password);
  }
  void replace(std::shared_ptr<const security::AuthFile> t) { table_.store(std::move(t)); }

 private:
  std::atomic<std::shared_ptr<const security::AuthFile>> table_;
};

}  // namespace memshield::server
