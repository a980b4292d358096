// What every session shares: the store, the clock, the server's hooks for commands that reach
// beyond one connection (stats, shutdown), and the settings that change command behaviour.
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/out_buffer.h"
#include "engine/ascii_auth.h"
#include "engine/prefix_stats.h"
#include "engine/sasl_session.h"
#include "engine/watch_log.h"
#include "store/store.h"

namespace memshield::engine {

// Implemented by the server, which alone knows connections, threads and settings.
class Hooks {
 public:
  virtual ~Hooks() = default;
  // Appends the whole answer to `stats <args>` (ending in END, or an error line).
  virtual void stats(std::string_view args, OutBuffer& out) = 0;
  virtual void shutdown(bool graceful) = 0;
  // memshield's own commands ("shield ..."); `peer` is the client's address, null when it has
  // none (unix sockets). Appends the whole answer.
  virtual void shield(std::string_view args, const sockaddr_storage* peer, OutBuffer& out) = 0;
  // -S: whether the binary protocol's SASL PLAIN credentials are valid. Default: nobody's are.
  virtual bool check_password(std::string_view user, std::string_view password) { return false; }
  // -S: a new connection's SASL conversation; null means PLAIN through check_password().
  virtual std::unique_ptr<SaslSession> new_sasl_session() { return nullptr; }
  // -S: the answer to SASL_LIST_MECHS (space separated).
  virtual std::string sasl_mechanisms() { return "PLAIN"; }
  // `lru_crawler <args>` (all but metadump, which the session streams) and `lru <args>`:
  // appends the whole answer.
  virtual void lru_crawler(std::string_view args, OutBuffer& out) { out.append("ERROR\r\n"); }
  virtual void lru(std::string_view args, OutBuffer& out) { out.append("ERROR\r\n"); }
  // Whether `lru_crawler metadump` may run now: empty if so, else the line to answer instead
  // (no CRLF), as memcached refuses it with the crawler off or with -X.
  virtual std::string_view metadump_refusal() { return {}; }
  // `refresh_certs`: reloads the TLS certificates. False with the line to answer (no CRLF).
  virtual bool refresh_certs(std::string* error) {
    *error = "Error TLS not enabled";
    return false;
  }
};

struct Options {
  bool flush_enabled = true;     // -F turns flush_all off
  bool shutdown_command = false; // -A turns shutdown on
  bool require_auth = false;     // -S: binary requests need SASL authentication first
  std::string_view version = "1.6.18";
};

struct Context {
  store::Store* store = nullptr;
  const Clock* clock = nullptr;
  Hooks* hooks = nullptr;
  // -Y: set, every text connection must authenticate before any other command.
  const Authenticator* ascii_auth = nullptr;
  // `stats detail`: per-prefix counters (null: never collected).
  PrefixStats* detail = nullptr;
  // `watch`: the event log (null: watch answers as with -W).
  EventLog* events = nullptr;
  Options options;
};

}  // namespace memshield::engine
