// Per-source connection counting; see source_limit.h.
#include "server/source_limit.h"

#include <utility>

namespace memshield::server {

// Forwards to the real session and gives its address's slot back when the connection closes.
class SourceLimit::Tracked final : public net::Session {
 public:
  Tracked(SourceLimit* owner, std::string key, std::unique_ptr<net::Session> inner)
      : owner_(owner), key_(std::move(key)), inner_(std::move(inner)) {}
  ~Tracked() override { owner_->remove(key_); }
  Result on_input(std::string_view in, OutBuffer& out) override {
    return inner_->on_input(in, out);
  }
  bool at_request_boundary() const override { return inner_->at_request_boundary(); }

 private:
  SourceLimit* const owner_;
  const std::string key_;
  std::unique_ptr<net::Session> inner_;
};

std::string SourceLimit::key(const security::IpAddress& ip) {
  return std::string(reinterpret_cast<const char*>(ip.bytes), ip.size());
}

bool SourceLimit::allows(const security::IpAddress& ip) const {
  return !enabled() || count(ip) < max_;
}

int SourceLimit::count(const security::IpAddress& ip) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = count_.find(key(ip));
  return it == count_.end() ? 0 : it->second;
}

std::unique_ptr<net::Session> SourceLimit::track(std::unique_ptr<net::Session> session,
                                                 const sockaddr_storage& peer) {
  security::IpAddress ip;
  if (!enabled() || !security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), &ip)) {
    return session;
  }
  std::string k = key(ip);
  {
    std::lock_guard<std::mutex> g(mu_);
    ++count_[k];
  }
  return std::make_unique<Tracked>(this, std::move(k), std::move(session));
}

void SourceLimit::remove(const std::string& k) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = count_.find(k);
  if (it != count_.end() && --it->second <= 0) count_.erase(it);
}

}  // namespace memshield::server
