// The cookie-aware UDP client against tiny fake servers on 127.0.0.1: request framing, the
// cookie-refresh round trip, reassembly of an out-of-order response, stray datagrams, timeouts,
// legacy framing and fetching a cookie over TCP. Every socket wait is bounded.
#include "client/udp_cookie_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "protocol/udp_frame/cookie_block.h"
#include "protocol/udp_frame/udp_frame.h"

namespace memshield::client {
namespace {

namespace udp = memshield::protocol::udp;

constexpr uint8_t kServerCookie[kServerCookieBytes] = {
    1, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbe};

void set_timeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

// A UDP socket on 127.0.0.1 that a test thread drives by hand. Receives give up after 3 s so a
// broken client cannot hang the test.
class FakeUdpServer {
 public:
  FakeUdpServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
    set_timeout(fd_, 3000);
  }
  ~FakeUdpServer() {
    if (thread_.joinable()) thread_.join();
    close(fd_);
  }
  uint16_t port() const { return port_; }
  void set_receive_timeout(int ms) { set_timeout(fd_, ms); }

  template <typename F>
  void start(F body) {
    thread_ = std::thread(body);
  }
  void join() { thread_.join(); }

  bool receive(std::string* d) {
    char buf[65536];
    peer_len_ = sizeof(peer_);
    const ssize_t n =
        recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer_), &peer_len_);
    if (n < 0) return false;
    d->assign(buf, static_cast<size_t>(n));
    return true;
  }
  void reply(std::string_view d) {
    sendto(fd_, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&peer_), peer_len_);
  }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  sockaddr_storage peer_{};
  socklen_t peer_len_ = 0;
  std::thread thread_;
};

std::string header(uint16_t id, uint16_t seq, uint16_t total, uint16_t reserved) {
  char h[udp::kHeaderSize];
  udp::encode_header({id, seq, total, reserved}, h);
  return std::string(h, sizeof(h));
}

std::string refresh_reply(uint16_t id, const uint8_t client_cookie[8]) {
  udp::CookieBlock b;
  b.flags = udp::kFlagServerCookie;
  std::memcpy(b.client_cookie, client_cookie, 8);
  std::memcpy(b.server_cookie, kServerCookie, sizeof(kServerCookie));
  char block[udp::kCookieBlockSize];
  udp::encode_cookie_block(b, block);
  return header(id, 0, 1, udp::kCookieMagic) + std::string(block, sizeof(block));
}

struct Parsed {
  udp::FrameHeader h;
  udp::CookieBlock block;
  std::string text;
};

Parsed parse_cookie_request(const std::string& d) {
  Parsed p;
  EXPECT_TRUE(udp::decode_header(d, &p.h));
  EXPECT_TRUE(udp::decode_cookie_block(std::string_view(d).substr(udp::kHeaderSize), &p.block));
  p.text = d.substr(udp::kHeaderSize + udp::kCookieBlockSize);
  return p;
}

TEST(UdpCookieClient, RefreshThenOutOfOrderResponse) {
  FakeUdpServer server;
  const std::string part0 = "VALUE foo 0 20\r\n";
  const std::string part1 = "01234567890123456789";
  const std::string part2 = "\r\nEND\r\n";
  std::vector<std::string> seen;
  server.start([&] {
    std::string d;
    if (!server.receive(&d)) return;
    seen.push_back(d);
    Parsed first = parse_cookie_request(d);
    server.reply(refresh_reply(static_cast<uint16_t>(first.h.request_id + 1),
                               first.block.client_cookie));  // stray id
    server.reply(refresh_reply(first.h.request_id, first.block.client_cookie));
    if (!server.receive(&d)) return;
    seen.push_back(d);
    const uint16_t id = parse_cookie_request(d).h.request_id;
    server.reply(header(static_cast<uint16_t>(id + 7), 0, 1, 0) +
                 "END\r\n");  // someone else's response
    server.reply(header(id, 2, 3, 0) + part2);
    server.reply(header(id, 0, 3, 0) + part0);
    server.reply(header(id, 0, 3, 0) + "duplicate, ignored");
    server.reply(header(id, 1, 3, 0) + part1);
  });

  UdpCookieClient client;
  std::string error;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  EXPECT_FALSE(client.has_server_cookie());
  std::string response;
  EXPECT_EQ(client.request("get foo\r\n", &response, 3000), UdpStatus::kOk) << client.last_error();
  server.join();
  EXPECT_EQ(response, part0 + part1 + part2);
  EXPECT_EQ(client.refreshes(), 1);
  ASSERT_TRUE(client.has_server_cookie());
  EXPECT_EQ(std::memcmp(client.server_cookie(), kServerCookie, kServerCookieBytes), 0);

  ASSERT_EQ(seen.size(), 2u);
  // First send: no cookie yet, exactly header + block + text.
  ASSERT_EQ(seen[0].size(), udp::kHeaderSize + udp::kCookieBlockSize + 9);
  const Parsed a = parse_cookie_request(seen[0]);
  EXPECT_EQ(a.h.sequence, 0);
  EXPECT_EQ(a.h.total, 1);
  EXPECT_EQ(a.h.reserved, udp::kCookieMagic);
  EXPECT_EQ(a.block.version, udp::kCookieVersion);
  EXPECT_EQ(a.block.flags, 0);
  EXPECT_EQ(std::memcmp(a.block.client_cookie, client.client_cookie(), 8), 0);
  const uint8_t zero[16] = {};
  EXPECT_EQ(std::memcmp(a.block.server_cookie, zero, 16), 0);
  EXPECT_EQ(a.text, "get foo\r\n");
  // Second send: the same client cookie, now with the server's cookie.
  const Parsed b = parse_cookie_request(seen[1]);
  EXPECT_EQ(b.h.reserved, udp::kCookieMagic);
  EXPECT_EQ(b.block.flags, udp::kFlagServerCookie);
  EXPECT_EQ(std::memcmp(b.block.client_cookie, client.client_cookie(), 8), 0);
  EXPECT_EQ(std::memcmp(b.block.server_cookie, kServerCookie, 16), 0);
  EXPECT_EQ(b.text, "get foo\r\n");
}

