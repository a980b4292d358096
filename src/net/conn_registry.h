// The list of open connections for `stats conns`: written at connect and close (rare), read by
// a stats request. Each worker updates a connection's last-activity time without the lock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace memshield::net {

struct ConnInfo {
  std::string address;
  std::string listen_address;
  bool listening = false;
  const std::atomic<RelTime>* last_active = nullptr;
};

class ConnRegistry {
 public:
  void add(int fd, ConnInfo info) {
    std::lock_guard<std::mutex> g(mu_);
    conns_[fd] = std::move(info);
  }
  void remove(int fd) {
    std::lock_guard<std::mutex> g(mu_);
    conns_.erase(fd);
  }
  void for_each(const std::function<void(int, const ConnInfo&)>& f) const {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& [fd, info] : conns_) f(fd, info);
  }

 private:
  mutable std::mutex mu_;
  std::map<int, ConnInfo> conns_;
};

}  // namespace memshield::net
