// -Z: joins security's TLS context to the network layer. Loads the certificates named by the
// ssl_* options, wraps every connection accepted on a TLS listener, and reloads the
// certificates (SIGHUP, `refresh_certs`) by swapping in a new context for new connections.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "net/secure_channel.h"
#include "security/tls.h"
#include "server/settings.h"

namespace memshield::server {

// The TLS options given on the command line (-o ssl_*).
security::TlsOptions tls_options(const Settings& s);

class TlsService final : public net::SecureChannelFactory {
 public:
  TlsService(const security::TlsOptions& options, const Clock& clock)
      : options_(options), clock_(clock) {}

  // Builds a context from the files now on disk and makes it the one new connections get. On
  // failure the previous context stays and *error is memcached's message for it.
  bool reload(std::string* error);
  // Seconds since the certificates were last (re)loaded.
  uint64_t seconds_since_refresh() const {
    return clock_.now() - refreshed_.load(std::memory_order_relaxed);
  }

  std::unique_ptr<net::SecureChannel> wrap(int fd) override;

 private:
  const security::TlsOptions options_;
  const Clock& clock_;
  security::TlsContextSlot slot_;
  std::mutex reload_mu_;  // one reload at a time (SIGHUP and refresh_certs may race)
  std::atomic<RelTime> refreshed_{0};
};

}  // namespace memshield::server
