// -S: which SASL back end serves the binary protocol's SASL commands. A password file
// (--sasl-pwdb or $MEMCACHED_SASL_PWDB, memcached's --enable-sasl-pwdb build) gives PLAIN against
// its user:password lines; otherwise Cyrus SASL as Debian's memcached uses it (memcached.conf
// through $SASL_CONF_PATH: mech_list, sasldb_path). Chosen once at start-up, before any thread.
#pragma once

#include <memory>
#include <string>

#include "engine/sasl_session.h"
#include "security/sasl_pwdb.h"

namespace memshield::server {

class SaslAuth {
 public:
  // `pwdb_path`: --sasl-pwdb, else $MEMCACHED_SASL_PWDB, else empty (Cyrus). False with *error.
  bool init(const std::string& pwdb_path, std::string* error);
  bool uses_cyrus() const { return cyrus_; }
  bool check_password(std::string_view user, std::string_view password) const {
    return !cyrus_ && pwdb_.check(user, password);
  }
  // Null in password-file mode (the engine's PLAIN then asks check_password()).
  std::unique_ptr<engine::SaslSession> new_session() const;
  const std::string& mechanisms() const { return mechanisms_; }

 private:
  bool cyrus_ = false;
  security::PasswordDb pwdb_;
  std::string mechanisms_ = "PLAIN";
};

}  // namespace memshield::server
