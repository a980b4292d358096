// --max-conns-per-source: how many TCP connections one IP address may hold. The check runs at
// accept (Server::admit), before a byte is sent; each admitted connection is counted for as
// long as its session lives. Two workers accepting from one address at the same instant can
// each pass the check, so the limit may be overshot by at most (worker threads - 1).
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/session.h"
#include "security/ip_address.h"

namespace memshield::server {

class SourceLimit {
 public:
  explicit SourceLimit(int max_per_source) : max_(max_per_source) {}
  bool enabled() const { return max_ > 0; }
  // Whether `ip` may open one more connection.
  bool allows(const security::IpAddress& ip) const;
  // Counts `session` against its peer's address until it is destroyed. Sessions without an IP
  // address (unix sockets) are returned as they are.
  std::unique_ptr<net::Session> track(std::unique_ptr<net::Session> session,
                                      const sockaddr_storage& peer);
  int count(const security::IpAddress& ip) const;

 private:
  class Tracked;
  static std::string key(const security::IpAddress& ip);
  void remove(const std::string& key);

  const int max_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, int> count_;
};

}  // namespace memshield::server
