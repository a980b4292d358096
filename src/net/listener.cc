// See listener.h.
#include "net/listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace memshield::net {
namespace {

std::string format_address(const sockaddr* sa) {
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    port = ntohs(in->sin_port);
    return "tcp:" + std::string(host) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
  port = ntohs(in6->sin6_port);
  return "tcp6:[" + std::string(host) + "]:" + std::to_string(port);
}

bool is_loopback(const sockaddr* sa) {
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
}

// Splits "host", "host:port", "[v6]:port", "v6" into host and port.
bool split_spec(const std::string& spec, int default_port, std::string* host, int* port) {
  *port = default_port;
  if (!spec.empty() && spec[0] == '[') {
    size_t close = spec.find(']');
    if (close == std::string::npos) return false;
    *host = spec.substr(1, close - 1);
    if (close + 1 < spec.size()) {
      if (spec[close + 1] != ':') return false;
      *port = atoi(spec.c_str() + close + 2);
    }
    return true;
  }
  size_t colon = spec.find(':');
  if (colon != std::string::npos && spec.find(':', colon + 1) == std::string::npos) {
    *host = spec.substr(0, colon);
    *port = atoi(spec.c_str() + colon + 1);
    return true;
  }
  *host = spec;  // a bare IPv6 address or a plain host
  return true;
}

}  // namespace

namespace {
ListenResult listen_inet(const std::vector<std::string>& specs, int default_port, int backlog,
                         bool udp);
}  // namespace

ListenResult listen_tcp(const std::vector<std::string>& specs, int default_port, int backlog) {
  return listen_inet(specs, default_port, backlog, false);
}

ListenResult listen_udp(const std::vector<std::string>& specs, int port) {
  // The UDP port is fixed by -U; an "addr:port" spec's port is the TCP one.
  std::vector<std::string> hosts;
  for (const std::string& spec : specs) {
    std::string host;
    int ignored = 0;
    if (!split_spec(spec, port, &host, &ignored)) {
      ListenResult r;
      r.error = "bad listen address '" + spec + "'";
      return r;
    }
    hosts.push_back(host.find(':') != std::string::npos ? "[" + host + "]" : host);
  }
  return listen_inet(hosts, port, 0, true);
}

namespace {
ListenResult listen_inet(const std::vector<std::string>& specs, int default_port, int backlog,
                         bool udp) {
  ListenResult res;
  for (const std::string& spec : specs) {
    std::string host;
    int port = 0;
    if (!split_spec(spec, default_port, &host, &port) || port < 0 || port > 65535) {
      res.error = "bad listen address '" + spec + "'";
      return res;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* ai = nullptr;
    std::string port_str = std::to_string(port);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port_str.c_str(), &hints, &ai);
    if (rc != 0) {
      res.error = "cannot resolve listen address '" + spec + "': " + gai_strerror(rc);
      return res;
    }
    for (addrinfo* p = ai; p != nullptr; p = p->ai_next) {
      int fd = socket(p->ai_family, p->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (p->ai_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
      if (udp) {
        int buf = 4 << 20;  // absorb bursts: requests between wake-ups, multi-datagram answers
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
      }
      if (bind(fd, p->ai_addr, p->ai_addrlen) != 0 || (!udp && listen(fd, backlog) != 0)) {
        int err = errno;
        close(fd);
        // An address family this host lacks (no IPv6) is not fatal; anything else is.
        if (err == EADDRNOTAVAIL || err == EAFNOSUPPORT) continue;
        res.error = "cannot listen on " + format_address(p->ai_addr) + ": " + strerror(err);
        freeaddrinfo(ai);
        return res;
      }
      sockaddr_storage bound{};
      socklen_t len = sizeof(bound);
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      std::string name = format_address(reinterpret_cast<sockaddr*>(&bound));
      if (udp) name = "udp" + name.substr(3);  // "tcp:1.2.3.4:5" -> "udp:1.2.3.4:5"
      ListenSocket ls{fd, name, is_loopback(p->ai_addr), udp};
      ls.ipv6 = bound.ss_family == AF_INET6;
      ls.port = ls.ipv6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                        : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
      res.sockets.push_back(std::move(ls));
    }
    freeaddrinfo(ai);
  }
  if (res.sockets.empty() && res.error.empty()) res.error = "no address to listen on";
  return res;
}
}  // namespace

ListenResult listen_unix(const std::string& path, int mask, int backlog) {
  ListenResult res;
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    res.error = "unix socket path too long: " + path;
    return res;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    res.error = std::string("socket(AF_UNIX): ") + strerror(errno);
    return res;
  }
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());  // a stale socket from a previous run
  mode_t old = umask(~mask & 0777);
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc != 0 || listen(fd, backlog) != 0) {
    res.error = "cannot listen on unix:" + path + ": " + strerror(errno);
    close(fd);
    return res;
  }
  res.sockets.push_back({fd, "unix:" + path, true});
  return res;
}

}  // namespace memshield::net
