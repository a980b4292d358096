// A worker thread: one epoll loop that accepts on the shared listening sockets and serves its
// connections start to finish (a request never crosses threads). Accepted connections are dealt
// to the workers in turn, as memcached's dispatcher does: whichever worker the kernel wakes for
// a burst of connects would otherwise keep them all, leaving the other cores idle. Level-
// triggered; one read per readiness event keeps busy connections from starving the others.
#pragma once

#include <sys/uio.h>

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <string>
#include <memory>
#include <mutex>
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

class Worker;

// Takeover: a connection parked between requests, to be passed to another process with the
// bytes read from it but not yet parsed (a partial command line, usually nothing).
struct ParkedConnection {
  int fd = -1;
  sockaddr_storage peer{};
  size_t listener = 0;  // index into the worker's listeners
  std::string pending;
};

// The workers that deal accepted connections to each other in turn. Filled in before any
// worker starts and unchanged after.
struct WorkerGroup {
  std::vector<Worker*> workers;
  std::atomic<size_t> turn{0};
};

struct WorkerConfig {
  int index = 0;
  size_t out_high_water = 4u << 20;  // stop reading from a client that doesn't read its answers
  size_t max_input_buffer = 9u << 20;  // longest partial request we hold (a huge multi-get line)
  int idle_timeout = 0;     // seconds without input before a connection is closed; 0 = never
  int request_timeout = 0;  // seconds a request may take to arrive in full; 0 = never
  // When set, the thread waits (on a futex) until it is true before serving anything: the
  // server installs its seccomp filter in between, so no request is ever served without it.
  const std::atomic<bool>* start_gate = nullptr;
  WorkerGroup* group = nullptr;  // null: keep every connection this worker accepts
  // After serving this many ready connections without once waiting for more, the worker offers
  // its CPU to other runnable threads (sched_yield); 0 never. With a core of its own nothing
  // else is runnable and the call returns at once. When clients share the worker's core
  // (co-located clients, small VMs, CPU quotas), a saturated worker would otherwise run whole
  // scheduler slices while the client beside it waits, and that client's connections to it
  // crawl: measured with 2 workers and 2 client threads on 2 cores, one connection completed
  // 10-15x fewer requests than another and p99 was 7.9 ms; yielding every 32 gives 1.1x and
  // 0.6 ms for 3% less throughput (docs/BENCHMARKS.md).
  int yield_every = 32;
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

  // Takeover (server/takeover.cc). park(): stop accepting, and park each connection once it is
  // between requests with nothing left to send (TLS and non-transferable ones are closed there
  // instead); any still mid-request at deadline_ns (CLOCK_MONOTONIC) is closed. Asynchronous;
  // wait_parked() collects the parked ones. resume() serves them again (the takeover failed).
  // Nothing here runs per request: the loop looks at it on its wake-up descriptor.
  void park(uint64_t deadline_ns);
  bool wait_parked(int timeout_ms, std::vector<ParkedConnection>* out);
  void resume();
  // Serves a connection another process passed over (any thread, after start()).
  void adopt_passed(int fd, const sockaddr_storage& peer, const ListenSocket* listener,
                    std::string pending);

  const WorkerStats& stats() const { return stats_; }
  WorkerStats& mutable_stats() { return stats_; }

 private:
  struct Connection;
  struct Handle;  // what epoll's data.ptr points at
  // A connection accepted by another worker, waiting in this one's inbox.
  struct Accepted {
    int fd;
    sockaddr_storage peer;
    const ListenSocket* listener;
    std::string pending;  // adopt_passed(): bytes the previous process read but did not parse
  };

  void run();
  void accept_from(const Handle& listener);
  // Called by the accepting worker: queues the connection and wakes this worker's loop.
  void hand_over(const Accepted& a);
  void take_handed_over();
  void adopt(const Accepted& a);  // starts serving a connection that passed admission
  void receive_datagrams(int fd);
  void on_readable(Connection* c);
  void on_writable(Connection* c);
  void drive(Connection* c, const char* data, size_t len, bool from_scratch);
  // -R: a connection whose session stopped at its request limit waits here for another turn,
  // taken after the connections that were ready in the same epoll batch.
  void queue_turn(Connection* c);
  void run_queued_turns();
  bool flush(Connection* c);  // false if the connection was closed
  void update_interest(Connection* c);
  void close_connection(Connection* c);
  void sweep_timeouts();
  // Streaming sessions (watchers): moves what they have to say into their output and sends it.
  void pump_streams();
  void handle_control();
  void park_sweep();
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
  std::vector<Connection*> turns_;        // queue_turn(); a closed connection's entry becomes null
  std::vector<Connection*> streams_;      // connections whose session streams (pump_streams)
  RelTime last_sweep_ = 0;
  std::unique_ptr<char[]> scratch_;        // shared read buffer: idle connections hold none
  std::unique_ptr<char[]> udp_buffers_;    // one batch of datagrams for recvmmsg
  std::mutex inbox_mu_;
  std::vector<Accepted> inbox_;            // guarded by inbox_mu_
  // Takeover: control_ is the latest request (1 park, 2 resume), read on a wake-up.
  std::atomic<int> control_{0};
  std::atomic<uint64_t> park_deadline_ns_{0};
  bool parking_ = false;  // loop thread only
  bool paused_ = false;   // loop thread only: between park and resume, accepts nothing
  std::mutex park_mu_;
  std::condition_variable park_cv_;
  bool parked_ready_ = false;                 // guarded by park_mu_
  std::vector<ParkedConnection> parked_list_;  // guarded by park_mu_
};

}  // namespace memshield::net
