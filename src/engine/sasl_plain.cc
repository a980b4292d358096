// See sasl_plain.h.
#include "engine/sasl_plain.h"

namespace memshield::engine {

SaslSession::Outcome PlainPasswordSession::start(std::string_view mech, std::string_view data,
                                                 std::string* challenge) {
  if (mech != "PLAIN") return Outcome::kFail;
  // [authzid] NUL authcid NUL passwd; authzid empty or the user itself.
  size_t a = data.find('\0');
  size_t b = a == std::string_view::npos ? a : data.find('\0', a + 1);
  if (b == std::string_view::npos) return Outcome::kFail;
  std::string_view authzid = data.substr(0, a);
  std::string_view user = data.substr(a + 1, b - a - 1);
  std::string_view password = data.substr(b + 1);
  const bool ok = !user.empty() && (authzid.empty() || authzid == user) &&
                  hooks_.check_password(user, password);
  return ok ? Outcome::kOk : Outcome::kFail;
}

}  // namespace memshield::engine
