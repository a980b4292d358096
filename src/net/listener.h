// Opening listening sockets: TCP on IPv4/IPv6 addresses and Unix domain sockets. Parses the
// -l address syntax ("addr", "addr:port", "[v6]:port").
#pragma once

#include <string>
#include <vector>

namespace memshield::net {

class SecureChannelFactory;

struct ListenSocket {
  int fd = -1;
  std::string address;   // "tcp:127.0.0.1:11211", "unix:/tmp/m.sock"
  bool loopback = true;  // false if reachable from other hosts
  bool udp = false;
  SecureChannelFactory* secure = nullptr;
  int port = 0;       // as bound (an ephemeral port's real number); 0 for unix sockets
  bool ipv6 = false;  // set: connections accepted here speak TLS
};

struct ListenResult {
  std::vector<ListenSocket> sockets;
  std::string error;  // empty on success
};

// Binds TCP listeners for each spec ("addr" uses default_port). A spec that names a host
// resolves to every address of it.
ListenResult listen_tcp(const std::vector<std::string>& specs, int default_port, int backlog);
// Binds UDP sockets on the same address syntax, all on `port`.
ListenResult listen_udp(const std::vector<std::string>& specs, int port);
ListenResult listen_unix(const std::string& path, int mask, int backlog);

}  // namespace memshield::net
