// A worker thread: one epoll loop that accepts on the shared listening sockets and serves its
// own connections start to finish (no hand-offs, so a request never crosses threads). Level-
// triggered; one read per readiness event keeps busy connections from starving the others.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/out_buffer.h"
#include "net/conn_registry.h"
#include "net/listener.h"
#include "net/net_stats.h"
#include "net/secure_channel.h"
#include "net/session.h"

namespace memshield::net {

struct WorkerConfig {
  int index = 0;
  size_t out_high_water = 4u << 20;  // stop reading from a client that doesn't read its answers
  size_t max_input_buffer = 9u << 20;  // longest partial request we hold (a huge multi-get line)
  int idle_timeout = 0;     // seconds without input before a connection is closed; 0 = never
  int request_timeout = 0;  // seconds a request may take to arrive in full; 0 = never
  // When set, the thread waits (on a futex) until it is true before serving anything: the
  // server installs its seccomp filter in between, so no request is ever served without it.
  const std::atomic<bool>* start_gate = nullptr;
};

class Worker {
 public:
  Worker(const WorkerConfig& config, const std::vector<ListenSocket>& listeners,
         SessionFactory& factory, ConnectionLimit& limit, ConnRegistry& registry,
         const Clock& clock, DatagramHandler* datagrams = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  // Asks the loop to close every connection and return; join() waits for it.
  void stop();
  void join();

  const WorkerStats& stats() const { return stats_; }
  WorkerStats& mutable_stats() { return stats_; }

 private:
  struct Connection;
  struct Handle;  // what epoll's data.ptr points at

  void run();
  void accept_from(const Handle& listener);
  void receive_datagrams(int fd);
  void on_readable(Connection* c);
  void on_writable(Connection* c);
  void drive(Connection* c, const char* data, size_t len, bool from_scratch);
  bool flush(Connection* c);  // false if the connection was closed
  void update_interest(Connection* c);
  void close_connection(Connection* c);
  void sweep_timeouts();
  // TLS connections (c->tls set): the same steps through the SecureChannel.
  void tls_handshake(Connection* c);
  void tls_readable(Connection* c);
  bool tls_flush(Connection* c);
  void tls_refuse(Connection* c, const char* why);

  WorkerConfig config_;
  const std::vector<ListenSocket>& listeners_;
  SessionFactory& factory_;
  ConnectionLimit& limit_;
  ConnRegistry& registry_;
  const Clock& clock_;
  DatagramHandler* datagrams_;
  WorkerStats stats_;

  int epfd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::vector<std::unique_ptr<Handle>> listen_handles_;
  std::vector<Connection*> connections_;  // indexed by fd
  RelTime last_sweep_ = 0;
  std::unique_ptr<char[]> scratch_;        // shared read buffer: idle connections hold none
  std::unique_ptr<char[]> udp_buffers_;    // one batch of datagrams for recvmmsg
};

}  // namespace memshield::net
