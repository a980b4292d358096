// See sasl_auth.h.
#include "server/sasl_auth.h"

#include "security/sasl_cyrus.h"

namespace memshield::server {
namespace {

class CyrusSession final : public engine::SaslSession {
 public:
  Outcome start(std::string_view mech, std::string_view data, std::string* challenge) override {
    return map(conv_.start(mech, data, challenge));
  }
  Outcome step(std::string_view data, std::string* challenge) override {
    return map(conv_.step(data, challenge));
  }

 private:
  static Outcome map(security::CyrusConversation::Result r) {
    switch (r) {
      case security::CyrusConversation::Result::kOk: return Outcome::kOk;
      case security::CyrusConversation::Result::kContinue: return Outcome::kContinue;
      case security::CyrusConversation::Result::kFail: break;
    }
    return Outcome::kFail;
  }
  security::CyrusConversation conv_;
};

}  // namespace

bool SaslAuth::init(const std::string& pwdb_path, std::string* error) {
  if (!pwdb_path.empty()) return pwdb_.load(pwdb_path, error);
  cyrus_ = true;
  if (!security::cyrus_sasl_init(error)) return false;
  mechanisms_ = security::cyrus_sasl_mechanisms();
  return true;
}

std::unique_ptr<engine::SaslSession> SaslAuth::new_session() const {
  if (!cyrus_) return nullptr;
  return std::make_unique<CyrusSession>();
}

}  // namespace memshield::server
