// SASL PLAIN (RFC 4616) checked through Hooks::check_password: memshield's password-file mode
// (MEMCACHED_SASL_PWDB, memcached's --enable-sasl-pwdb build). PLAIN is its only mechanism.
#pragma once

#include "engine/context.h"
#include "engine/sasl_session.h"

namespace memshield::engine {

class PlainPasswordSession final : public SaslSession {
 public:
  explicit PlainPasswordSession(Hooks& hooks) : hooks_(hooks) {}
  Outcome start(std::string_view mech, std::string_view data, std::string* challenge) override;
  Outcome step(std::string_view data, std::string* challenge) override { return Outcome::kFail; }

 private:
  Hooks& hooks_;
};

}  // namespace memshield::engine
