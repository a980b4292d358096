// Workers in a group deal accepted connections to each other in turn: a burst of connects,
// all accepted by whichever worker the kernel woke, still ends up spread evenly, and every
// connection is served by the worker it landed on.
#include "net/worker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/clock.h"

namespace memshield::net {
namespace {

// Answers every input with the index of the worker serving the connection.
class WhoSession : public Session {
 public:
  explicit WhoSession(int worker) : worker_(worker) {}
  Result on_input(std::string_view in, OutBuffer& out) override {
    out.append(std::to_string(worker_) + "\n");
    return Result{in.size(), false, false, true};
  }

 private:
  int worker_;
};

class WhoFactory : public SessionFactory {
 public:
  std::unique_ptr<Session> create(const PeerInfo& peer) override {
    return std::make_unique<WhoSession>(peer.worker);
  }
  std::string_view reject_message() const override { return "busy\r\n"; }
};

int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

TEST(WorkerGroup, ConnectionsAreDealtInTurn) {
  ListenResult lr = listen_tcp({"127.0.0.1:0"}, 0, 128);
  ASSERT_TRUE(lr.error.empty()) << lr.error;
  sockaddr_in bound{};
  socklen_t len = sizeof(bound);
  ASSERT_EQ(getsockname(lr.sockets[0].fd, reinterpret_cast<sockaddr*>(&bound), &len), 0);
  const int port = ntohs(bound.sin_port);

  WhoFactory factory;
  ConnectionLimit limit(1000);
  ConnRegistry registry;
  Clock clock;
  WorkerGroup group;
  constexpr int kWorkers = 3;
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < kWorkers; ++i) {
    WorkerConfig wc;
    wc.index = i;
    wc.group = &group;
    workers.push_back(
        std::make_unique<Worker>(wc, lr.sockets, factory, limit, registry, clock));
    group.workers.push_back(workers.back().get());
  }
  for (auto& w : workers) w->start();

  constexpr int kConns = 30;  // connected all at once, before any is served
  std::vector<int> fds;
  for (int i = 0; i < kConns; ++i) {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  int served_by[kWorkers] = {};
  for (int fd : fds) {
    ASSERT_EQ(write(fd, "?", 1), 1);
    char buf[16] = {};
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    ASSERT_GT(n, 0);
    int w = atoi(buf);
    ASSERT_TRUE(w >= 0 && w < kWorkers) << buf;
    ++served_by[w];
  }
  for (int i = 0; i < kWorkers; ++i) {
    EXPECT_EQ(served_by[i], kConns / kWorkers) << "worker " << i;
    EXPECT_EQ(workers[i]->stats().total_connections.get(), uint64_t{kConns / kWorkers});
  }
  for (int fd : fds) close(fd);
  for (auto& w : workers) w->stop();
  for (auto& w : workers) w->join();
  EXPECT_EQ(limit.current.load(), 0);
  close(lr.sockets[0].fd);
}

}  // namespace
}  // namespace memshield::net
