// See sasl_cyrus.h.
#include "security/sasl_cyrus.h"

#include <netdb.h>
#include <sasl/sasl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/log.h"

namespace memshield::security {
namespace {

constexpr const char* kAppName = "memcached";

// Where memcached.conf lives: $SASL_CONF_PATH, else the first of memcached's two usual places
// that holds one, else libsasl2's own default.
int get_conf_path(void* /*context*/, const char** path) {
  static std::string found;
  if (const char* env = getenv("SASL_CONF_PATH"); env != nullptr && *env != '\0') {
    *path = env;
    return SASL_OK;
  }
  for (const char* dir : {"/etc/sasl", "/etc/sasl2"}) {
    std::string conf = std::string(dir) + "/" + kAppName + ".conf";
    if (access(conf.c_str(), F_OK) == 0) {
      found = dir;
      *path = found.c_str();
      return SASL_OK;
    }
  }
  *path = "/etc/sasl2";
  return SASL_OK;
}

// libsasl2's messages (filtered by the log_level of memcached.conf) with -v: a peer can cause
// them, so they must not flood a quiet server's log.
int log_message(void* /*context*/, int level, const char* message) {
  MS_LOG(1, "SASL (severity %d): %s", level, message);
  return SASL_OK;
}

// libsasl2 stores every callback as int (*)(void); void (*)(void) is the type GCC lets any
// function pointer pass through without a warning.
template <typename F>
int (*as_callback(F* fn))() {
  return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(fn));
}

const sasl_callback_t kCallbacks[] = {
    {SASL_CB_GETCONFPATH, as_callback(&get_conf_path), nullptr},
    {SASL_CB_LOG, as_callback(&log_message), nullptr},
    {SASL_CB_LIST_END, nullptr, nullptr},
};

// The server's fully qualified name, which libsasl2 would otherwise look up (uname, then the
// resolver: /etc/hosts, perhaps DNS) for every new connection: found once here, before the
// sandbox, the way libsasl2 finds it (the host name's canonical name, else the host name). It is
// also the default realm, as saslpasswd2 without -u uses it.
std::string& server_fqdn() {
  static std::string fqdn;
  return fqdn;
}

void find_server_fqdn() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) return;
  server_fqdn() = host;
  addrinfo hints{};
  hints.ai_flags = AI_CANONNAME;
  addrinfo* res = nullptr;
  if (getaddrinfo(host, nullptr, &hints, &res) == 0) {
    if (res != nullptr && res->ai_canonname != nullptr) server_fqdn() = res->ai_canonname;
    freeaddrinfo(res);
  }
}

const char* fqdn_or_null() { return server_fqdn().empty() ? nullptr : server_fqdn().c_str(); }

}  // namespace

bool cyrus_sasl_init(std::string* error) {
  int rc = sasl_server_init(kCallbacks, kAppName);
  if (rc != SASL_OK) {
    *error = sasl_errstring(rc, nullptr, nullptr);
    return false;
  }
  find_server_fqdn();
  return true;
}

std::string cyrus_sasl_mechanisms() {
  sasl_conn_t* conn = nullptr;
  if (sasl_server_new(kAppName, fqdn_or_null(), nullptr, nullptr, nullptr, nullptr, 0, &conn) !=
      SASL_OK) {
    return "";
  }
  const char* list = nullptr;
  unsigned len = 0;
  int count = 0;
  std::string out;
  if (sasl_listmech(conn, nullptr, "", " ", "", &list, &len, &count) == SASL_OK) {
    out.assign(list, len);
  }
  sasl_dispose(&conn);
  return out;
}

CyrusConversation::~CyrusConversation() {
  if (conn_ != nullptr) sasl_dispose(&conn_);
}

bool CyrusConversation::ensure_conn() {
  if (conn_ != nullptr) return true;
  return sasl_server_new(kAppName, fqdn_or_null(), nullptr, nullptr, nullptr, nullptr, 0, &conn_) ==
         SASL_OK;
}

CyrusConversation::Result CyrusConversation::finish(int rc, const char* out, unsigned out_len,
                                                    std::string* challenge) {
  if (rc == SASL_OK) return Result::kOk;
  if (rc == SASL_CONTINUE) {
    challenge->assign(out != nullptr ? out : "", out != nullptr ? out_len : 0);
    return Result::kContinue;
  }
  return Result::kFail;
}

CyrusConversation::Result CyrusConversation::start(std::string_view mech, std::string_view data,
                                                   std::string* challenge) {
  if (!ensure_conn()) return Result::kFail;
  const std::string name(mech);  // libsasl2 wants it NUL-terminated
  const char* out = nullptr;
  unsigned out_len = 0;
  // No data is no initial response (PLAIN then asks for one), as memcached passes it.
  int rc = sasl_server_start(conn_, name.c_str(), data.empty() ? nullptr : data.data(),
                             static_cast<unsigned>(data.size()), &out, &out_len);
  started_ = rc == SASL_OK || rc == SASL_CONTINUE;
  return finish(rc, out, out_len, challenge);
}

CyrusConversation::Result CyrusConversation::step(std::string_view data, std::string* challenge) {
  if (!started_ || !ensure_conn()) return Result::kFail;
  const char* out = nullptr;
  unsigned out_len = 0;
  int rc = sasl_server_step(conn_, data.data(), static_cast<unsigned>(data.size()), &out, &out_len);
  return finish(rc, out, out_len, challenge);
}

}  // namespace memshield::security