TEST(UdpCookieClient, StoredCookieIsSentAtOnce) {
  FakeUdpServer server;
  std::string seen;
  server.start([&] {
    if (!server.receive(&seen)) return;
    server.reply(header(parse_cookie_request(seen).h.request_id, 0, 1, 0) + "STORED\r\n");
  });
  UdpCookieClient client;
  client.set_server_cookie(kServerCookie);
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  EXPECT_EQ(client.request("set k 0 0 1\r\nx\r\n", &response, 3000), UdpStatus::kOk);
  server.join();
  EXPECT_EQ(response, "STORED\r\n");
  EXPECT_EQ(client.refreshes(), 0);
  const Parsed p = parse_cookie_request(seen);
  EXPECT_EQ(p.block.flags, udp::kFlagServerCookie);
  EXPECT_EQ(std::memcmp(p.block.server_cookie, kServerCookie, 16), 0);
}

TEST(UdpCookieClient, RefreshWithSomeoneElsesClientCookieIsIgnored) {
  FakeUdpServer server;
  server.start([&] {
    std::string d;
    if (!server.receive(&d)) return;
    const uint8_t wrong[8] = {9, 9, 9, 9, 9, 9, 9, 9};
    server.reply(refresh_reply(parse_cookie_request(d).h.request_id, wrong));
  });
  UdpCookieClient client;
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  EXPECT_EQ(client.request("get foo\r\n", &response, 300), UdpStatus::kTimeout);
  server.join();
  EXPECT_FALSE(client.has_server_cookie());
}

TEST(UdpCookieClient, RefusedFreshCookieEndsAfterOneResend) {
  FakeUdpServer server;
  server.set_receive_timeout(700);
  int requests = 0;
  server.start([&] {
    std::string d;
    while (server.receive(&d)) {
      ++requests;
      const Parsed p = parse_cookie_request(d);
      server.reply(refresh_reply(p.h.request_id, p.block.client_cookie));
      if (requests == 3) break;  // a third send would be a client bug
    }
  });
  UdpCookieClient client;
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  EXPECT_EQ(client.request("get foo\r\n", &response, 500), UdpStatus::kCookieRejected);
  server.join();  // returns after its receive timeout
  EXPECT_EQ(requests, 2);
}

TEST(UdpCookieClient, TimeoutWhenNobodyAnswers) {
  FakeUdpServer server;  // bound, never replies
  UdpCookieClient client;
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(client.request("get foo\r\n", &response, 200), UdpStatus::kTimeout);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  EXPECT_GE(ms, 150);
  EXPECT_LT(ms, 2000);
  EXPECT_TRUE(response.empty());
}

TEST(UdpCookieClient, LegacyFramingHasNoCookieBlock) {
  FakeUdpServer server;
  std::string seen;
  server.start([&] {
    if (!server.receive(&seen)) return;
    udp::FrameHeader h;
    udp::decode_header(seen, &h);
    // A refresh must be ignored in legacy mode: only memcached framing counts.
    server.reply(refresh_reply(h.request_id, reinterpret_cast<const uint8_t*>("whatever")));
    server.reply(header(h.request_id, 0, 1, 0) + "END\r\n");
  });
  UdpCookieClient client(UdpClientOptions{.legacy = true});
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  EXPECT_EQ(client.request("get foo\r\n", &response, 3000), UdpStatus::kOk);
  server.join();
  EXPECT_EQ(response, "END\r\n");
  udp::FrameHeader h;
  ASSERT_TRUE(udp::decode_header(seen, &h));
  EXPECT_EQ(h.sequence, 0);
  EXPECT_EQ(h.total, 1);
  EXPECT_EQ(h.reserved, 0);
  EXPECT_EQ(seen.substr(udp::kHeaderSize), "get foo\r\n");
}

