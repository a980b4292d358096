// One connection's SASL conversation over the binary protocol (-S): SASL_AUTH starts a
// mechanism, SASL_STEP continues it. Implemented by the server (Cyrus SASL, or memshield's own
// PLAIN against a password file), so the engine knows nothing of where credentials live.
#pragma once

#include <string>
#include <string_view>

namespace memshield::engine {

class SaslSession {
 public:
  enum class Outcome { kOk, kContinue, kFail };
  virtual ~SaslSession() = default;
  // SASL_AUTH: `mech` as the client named it, `data` its initial response (empty: none).
  // *challenge: what to send back (on kContinue).
  virtual Outcome start(std::string_view mech, std::string_view data, std::string* challenge) = 0;
  // SASL_STEP: the client's next response.
  virtual Outcome step(std::string_view data, std::string* challenge) = 0;
};

}  // namespace memshield::engine
