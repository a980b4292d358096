// A memcached UDP client that speaks memshield's cookie extension (docs/UDP-COOKIES.md): it frames
// each text request with a random request id and a cookie block, reassembles the datagrams of the
// response, and handles the server's cookie-refresh reply by storing the cookie and sending once
// more. A legacy mode sends plain memcached framing, as every existing client does.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace memshield::client {

inline constexpr size_t kClientCookieBytes = 8;
inline constexpr size_t kServerCookieBytes = 16;
// The largest UDP payload IPv4 can carry; memcached takes a request only in one datagram.
inline constexpr size_t kMaxRequestDatagram = 65507;

enum class UdpStatus {
  kOk,
  kTimeout,         // no complete response before the deadline
  kRefused,         // ICMP port unreachable: nothing listens there
  kTooLarge,        // the request does not fit in one datagram
  kCookieRejected,  // the server refused the cookie it had just handed out
  kError,           // socket error or not open; see last_error()
};
const char* udp_status_name(UdpStatus s);

struct UdpClientOptions {
  bool legacy = false;  // plain memcached framing: reserved 0, no cookie block
};

class UdpCookieClient {
 public:
  explicit UdpCookieClient(UdpClientOptions options = {});
  ~UdpCookieClient();
  UdpCookieClient(const UdpCookieClient&) = delete;
  UdpCookieClient& operator=(const UdpCookieClient&) = delete;

  // Resolves `host` (numeric IPv4/IPv6 or a name) and connects a UDP socket to it, so the kernel
  // drops datagrams from anyone else. Refuses unspecified, broadcast and multicast destinations.
  bool open(const std::string& host, uint16_t port, std::string* error);
  bool is_open() const { return fd_ >= 0; }

  // Sends `text_request` (a complete memcached text request, "\r\n" included) and stores the
  // reassembled response. The whole exchange, a cookie refresh included, ends by timeout_ms.
  UdpStatus request(std::string_view text_request, std::string* response, int timeout_ms);

  // Asks host:port over TCP for a server cookie (`shield cookie <client cookie hex>`). The
  // connection is made from the UDP socket's local address when one is open, because the
  // server binds the cookie to the address it sees. True if a cookie was stored.
  bool get_cookie_over_tcp(const std::string& host, uint16_t port, int timeout_ms,
                           std::string* error);

  bool legacy() const { return options_.legacy; }
  void set_legacy(bool legacy) { options_.legacy = legacy; }
  const uint8_t* client_cookie() const { return client_cookie_; }
  bool has_server_cookie() const { return has_server_cookie_; }
  const uint8_t* server_cookie() const { return server_cookie_; }
  void set_server_cookie(const uint8_t cookie[kServerCookieBytes]);
  void forget_server_cookie();
  // Cookie-refresh replies handled so far (diagnostics and tests).
  int refreshes() const { return refreshes_; }
  const std::string& last_error() const { return last_error_; }

 private:
  enum class Reply { kResponse, kRefresh };
  UdpStatus send_request(uint16_t request_id, std::string_view text_request);
  UdpStatus collect(uint16_t request_id, int64_t deadline_ms, std::string* response, Reply* kind);

  UdpClientOptions options_;
  int fd_ = -1;
  uint8_t client_cookie_[kClientCookieBytes] = {};
  uint8_t server_cookie_[kServerCookieBytes] = {};
  bool has_server_cookie_ = false;
  int refreshes_ = 0;
  std::string last_error_;
};

// Splits "host:port" or "[v6 address]:port"; false if malformed or the port is not 1..65535.
bool split_host_port(std::string_view text, std::string* host, uint16_t* port);

// Lower-case hex of `n` bytes, and back; parse_hex is false unless `text` is exactly 2*n hex
// digits.
std::string to_hex(const uint8_t* bytes, size_t n);
bool parse_hex(std::string_view text, uint8_t* out, size_t n);

}  // namespace memshield::client
