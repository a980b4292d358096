// Cyrus SASL (libsasl2) as memcached 1.6 uses it for -S: application name "memcached", so the
// mechanisms and the user database come from memcached.conf (mech_list, sasldb_path, ...) found
// through $SASL_CONF_PATH, else /etc/sasl/memcached.conf or /etc/sasl2/memcached.conf.
// cyrus_sasl_init() loads the plugins (dlopen) and must run before any thread or sandbox.
#pragma once

#include <string>
#include <string_view>

typedef struct sasl_conn sasl_conn_t;

namespace memshield::security {

// Once per process. False with *error set when libsasl2 cannot start.
bool cyrus_sasl_init(std::string* error);
// The mechanisms a connection is offered, space separated (sasl_listmech); empty on failure.
std::string cyrus_sasl_mechanisms();

// One connection's conversation; the libsasl2 context is created at first use.
class CyrusConversation {
 public:
  enum class Result { kOk, kContinue, kFail };
  CyrusConversation() = default;
  ~CyrusConversation();
  CyrusConversation(const CyrusConversation&) = delete;
  CyrusConversation& operator=(const CyrusConversation&) = delete;

  Result start(std::string_view mech, std::string_view data, std::string* challenge);
  Result step(std::string_view data, std::string* challenge);

 private:
  bool ensure_conn();
  Result finish(int rc, const char* out, unsigned out_len, std::string* challenge);
  sasl_conn_t* conn_ = nullptr;
  bool started_ = false;  // a mechanism was started (libsasl2 crashes on a step without one)
};

}  // namespace memshield::security
