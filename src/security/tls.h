// TLS with OpenSSL 3 (-Z): a server context built from memcached's ssl_* options, a slot that
// swaps the context whole on a certificate reload (connections keep the one they started with),
// and the per-connection stream that runs the handshake and moves bytes over a non-blocking
// socket. No sockets are opened here and nothing here knows about connections or commands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

struct ssl_ctx_st;  // OpenSSL's SSL_CTX
struct ssl_st;      // OpenSSL's SSL

namespace memshield::security {

// memcached's -o ssl_* options, with its numbering.
struct TlsOptions {
  std::string chain_cert;  // ssl_chain_cert: PEM chain, server certificate first
  std::string key;         // ssl_key: private key; empty: taken from chain_cert
  int key_format = 1;      // ssl_keyformat: 1 PEM, 2 DER (OpenSSL's SSL_FILETYPE_* numbers)
  std::string ca_cert;     // ssl_ca_cert: PEM file of CAs that sign client certificates
  int verify_mode = 0;     // ssl_verify_mode: 0 none, 1 request, 2 require, 3 once
  int min_version = 2;     // ssl_min_version: 0 TLS 1.0, 1 TLS 1.1, 2 TLS 1.2, 3 TLS 1.3
  std::string ciphers;     // ssl_ciphers: OpenSSL cipher list for TLS <= 1.2; empty: default
};

// The ssl_min_version name memcached prints in `stats settings` ("tlsv1.2") for 0..3, and back.
const char* tls_version_name(int min_version);
int tls_version_number(const std::string& name);  // -1 if unknown

// An immutable server SSL_CTX. OpenSSL reference-counts it, so connections opened from one stay
// valid after the context is replaced and released.
class TlsContext {
 public:
  // Loads certificates and key and applies the options. On failure returns null and sets
  // *error to memcached's wording ("Error loading the key: <file> : <OpenSSL reason>").
  static std::shared_ptr<TlsContext> create(const TlsOptions& options, std::string* error);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  ssl_ctx_st* native() const { return ctx_; }

 private:
  explicit TlsContext(ssl_ctx_st* ctx) : ctx_(ctx) {}
  ssl_ctx_st* ctx_;
};

// The context new connections get. Readers (accepting threads) and the reloader may run
// concurrently; a reader copies the pointer under a short lock.
class TlsContextSlot {
 public:
  std::shared_ptr<TlsContext> get() const {
    std::lock_guard<std::mutex> g(mu_);
    return ctx_;
  }
  void set(std::shared_ptr<TlsContext> ctx) {
    std::lock_guard<std::mutex> g(mu_);
    ctx_.swap(ctx);
  }  // the old context is released outside the lock, by `ctx` going out of scope

 private:
  mutable std::mutex mu_;
  std::shared_ptr<TlsContext> ctx_;
};

// One server-side TLS connection over a non-blocking socket it does not own.
class TlsStream {
 public:
  enum class Status : uint8_t {
    kOk,         // done (bytes moved, handshake finished)
    kWantRead,   // call again when the socket is readable
    kWantWrite,  // call again when the socket is writable
    kClosed,     // the peer closed the connection (close_notify or EOF)
    kError,      // protocol or socket error: close the connection; error() says why
  };

  // Null if OpenSSL cannot allocate the connection.
  static std::unique_ptr<TlsStream> create(const TlsContext& ctx, int fd);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  Status handshake();
  // Decrypted bytes into buf; *got is set on kOk (at least 1).
  Status read(char* buf, size_t len, size_t* got);
  // Encrypts from buf; *put is set on kOk (at least one record's worth, maybe less than len).
  // After kWantWrite, call again with the same bytes (the buffer may have moved or grown).
  Status write(const char* buf, size_t len, size_t* put);
  // Decrypted bytes OpenSSL holds that the socket will not signal again.
  bool pending() const;
  // Sends close_notify once, without waiting for the peer's; skipped after an error.
  void shutdown();
  // Why the last kError happened (OpenSSL's reason text).
  const std::string& error() const { return error_; }
  // "TLSv1.3" etc., for logs.
  const char* version() const;

 private:
  explicit TlsStream(ssl_st* ssl) : ssl_(ssl) {}
  Status status_of(int ok);

  ssl_st* ssl_;
  bool broken_ = false;  // a fatal error happened: no close_notify
  std::string error_;
};

}  // namespace memshield::security
