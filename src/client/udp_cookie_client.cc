// The cookie-aware UDP client (see udp_cookie_client.h): socket set-up, request framing,
// reassembly of a response's datagrams by sequence number, the one-time resend after a cookie
// refresh, and fetching a cookie over TCP. Every wait is bounded by the caller's deadline.
#include "client/udp_cookie_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "protocol/udp_frame/cookie_block.h"
#include "protocol/udp_frame/udp_frame.h"

namespace memshield::client {
namespace {

namespace udp = memshield::protocol::udp;

constexpr size_t kMaxTcpReply = 256;     // "COOKIE <32 hex>\r\n" or a short error line
constexpr int kReceiveBuffer = 4 << 20;  // a multi-megabyte value arrives as a burst

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int remaining_ms(int64_t deadline_ms) {
  const int64_t left = deadline_ms - now_ms();
  if (left <= 0) return 0;
  return left > 1'000'000 ? 1'000'000 : static_cast<int>(left);
}

// The client cookie and request ids must be unpredictable to an off-path attacker, who would
// otherwise inject a bogus cookie refresh or response. getrandom only fails on kernels too old
// for anything else here to work.
void random_bytes(void* out, size_t n) {
  auto* p = static_cast<uint8_t*>(out);
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(p + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::perror("memshield client: getrandom");
      std::abort();
    }
    done += static_cast<size_t>(r);
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

bool resolve(const std::string& host, uint16_t port, int socktype, sockaddr_storage* out,
             socklen_t* out_len, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return false;
  }
  // The first answer only: a request goes to one host, never fanned out.
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *out_len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

bool forbidden_v4(const uint8_t* a) {
  if (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) return true;          // unspecified
  if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255) return true;  // broadcast
  return (a[0] & 0xf0) == 0xe0;                                               // multicast
}

// One host only: a datagram to an unspecified, broadcast or multicast address would reach
// others (or, for 0.0.0.0, land somewhere unintended). Subnet-directed broadcasts are refused by
// the kernel, since the socket never sets SO_BROADCAST.
bool forbidden_destination(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(sa);
    return forbidden_v4(reinterpret_cast<const uint8_t*>(&in.sin_addr.s_addr));
  }
  if (sa.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr.s6_addr;
    if (a[0] == 0xff) return true;  // multicast
    static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, kMappedPrefix, 12) == 0) return forbidden_v4(a + 12);
    static constexpr uint8_t kZero[16] = {};
    return std::memcmp(a, kZero, 16) == 0;
  }
  return true;
}

bool wait_for(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = poll(&p, 1, remaining_ms(deadline_ms));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

}  // namespace

const char* udp_status_name(UdpStatus s) {
  switch (s) {
    case UdpStatus::kOk:
      return "ok";
    case UdpStatus::kTimeout:
      return "timeout";
    case UdpStatus::kRefused:
      return "refused";
    case UdpStatus::kTooLarge:
      return "request too large";
    case UdpStatus::kCookieRejected:
      return "cookie rejected";
    case UdpStatus::kError:
      return "error";
  }
  return "unknown";
}

UdpCookieClient::UdpCookieClient(UdpClientOptions options) : options_(options) {
  random_bytes(client_cookie_, sizeof(client_cookie_));
}

UdpCookieClient::~UdpCookieClient() {
  if (fd_ >= 0) close(fd_);
}

bool UdpCookieClient::open(const std::string& host, uint16_t port, std::string* error) {
  sockaddr_storage sa{};
  socklen_t len = 0;
  if (!resolve(host, port, SOCK_DGRAM, &sa, &len, error)) return false;
  if (forbidden_destination(sa)) {
    *error = "refusing to send to '" + host + "': not a single host's address";
    return false;
  }
  Fd fd(socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    *error = errno_text("socket");
    return false;
  }
  // Best effort: the kernel caps it at net.core.rmem_max, which is still better than the default.
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof(kReceiveBuffer));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    *error = errno_text("connect");
    return false;
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd.release();
  return true;
}

void UdpCookieClient::set_server_cookie(const uint8_t cookie[kServerCookieBytes]) {
  std::memcpy(server_cookie_, cookie, kServerCookieBytes);
  has_server_cookie_ = true;
}

void UdpCookieClient::forget_server_cookie() {
  std::memset(server_cookie_, 0, sizeof(server_cookie_));
  has_server_cookie_ = false;
}

