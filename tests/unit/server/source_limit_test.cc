// --max-conns-per-source bookkeeping: a slot per live session, per address, given back when the
// session goes; unix-socket peers are never counted.
#include "server/source_limit.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <vector>

namespace memshield::server {
namespace {

class Nop : public net::Session {
 public:
  Result on_input(std::string_view in, OutBuffer&) override { return {in.size()}; }
};

sockaddr_storage v4(const char* ip) {
  sockaddr_storage ss{};
  auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
  sin->sin_family = AF_INET;
  inet_pton(AF_INET, ip, &sin->sin_addr);
  return ss;
}

security::IpAddress ip_of(const sockaddr_storage& ss) {
  security::IpAddress ip;
  EXPECT_TRUE(security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&ss), &ip));
  return ip;
}

TEST(SourceLimit, CountsLiveSessionsPerAddress) {
  SourceLimit limit(2);
  const sockaddr_storage a = v4("10.0.0.1"), b = v4("10.0.0.2");
  std::vector<std::unique_ptr<net::Session>> held;
  EXPECT_TRUE(limit.allows(ip_of(a)));
  held.push_back(limit.track(std::make_unique<Nop>(), a));
  held.push_back(limit.track(std::make_unique<Nop>(), a));
  EXPECT_EQ(limit.count(ip_of(a)), 2);
  EXPECT_FALSE(limit.allows(ip_of(a)));
  EXPECT_TRUE(limit.allows(ip_of(b)));
  OutBuffer out;
  EXPECT_EQ(held[0]->on_input("abc", out).consumed, 3u);  // forwards to the real session
  held.pop_back();
  EXPECT_TRUE(limit.allows(ip_of(a)));
  held.clear();
  EXPECT_EQ(limit.count(ip_of(a)), 0);
}

TEST(SourceLimit, OffAndUnixPeersUncounted) {
  SourceLimit off(0);
  const sockaddr_storage a = v4("10.0.0.1");
  auto s = off.track(std::make_unique<Nop>(), a);
  EXPECT_EQ(off.count(ip_of(a)), 0);
  EXPECT_TRUE(off.allows(ip_of(a)));
  SourceLimit on(1);
  sockaddr_storage unix_peer{};
  unix_peer.ss_family = AF_UNIX;
  auto u = on.track(std::make_unique<Nop>(), unix_peer);
  EXPECT_NE(u, nullptr);
}

}  // namespace
}  // namespace memshield::server