TEST(UdpCookieClient, OversizedRequestIsRefusedLocally) {
  FakeUdpServer server;
  UdpCookieClient client;
  std::string error, response;
  ASSERT_TRUE(client.open("127.0.0.1", server.port(), &error)) << error;
  const std::string huge(kMaxRequestDatagram, 'x');
  EXPECT_EQ(client.request(huge, &response, 100), UdpStatus::kTooLarge);
}

TEST(UdpCookieClient, RefusesNonUnicastDestinations) {
  for (const char* host :
       {"0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1", "::ffff:255.255.255.255"}) {
    UdpCookieClient client;
    std::string error;
    EXPECT_FALSE(client.open(host, 11211, &error)) << host;
    EXPECT_NE(error.find("refusing"), std::string::npos) << host << ": " << error;
  }
}

TEST(UdpCookieClient, Ipv6Loopback) {
  const int fd = socket(AF_INET6, SOCK_DGRAM, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    if (fd >= 0) close(fd);
    GTEST_SKIP() << "no IPv6 loopback here";
  }
  socklen_t len = sizeof(sa);
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  set_timeout(fd, 3000);
  std::thread t([&] {
    char buf[2048];
    sockaddr_in6 peer{};
    socklen_t plen = sizeof(peer);
    const ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &plen);
    if (n < 8) return;
    const std::string r = std::string(buf, 2) + std::string("\0\0\0\1\0\0", 6) + "END\r\n";
    sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&peer), plen);
  });
  UdpCookieClient client(UdpClientOptions{.legacy = true});
  std::string error, response;
  ASSERT_TRUE(client.open("::1", ntohs(sa.sin6_port), &error)) << error;
  EXPECT_EQ(client.request("get foo\r\n", &response, 3000), UdpStatus::kOk);
  t.join();
  close(fd);
  EXPECT_EQ(response, "END\r\n");
}

TEST(UdpCookieClient, CookieOverTcp) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(sa);
  getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);
  const uint16_t port = ntohs(sa.sin_port);
  set_timeout(listener, 3000);

  std::string command;
  std::thread t([&] {
    const int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    set_timeout(c, 3000);
    char buf[256];
    while (command.find("\r\n") == std::string::npos && command.size() < sizeof(buf)) {
      const ssize_t n = recv(c, buf, sizeof(buf), 0);
      if (n <= 0) break;
      command.append(buf, static_cast<size_t>(n));
    }
    const std::string reply = "COOKIE " + to_hex(kServerCookie, 16) + "\r\n";
    send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
    close(c);
  });

  UdpCookieClient client;
  std::string error;
  // With the UDP socket open, the TCP connection leaves from the same local address.
  ASSERT_TRUE(client.open("127.0.0.1", port, &error)) << error;
  EXPECT_TRUE(client.get_cookie_over_tcp("127.0.0.1", port, 3000, &error)) << error;
  t.join();
  close(listener);
  EXPECT_EQ(command, "shield cookie " + to_hex(client.client_cookie(), 8) + "\r\n");
  ASSERT_TRUE(client.has_server_cookie());
  EXPECT_EQ(std::memcmp(client.server_cookie(), kServerCookie, 16), 0);
}

TEST(UdpCookieClient, CookieOverTcpRejectsOtherReplies) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t len = sizeof(sa);
  getsockname(listener, reinterpret_cast<sockaddr*>(&sa), &len);
  set_timeout(listener, 3000);
  std::thread t([&] {
    const int c = accept(listener, nullptr, nullptr);
    if (c < 0) return;
    const char reply[] = "ERROR\r\n";  // a stock memcached
    send(c, reply, sizeof(reply) - 1, MSG_NOSIGNAL);
    close(c);
  });
  UdpCookieClient client;
  std::string error;
  EXPECT_FALSE(client.get_cookie_over_tcp("127.0.0.1", ntohs(sa.sin_port), 3000, &error));
  t.join();
  close(listener);
  EXPECT_NE(error.find("ERROR"), std::string::npos) << error;
  EXPECT_FALSE(client.has_server_cookie());
}

TEST(UdpCookieClient, HostPortAndHex) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(split_host_port("127.0.0.1:11211", &host, &port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 11211);
  ASSERT_TRUE(split_host_port("[::1]:1", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 1);
  for (const char* bad :
       {"", "host", "::1:11211", "[::1]11211", "h:0", "h:65536", "h:1x", ":1", "[::1]:"}) {
    EXPECT_FALSE(split_host_port(bad, &host, &port)) << bad;
  }
  const uint8_t bytes[3] = {0x00, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes, 3), "00abff");
  uint8_t out[3];
  ASSERT_TRUE(parse_hex("00ABff", out, 3));
  EXPECT_EQ(std::memcmp(out, bytes, 3), 0);
  EXPECT_FALSE(parse_hex("00abf", out, 3));
  EXPECT_FALSE(parse_hex("00abfg", out, 3));
}

}  // namespace
}  // namespace memshield::client
