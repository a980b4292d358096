// See metrics_http.h. Blocking I/O with short timeouts keeps it simple and bounded: a scraper
// that stalls holds the endpoint for at most kIoTimeoutMs, and no request can make it allocate
// more than kMaxRequest bytes.
#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"

namespace memshield::server {
namespace {

constexpr size_t kMaxRequest = 8192;
constexpr int kIoTimeoutMs = 2000;
constexpr int kAcceptPollMs = 250;  // how quickly stop() is noticed

void set_timeouts(int fd) {
  timeval tv{kIoTimeoutMs / 1000, (kIoTimeoutMs % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string response(std::string_view status, std::string_view type, std::string_view body) {
  std::string r = "HTTP/1.0 ";
  r += status;
  r += "\r\nContent-Type: ";
  r += type;
  r += "\r\nContent-Length: " + std::to_string(body.size());
  r += "\r\nConnection: close\r\n\r\n";
  r += body;
  return r;
}

}  // namespace

bool parse_metrics_address(std::string_view spec, sockaddr_storage* out, std::string* error) {
  std::string addr = "127.0.0.1";
  std::string_view port_text = spec;
  if (!spec.empty() && spec[0] == '[') {
    size_t close = spec.find("]:");
    if (close == std::string_view::npos) {
      *error = "--metrics: expected [IPV6]:PORT, not '" + std::string(spec) + "'";
      return false;
    }
    addr = std::string(spec.substr(1, close - 1));
    port_text = spec.substr(close + 2);
  } else if (size_t colon = spec.rfind(':'); colon != std::string_view::npos) {
    addr = std::string(spec.substr(0, colon));
    port_text = spec.substr(colon + 1);
    if (addr.find(':') != std::string::npos) {
      *error = "--metrics: put an IPv6 address in brackets, as [::1]:9150, not '" +
               std::string(spec) + "'";
      return false;
    }
  }
  uint32_t port = 0;
  for (char c : port_text)
    port = port > 65535 || c < '0' || c > '9' ? 65536 : port * 10 + (c - '0');
  if (port_text.empty() || port == 0 || port > 65535) {
    *error =
        "--metrics takes [ADDR:]PORT with a port from 1 to 65535, not '" + std::string(spec) + "'";
    return false;
  }
  memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, addr.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  if (inet_pton(AF_INET6, addr.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  *error = "--metrics: '" + addr +
           "' is not an IP address (use an IP literal such as 127.0.0.1 or [::1], not a name)";
  return false;
}

bool MetricsHttp::open(std::string_view spec, std::string* error) {
  sockaddr_storage sa{};
  if (!parse_metrics_address(spec, &sa, error)) return false;
  int fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("--metrics: socket: ") + strerror(errno);
    return false;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (sa.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  socklen_t len = sa.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || listen(fd, 16) != 0) {
    *error = "--metrics: cannot listen on " + std::string(spec) + ": " + strerror(errno);
    close(fd);
    return false;
  }
  listen_fd_ = fd;
  return true;
}

void MetricsHttp::start() {
  if (listen_fd_ < 0 || thread_.joinable()) return;
  stop_.store(false);
  thread_ = std::thread([this] { loop(); });
}

void MetricsHttp::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

void MetricsHttp::loop() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    int r = poll(&p, 1, kAcceptPollMs);
    if (r <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    set_timeouts(fd);
    serve(fd);
    close(fd);
  }
}

// Reads the request head (up to the blank line), answers, and returns; the caller closes.
void MetricsHttp::serve(int fd) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoTimeoutMs);
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos) {
    if (req.size() >= kMaxRequest) {
      send_all(fd, response("431 Request Header Fields Too Large", "text/plain", "too large\n"));
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) return;  // slow sender: just close
    ssize_t n = recv(fd, buf, std::min(sizeof(buf), kMaxRequest - req.size()), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    req.append(buf, static_cast<size_t>(n));
  }
  std::string_view line(req);
  line = line.substr(0, line.find_first_of("\r\n"));
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.find(' ', sp1 == std::string_view::npos ? line.size() : sp1 + 1);
  if (sp1 == std::string_view::npos) {
    send_all(fd, response("400 Bad Request", "text/plain", "bad request\n"));
    return;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target =
      line.substr(sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
  if (method != "GET") {
    send_all(fd, response("405 Method Not Allowed", "text/plain", "only GET /metrics\n"));
    return;
  }
  target = target.substr(0, target.find('?'));
  if (target != "/metrics") {
    send_all(fd, response("404 Not Found", "text/plain", "only GET /metrics\n"));
    return;
  }
  send_all(fd, response("200 OK", "text/plain; version=0.0.4; charset=utf-8", render_()));
}

}  // namespace memshield::server
