// See tls_service.h. The channel is a thin adapter from security::TlsStream to the network
// layer's SecureChannel: a virtual call per read or write, never per byte.
#include "server/tls_service.h"

#include "common/log.h"

namespace memshield::server {
namespace {

net::SecureChannel::Status convert(security::TlsStream::Status s) {
  switch (s) {
    case security::TlsStream::Status::kOk:
      return net::SecureChannel::Status::kOk;
    case security::TlsStream::Status::kWantRead:
      return net::SecureChannel::Status::kWantRead;
    case security::TlsStream::Status::kWantWrite:
      return net::SecureChannel::Status::kWantWrite;
    case security::TlsStream::Status::kClosed:
      return net::SecureChannel::Status::kClosed;
    case security::TlsStream::Status::kError:
      break;
  }
  return net::SecureChannel::Status::kError;
}

class TlsChannel final : public net::SecureChannel {
 public:
  explicit TlsChannel(std::unique_ptr<security::TlsStream> stream) : stream_(std::move(stream)) {}
  Status handshake() override { return convert(stream_->handshake()); }
  Status read(char* buf, size_t len, size_t* n) override {
    return convert(stream_->read(buf, len, n));
  }
  Status write(const char* buf, size_t len, size_t* n) override {
    return convert(stream_->write(buf, len, n));
  }
  bool pending() const override { return stream_->pending(); }
  void shutdown() override { stream_->shutdown(); }
  std::string error() const override { return stream_->error(); }

 private:
  std::unique_ptr<security::TlsStream> stream_;
};

}  // namespace

security::TlsOptions tls_options(const Settings& s) {
  security::TlsOptions o;
  o.chain_cert = s.ssl_chain_cert;
  o.key = s.ssl_key;
  o.key_format = s.ssl_keyformat;
  o.ca_cert = s.ssl_ca_cert;
  o.verify_mode = s.ssl_verify_mode;
  o.min_version = security::tls_version_number(s.ssl_min_version);
  o.ciphers = s.ssl_ciphers;
  return o;
}

bool TlsService::reload(std::string* error) {
  std::lock_guard<std::mutex> g(reload_mu_);
  std::shared_ptr<security::TlsContext> fresh = security::TlsContext::create(options_, error);
  if (fresh == nullptr) return false;
  slot_.set(std::move(fresh));
  refreshed_.store(clock_.now(), std::memory_order_relaxed);
  return true;
}

std::unique_ptr<net::SecureChannel> TlsService::wrap(int fd) {
  std::shared_ptr<security::TlsContext> ctx = slot_.get();
  if (ctx == nullptr) return nullptr;
  std::unique_ptr<security::TlsStream> stream = security::TlsStream::create(*ctx, fd);
  if (stream == nullptr) return nullptr;
  return std::make_unique<TlsChannel>(std::move(stream));
}

}  // namespace memshield::server