UdpStatus UdpCookieClient::send_request(uint16_t request_id, std::string_view text_request) {
  const bool cookie = !options_.legacy;
  std::string datagram(udp::kHeaderSize + (cookie ? udp::kCookieBlockSize : 0), '\0');
  udp::encode_header({request_id, 0, 1, cookie ? udp::kCookieMagic : uint16_t{0}}, datagram.data());
  if (cookie) {
    udp::CookieBlock block;
    block.flags = has_server_cookie_ ? udp::kFlagServerCookie : 0;
    std::memcpy(block.client_cookie, client_cookie_, sizeof(block.client_cookie));
    if (has_server_cookie_) std::memcpy(block.server_cookie, server_cookie_, kServerCookieBytes);
    udp::encode_cookie_block(block, datagram.data() + udp::kHeaderSize);
  }
  datagram.append(text_request);
  for (;;) {
    const ssize_t n = send(fd_, datagram.data(), datagram.size(), 0);
    if (n == static_cast<ssize_t>(datagram.size())) return UdpStatus::kOk;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ECONNREFUSED) return UdpStatus::kRefused;
    if (n < 0 && errno == EMSGSIZE) return UdpStatus::kTooLarge;
    last_error_ = n < 0 ? errno_text("send") : "send: short write";
    return UdpStatus::kError;
  }
}

UdpStatus UdpCookieClient::collect(uint16_t request_id, int64_t deadline_ms, std::string* response,
                                   Reply* kind) {
  std::vector<std::string> parts;
  std::vector<bool> got;
  size_t have = 0;
  uint16_t total = 0;
  std::vector<char> buf(65536);
  for (;;) {
    if (!wait_for(fd_, POLLIN, deadline_ms)) {
      if (remaining_ms(deadline_ms) > 0) {
        last_error_ = errno_text("poll");
        return UdpStatus::kError;
      }
      last_error_ = "timed out";
      return UdpStatus::kTimeout;
    }
    const ssize_t n = recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      if (errno == ECONNREFUSED) {
        last_error_ = "connection refused (nothing listens on that UDP port)";
        return UdpStatus::kRefused;
      }
      last_error_ = errno_text("recv");
      return UdpStatus::kError;
    }
    const std::string_view d(buf.data(), static_cast<size_t>(n));
    udp::FrameHeader h;
    // Stray datagrams (another request id, a late duplicate) are skipped, not fatal.
    if (!udp::decode_header(d, &h) || h.request_id != request_id) continue;

    if (h.reserved == udp::kCookieMagic) {
      if (options_.legacy || h.sequence != 0 || h.total != 1) continue;
      udp::CookieBlock block;
      if (!udp::decode_cookie_block(d.substr(udp::kHeaderSize), &block)) continue;
      if ((block.flags & udp::kFlagServerCookie) == 0) continue;
      // The server echoes our client cookie; a refresh without it is not from the server we
      // asked (an off-path guess of the request id), and accepting it would let anyone
      // overwrite our cookie.
      if (std::memcmp(block.client_cookie, client_cookie_, kClientCookieBytes) != 0) continue;
      set_server_cookie(block.server_cookie);
      ++refreshes_;
      *kind = Reply::kRefresh;
      return UdpStatus::kOk;
    }

    if (h.total == 0 || h.sequence >= h.total) continue;
    if (total == 0) {
      total = h.total;
      parts.resize(total);
      got.assign(total, false);
    } else if (h.total != total) {
      continue;  // disagrees with the datagrams already taken: not part of this response
    }
    if (got[h.sequence]) continue;
    parts[h.sequence].assign(d.substr(udp::kHeaderSize));
    got[h.sequence] = true;
    if (++have < total) continue;
    size_t bytes = 0;
    for (const std::string& p : parts) bytes += p.size();
    response->clear();
    response->reserve(bytes);
    for (const std::string& p : parts) response->append(p);
    *kind = Reply::kResponse;
    return UdpStatus::kOk;
  }
}

