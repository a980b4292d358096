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

// Where a connection is in its request cycle, for `stats conns` (memcached's state names).
// Written by the connection's worker as it goes, read by any stats request.
enum class ConnState : uint8_t {
  kRead,      // conn_read: waiting for (the rest of) a command line
  kParseCmd,  // conn_parse_cmd: its worker is executing its requests right now
  kNread,     // conn_nread: a value (or a refused one being discarded) is still arriving
  kWrite,     // conn_mwrite: answers wait for the client to read them
  kClosing,   // conn_closing: closes once its answers are sent
};

inline const char* conn_state_name(ConnState s) {
  switch (s) {
    case ConnState::kRead:
      return "conn_read";
    case ConnState::kParseCmd:
      return "conn_parse_cmd";
    case ConnState::kNread:
      return "conn_nread";
    case ConnState::kWrite:
      return "conn_mwrite";
    case ConnState::kClosing:
      return "conn_closing";
  }
  return "conn_read";
}

struct ConnInfo {
  enum class Kind : uint8_t { kClient, kListener, kUdp };
  std::string address;
  std::string listen_address;
  bool listening = false;  // kListener or kUdp
  const std::atomic<RelTime>* last_active = nullptr;
  const std::atomic<ConnState>* state = nullptr;  // clients only
  Kind kind = Kind::kClient;
  RelTime since = 0;  // listeners: when they were opened (their secs_since_last_cmd)
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
