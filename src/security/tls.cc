// See tls.h. Every OpenSSL failure is turned into one line of text here, and the thread's error
// queue is emptied after it: SSL_get_error() is only reliable with an empty queue, and a worker
// thread serves many connections.
#include "security/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>

namespace memshield::security {
namespace {

constexpr unsigned char kSessionIdContext[] = "memshield";

// The oldest error in the queue as OpenSSL prints it ("error:8000000D:system library::Permission
// denied"), as memcached reports it; then the queue is emptied.
std::string take_error() {
  unsigned long e = ERR_get_error();
  std::string text;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    text = buf;
  } else {
    text = "unknown error";
  }
  ERR_clear_error();
  return text;
}

std::string shown(const std::string& path) { return path.empty() ? "(null)" : path; }

}  // namespace

const char* tls_version_name(int min_version) {
  static constexpr const char* kNames[] = {"tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"};
  return min_version >= 0 && min_version <= 3 ? kNames[min_version] : "unknown";
}

int tls_version_number(const std::string& name) {
  for (int v = 0; v <= 3; ++v) {
    if (name == tls_version_name(v)) return v;
  }
  return -1;
}

std::shared_ptr<TlsContext> TlsContext::create(const TlsOptions& o, std::string* error) {
  ERR_clear_error();
  if (o.chain_cert.empty()) {
    *error = "Error loading the certificate chain: (null) : no file given (-o ssl_chain_cert=FILE)";
    return nullptr;
  }
  static constexpr int kVersions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};
  if (o.min_version < 0 || o.min_version > 3) {
    *error = "could not parse argument to ssl_min_version";
    return nullptr;
  }
  if (o.verify_mode < 0 || o.verify_mode > 3) {
    *error = "Invalid ssl_verify_mode. Use help to see valid options.";
    return nullptr;
  }
  SSL_CTX* raw = SSL_CTX_new(TLS_server_method());
  if (raw == nullptr) {
    *error = "Failed to create the SSL context: " + take_error();
    return nullptr;
  }
  std::shared_ptr<TlsContext> ctx(new TlsContext(raw));
  if (!SSL_CTX_set_min_proto_version(raw, kVersions[o.min_version])) {
    *error = "Error setting the minimum TLS version: " + take_error();
    return nullptr;
  }
  // Partial and moving writes: the output buffer is written a block at a time and may grow
  // between a WANT_WRITE and the retry. Released buffers: an idle connection holds none.
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  // No renegotiation (a client-driven CPU sink); a peer that closes without close_notify is an
  // ordinary close, not an error.
  SSL_CTX_set_options(raw, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  // memcached's default: no server-side session cache. Tickets still allow resumption; a
  // session id context is needed for it to work with client certificates.
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(raw, kSessionIdContext, sizeof(kSessionIdContext) - 1);

  if (SSL_CTX_use_certificate_chain_file(raw, o.chain_cert.c_str()) != 1) {
    *error = "Error loading the certificate chain: " + o.chain_cert + " : " + take_error();
    return nullptr;
  }
  const std::string& key = o.key.empty() ? o.chain_cert : o.key;
  if (SSL_CTX_use_PrivateKey_file(raw, key.c_str(), o.key_format) != 1) {
    *error = "Error loading the key: " + shown(o.key) + " : " + take_error();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(raw) != 1) {
    *error = "Error validating the certificate: " + shown(o.key) + " : " + take_error();
    return nullptr;
  }
  if (!o.ca_cert.empty()) {
    if (SSL_CTX_load_verify_locations(raw, o.ca_cert.c_str(), nullptr) != 1) {
      *error = "Error loading the CA certificate: " + o.ca_cert + " : " + take_error();
      return nullptr;
    }
    // The CA names sent in the CertificateRequest, so a client can pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.ca_cert.c_str());
    if (names == nullptr) {
      *error = "Error loading the CA certificate: " + o.ca_cert + " : " + take_error();
      return nullptr;
    }
    SSL_CTX_set_client_CA_list(raw, names);
  }
  int mode = SSL_VERIFY_NONE;
  switch (o.verify_mode) {
    case 1:
      mode = SSL_VERIFY_PEER;
      break;
    case 2:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
      break;
    case 3:
      mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE;
      break;
    default:
      break;
  }
  SSL_CTX_set_verify(raw, mode, nullptr);
  if (!o.ciphers.empty() && SSL_CTX_set_cipher_list(raw, o.ciphers.c_str()) != 1) {
    ERR_clear_error();
    *error = "Error setting the provided cipher(s): " + o.ciphers;
    return nullptr;
  }
  ERR_clear_error();
  return ctx;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

std::unique_ptr<TlsStream> TlsStream::create(const TlsContext& ctx, int fd) {
  SSL* ssl = SSL_new(ctx.native());
  if (ssl == nullptr) {
    ERR_clear_error();
    return nullptr;
  }
  std::unique_ptr<TlsStream> s(new TlsStream(ssl));
  if (SSL_set_fd(ssl, fd) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return s;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Status TlsStream::status_of(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return Status::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Status::kClosed;
    case SSL_ERROR_SYSCALL:
      broken_ = true;
      if (ERR_peek_error() == 0) {
        error_ = errno != 0 ? strerror(errno) : "connection closed by peer";
        return Status::kClosed;
      }
      error_ = take_error();
      return Status::kError;
    default:
      broken_ = true;
      error_ = take_error();
      return Status::kError;
  }
}

TlsStream::Status TlsStream::handshake() {
  ERR_clear_error();
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return Status::kOk;
  Status s = status_of(r);
  if (s == Status::kError) {
    long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      error_ += std::string(" (client certificate: ") + X509_verify_cert_error_string(verify) + ")";
    }
  }
  return s;
}

TlsStream::Status TlsStream::read(char* buf, size_t len, size_t* got) {
  ERR_clear_error();
  if (SSL_read_ex(ssl_, buf, len, got) == 1) return Status::kOk;
  return status_of(0);
}

TlsStream::Status TlsStream::write(const char* buf, size_t len, size_t* put) {
  ERR_clear_error();
  if (SSL_write_ex(ssl_, buf, len, put) == 1) return Status::kOk;
  return status_of(0);
}

bool TlsStream::pending() const { return SSL_pending(ssl_) > 0; }

void TlsStream::shutdown() {
  if (broken_ || !SSL_is_init_finished(ssl_)) return;
  broken_ = true;  // once
  ERR_clear_error();
  SSL_shutdown(ssl_);  // non-blocking: sends close_notify if the socket takes it, never waits
  ERR_clear_error();
}

const char* TlsStream::version() const { return SSL_get_version(ssl_); }

}  // namespace memshield::security