UdpStatus UdpCookieClient::request(std::string_view text_request, std::string* response,
                                   int timeout_ms) {
  response->clear();
  if (fd_ < 0) {
    last_error_ = "not open";
    return UdpStatus::kError;
  }
  const size_t overhead = udp::kHeaderSize + (options_.legacy ? 0 : udp::kCookieBlockSize);
  if (text_request.size() > kMaxRequestDatagram - overhead) {
    last_error_ = "request does not fit in one datagram";
    return UdpStatus::kTooLarge;
  }
  const int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  // At most two sends: the second only after a refresh handed us a fresh cookie. A server that
  // refuses the cookie it just minted is broken, and looping would only hammer it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    uint16_t request_id;
    random_bytes(&request_id, sizeof(request_id));
    UdpStatus s = send_request(request_id, text_request);
    if (s != UdpStatus::kOk) return s;
    Reply kind;
    s = collect(request_id, deadline, response, &kind);
    if (s != UdpStatus::kOk || kind == Reply::kResponse) return s;
  }
  last_error_ = "server refused the cookie it had just sent";
  return UdpStatus::kCookieRejected;
}

bool UdpCookieClient::get_cookie_over_tcp(const std::string& host, uint16_t port, int timeout_ms,
                                          std::string* error) {
  const int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
  sockaddr_storage sa{};
  socklen_t len = 0;
  if (!resolve(host, port, SOCK_STREAM, &sa, &len, error)) return false;
  Fd fd(socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    *error = errno_text("socket");
    return false;
  }
  // The server binds the cookie to the address it sees on this connection, so leave from the
  // address our UDP datagrams leave from; on a multi-homed host the routes could differ.
  if (fd_ >= 0) {
    sockaddr_storage local{};
    socklen_t local_len = sizeof(local);
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &local_len) == 0 &&
        local.ss_family == sa.ss_family) {
      if (local.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(local).sin_port = 0;
      if (local.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(local).sin6_port = 0;
      if (bind(fd.get(), reinterpret_cast<sockaddr*>(&local), local_len) != 0) {
        *error = errno_text("bind to the UDP socket's address");
        return false;
      }
    }
  }
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    if (errno != EINPROGRESS) {
      *error = errno_text("connect");
      return false;
    }
    if (!wait_for(fd.get(), POLLOUT, deadline)) {
      *error = "connect: timed out";
      return false;
    }
    int so_error = 0;
    socklen_t so_len = sizeof(so_error);
    getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
    if (so_error != 0) {
      *error = std::string("connect: ") + std::strerror(so_error);
      return false;
    }
  }

  const std::string command =
      "shield cookie " + to_hex(client_cookie_, kClientCookieBytes) + "\r\n";
  size_t sent = 0;
  while (sent < command.size()) {
    const ssize_t n = send(fd.get(), command.data() + sent, command.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_for(fd.get(), POLLOUT, deadline))
      continue;
    *error = n < 0 && errno != EAGAIN ? errno_text("send") : "send: timed out";
    return false;
  }

  std::string reply;
  char buf[kMaxTcpReply];
  while (reply.find("\r\n") == std::string::npos) {
    if (reply.size() >= kMaxTcpReply) {
      *error = "reply line too long";
      return false;
    }
    if (!wait_for(fd.get(), POLLIN, deadline)) {
      *error = "no reply: timed out";
      return false;
    }
    const ssize_t n = recv(fd.get(), buf, kMaxTcpReply - reply.size(), MSG_DONTWAIT);
    if (n == 0) {
      *error = "connection closed before a reply";
      return false;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      *error = errno_text("recv");
      return false;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  const std::string_view line = std::string_view(reply).substr(0, reply.find("\r\n"));
  constexpr std::string_view kPrefix = "COOKIE ";
  uint8_t cookie[kServerCookieBytes];
  if (line.substr(0, kPrefix.size()) != kPrefix ||
      !parse_hex(line.substr(kPrefix.size()), cookie, kServerCookieBytes)) {
    *error = "unexpected reply: " + std::string(line);
    return false;
  }
  set_server_cookie(cookie);
  return true;
}

bool split_host_port(std::string_view text, std::string* host, uint16_t* port) {
  std::string_view h, p;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    // A bare IPv6 address would make the port ambiguous; it needs brackets.
    if (h.find(':') != std::string_view::npos) return false;
  }
  if (h.empty() || p.empty() || p.size() > 5) return false;
  uint32_t value = 0;
  for (char c : p) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return false;
  host->assign(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

std::string to_hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

bool parse_hex(std::string_view text, uint8_t* out, size_t n) {
  if (text.size() != 2 * n) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    const int hi = nibble(text[2 * i]);
    const int lo = nibble(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace memshield::client
