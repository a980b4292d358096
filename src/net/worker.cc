// See worker.h. Reads go into one per-thread scratch buffer; only the unconsumed tail of a
// request split across packets is copied into the connection, so an idle connection holds no
// read buffer at all.
#include "net/worker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace memshield::net {
namespace {
constexpr size_t kScratchSize = 64 * 1024;
constexpr size_t kMaxPassedPending = 16 * 1024;  // takeover: unparsed bytes passed along
constexpr int kMaxEvents = 256;
constexpr int kAcceptBatch = 64;
constexpr int kMaxIov = 64;
constexpr int kUdpBatch = 16;
constexpr size_t kUdpMaxDatagram = 65536;
constexpr int kTlsReadRounds = 4;  // buffer fills per readiness event while TLS holds more
constexpr unsigned char kTlsHandshakeRecord = 0x16;  // first byte of every TLS ClientHello
constexpr size_t kYieldFlushBytes = 64 * 1024;       // -R: answers sent at a yield past this
constexpr uint64_t kSleptNs = 20000;  // an epoll_wait this long (20 us) slept: see yield_every
constexpr int kStreamPollMs = 10;     // how often an idle worker looks for watch lines
constexpr size_t kStreamBacklog = 64u << 10;  // unsent bytes above which a stream is not fed

uint64_t steady_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);  // the vDSO: no system call
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

std::string peer_name(const sockaddr_storage& sa, const std::string& listen_address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (sa.ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(&sa);
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    return "tcp:" + std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
  }
  if (sa.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    return "tcp6:[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  return listen_address;  // unix sockets: the peer has no name worth showing
}
}  // namespace

struct Worker::Handle {
  enum Kind { kListen, kUdp, kConn, kWake } kind;
  int fd = -1;
  Connection* conn = nullptr;
  const ListenSocket* listener = nullptr;  // kListen
};

struct Worker::Connection {
  Handle handle;
  int fd = -1;
  std::unique_ptr<Session> session;
  std::vector<char> in;  // unconsumed tail of the input (usually empty)
  size_t in_len = 0;
  OutBuffer out;
  uint32_t events = 0;
  bool closing = false;
  bool queued = false;  // in turns_: buffered requests wait for another turn (-R)
  bool producing = false;  // the session has output to make without input (a key dump)
  bool streaming = false;  // in streams_: the session has output of its own (pump)
  std::atomic<RelTime> last_active{0};
  std::atomic<ConnState> state{ConnState::kRead};  // for `stats conns`
  RelTime request_started = 0;  // when the request now arriving began; 0 = between requests
  // TLS (null: plaintext; every TLS step is behind one test of this pointer).
  std::unique_ptr<SecureChannel> tls;
  bool tls_sniffed = false;        // the first byte looked like a TLS handshake
  bool tls_ready = false;          // handshake finished
  bool tls_hs_write = false;       // the handshake waits for the socket to be writable
  bool tls_read_blocked = false;   // a read waits for the socket to be writable
  bool tls_write_blocked = false;  // a write waits for the socket to be readable
  std::string tls_peer;            // the peer's address, for the handshake failure log
  sockaddr_storage peer{};         // for a takeover
  const ListenSocket* listener = nullptr;
  bool parked = false;             // takeover: out of epoll, waiting to be passed on
};

Worker::Worker(const WorkerConfig& config, const std::vector<ListenSocket>& listeners,
               SessionFactory& factory, ConnectionLimit& limit, ConnRegistry& registry,
               const Clock& clock, DatagramHandler* datagrams)
    : config_(config),
      listeners_(listeners),
      factory_(factory),
      limit_(limit),
      registry_(registry),
      clock_(clock),
      datagrams_(datagrams),
      scratch_(new char[kScratchSize]) {}

Worker::~Worker() {
  stop();
  join();
  take_handed_over();  // handed over after this loop stopped: closed unserved
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epfd_ >= 0) close(epfd_);
}

void Worker::start() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  auto wake = std::make_unique<Handle>();
  wake->kind = Handle::kWake;
  wake->fd = wake_fd_;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = wake.get();
  epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  listen_handles_.push_back(std::move(wake));
  for (const ListenSocket& ls : listeners_) {
    if (ls.udp && datagrams_ == nullptr) continue;
    if (ls.udp && !udp_buffers_) udp_buffers_.reset(new char[kUdpBatch * kUdpMaxDatagram]);
    auto h = std::make_unique<Handle>();
    h->kind = ls.udp ? Handle::kUdp : Handle::kListen;
    h->fd = ls.fd;
    h->listener = &ls;
    epoll_event lev{};
    lev.events = EPOLLIN | EPOLLEXCLUSIVE;  // wake one worker per new connection or datagram
    lev.data.ptr = h.get();
    epoll_ctl(epfd_, EPOLL_CTL_ADD, ls.fd, &lev);
    listen_handles_.push_back(std::move(h));
  }
  thread_ = std::thread([this] { run(); });
}

void Worker::stop() {
  if (stopping_.exchange(true)) return;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    ssize_t rc = write(wake_fd_, &one, sizeof(one));
    (void)rc;
  }
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  if (config_.start_gate != nullptr) config_.start_gate->wait(false);
  epoll_event events[kMaxEvents];
  const bool timeouts = config_.idle_timeout > 0 || config_.request_timeout > 0;
  int served_awake = 0;  // ready connections served since the thread last slept in epoll_wait
  while (!stopping_.load(std::memory_order_relaxed)) {
    const uint64_t before = steady_ns();
    // Connections waiting for another turn (-R) must not wait for new events.
    // Streaming sessions are polled every kStreamPollMs while they exist, a takeover's parking
    // every 20 ms; otherwise no timer.
    int n = epoll_wait(epfd_, events, kMaxEvents,
                       !turns_.empty()     ? 0
                       : !streams_.empty() ? kStreamPollMs
                       : parking_          ? 20
                       : timeouts          ? 1000
                                           : -1);
    // A wait that returned at once takes a microsecond or so; one that slept, far longer.
    if (steady_ns() - before > kSleptNs) served_awake = 0;
    if (n < 0) {
      if (errno == EINTR) continue;
      MS_WARN("epoll_wait failed: %s", strerror(errno));
      break;
    }
    for (int i = 0; i < n; ++i) {
      auto* h = static_cast<Handle*>(events[i].data.ptr);
      uint32_t ev = events[i].events;
      switch (h->kind) {
        case Handle::kWake: {
          uint64_t count;
          ssize_t rc = read(wake_fd_, &count, sizeof(count));
          (void)rc;
          take_handed_over();
          if (control_.load(std::memory_order_acquire) != 0) handle_control();
          break;
        }
        case Handle::kListen:
          accept_from(*h);
          break;
        case Handle::kUdp:
          if (!paused_) receive_datagrams(h->fd);
          break;
        case Handle::kConn: {
          ++served_awake;
          Connection* c = h->conn;
          if (ev & EPOLLOUT) {
            int fd = c->fd;
            on_writable(c);
            if (connections_[fd] != c) break;  // closed while writing
          }
          if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
          break;
        }
      }
    }
    if (!turns_.empty()) run_queued_turns();
    if (!streams_.empty()) pump_streams();
    if (timeouts) sweep_timeouts();
    if (parking_) park_sweep();
    if (config_.yield_every > 0 && served_awake >= config_.yield_every) {
      sched_yield();
      served_awake = 0;
    }
  }
  for (Connection* c : connections_) {
    if (c != nullptr) close_connection(c);
  }
  take_handed_over();
}

// Once a second at most: closes connections idle past -o idle_timeout, and those whose request
// has been trickling in for longer than --request-timeout (slowloris), so a few thousand
// patient peers cannot hold every slot.
void Worker::sweep_timeouts() {
  const RelTime now = clock_.now();
  if (now == last_sweep_) return;
  last_sweep_ = now;
  for (Connection* c : connections_) {
    if (c == nullptr || c->closing || c->parked) continue;
    RelTime last = c->last_active.load(std::memory_order_relaxed);
    if (config_.idle_timeout > 0 && now - last >= static_cast<RelTime>(config_.idle_timeout)) {
      MS_LOG(1, "<%d closing idle connection (idle_timeout %d s)", c->fd, config_.idle_timeout);
      stats_.idle_kicks.add();
      close_connection(c);
      continue;
    }
    if (config_.request_timeout > 0 && c->request_started != 0 &&
        now - c->request_started >= static_cast<RelTime>(config_.request_timeout)) {
      MS_LOG(1, "<%d closing connection: %s incomplete after %d s", c->fd,
             c->tls != nullptr && !c->tls_ready ? "TLS handshake" : "request",
             config_.request_timeout);
      close_connection(c);
    }
  }
}

void Worker::accept_from(const Handle& listener) {
  if (paused_) return;  // a takeover parked this worker in the same epoll batch
  for (int i = 0; i < kAcceptBatch; ++i) {
    Accepted a{-1, {}, listener.listener, {}};
    socklen_t len = sizeof(a.peer);
    a.fd = accept4(listener.fd, reinterpret_cast<sockaddr*>(&a.peer), &len,
                   SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (a.fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        MS_WARN("accept: %s (raise the open-files limit or lower -c)", strerror(errno));
      }
      return;
    }
    if (!factory_.admit(a.peer)) {
      close(a.fd);  // access control: not one byte to a refused peer
      continue;
    }
    if (limit_.current.fetch_add(1, std::memory_order_relaxed) >= limit_.max_connections) {
      limit_.current.fetch_sub(1, std::memory_order_relaxed);
      stats_.rejected_connections.add();
      std::string_view msg = factory_.reject_message();
      ssize_t rc = send(a.fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)rc;
      close(a.fd);
      continue;
    }
    WorkerGroup* g = config_.group;
    Worker* to = this;
    if (g != nullptr && g->workers.size() > 1) {
      to = g->workers[g->turn.fetch_add(1, std::memory_order_relaxed) % g->workers.size()];
    }
    if (to == this) {
      adopt(a);
    } else {
      to->hand_over(a);
    }
  }
}

void Worker::hand_over(const Accepted& a) {
  {
    std::lock_guard<std::mutex> g(inbox_mu_);
    inbox_.push_back(a);
  }
  uint64_t one = 1;
  ssize_t rc = write(wake_fd_, &one, sizeof(one));
  (void)rc;
}

void Worker::take_handed_over() {
  std::vector<Accepted> batch;
  {
    std::lock_guard<std::mutex> g(inbox_mu_);
    batch.swap(inbox_);
  }
  for (const Accepted& a : batch) {
    if (stopping_.load(std::memory_order_relaxed)) {
      close(a.fd);
      limit_.current.fetch_sub(1, std::memory_order_relaxed);
    } else {
      adopt(a);
    }
  }
}

void Worker::adopt(const Accepted& a) {
  const int fd = a.fd;
  const std::string& listen_address = a.listener->address;
  if (a.peer.ss_family == AF_INET || a.peer.ss_family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  std::unique_ptr<SecureChannel> tls;
  if (a.listener->secure != nullptr) {
    tls = a.listener->secure->wrap(fd);
    if (tls == nullptr) {
      limit_.current.fetch_sub(1, std::memory_order_relaxed);
      stats_.ssl_handshake_errors.add();
      MS_WARN_RATELIMITED(1, "could not set up TLS for a new connection on %s",
                          listen_address.c_str());
      close(fd);
      return;
    }
  }
  auto* c = new Connection;
  c->fd = fd;
  c->handle.kind = Handle::kConn;
  c->handle.fd = fd;
  c->handle.conn = c;
  c->peer = a.peer;
  c->listener = a.listener;
  c->last_active.store(clock_.now(), std::memory_order_relaxed);
  if (tls != nullptr) {
    c->tls = std::move(tls);
    c->request_started = clock_.now();  // --request-timeout covers the handshake too
  }
  PeerInfo peer{fd, a.peer, config_.index, peer_name(a.peer, listen_address), listen_address};
  if (c->tls != nullptr) c->tls_peer = peer.address;
  c->session = factory_.create(peer);
  if (connections_.size() <= static_cast<size_t>(fd)) connections_.resize(fd + 1, nullptr);
  connections_[fd] = c;
  c->events = EPOLLIN;
  epoll_event ev{};
  ev.events = c->events;
  ev.data.ptr = &c->handle;
  epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev);
  stats_.total_connections.add();
  registry_.add(fd, ConnInfo{peer.address, listen_address, false, &c->last_active, &c->state});
  MS_LOG(2, "<%d new client connection from %s", fd, peer.address.c_str());
  if (!a.pending.empty()) {  // passed over by a takeover with a partial request
    c->in.assign(a.pending.begin(), a.pending.end());
    c->in_len = a.pending.size();
    drive(c, c->in.data(), c->in_len, false);
  }
}

void Worker::adopt_passed(int fd, const sockaddr_storage& peer, const ListenSocket* listener,
                          std::string pending) {
  limit_.current.fetch_add(1, std::memory_order_relaxed);
  hand_over(Accepted{fd, peer, listener, std::move(pending)});
}

void Worker::park(uint64_t deadline_ns) {
  {
    std::lock_guard<std::mutex> g(park_mu_);
    parked_ready_ = false;
    parked_list_.clear();
  }
  park_deadline_ns_.store(deadline_ns, std::memory_order_relaxed);
  control_.store(1, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = write(wake_fd_, &one, sizeof(one));
  (void)rc;
}

void Worker::resume() {
  control_.store(2, std::memory_order_release);
  uint64_t one = 1;
  ssize_t rc = write(wake_fd_, &one, sizeof(one));
  (void)rc;
}

bool Worker::wait_parked(int timeout_ms, std::vector<ParkedConnection>* out) {
  std::unique_lock<std::mutex> g(park_mu_);
  if (!park_cv_.wait_for(g, std::chrono::milliseconds(timeout_ms),
                         [this] { return parked_ready_; })) {
    return false;
  }
  for (ParkedConnection& p : parked_list_) out->push_back(std::move(p));
  parked_list_.clear();
  return true;
}

void Worker::handle_control() {
  const int op = control_.exchange(0, std::memory_order_acq_rel);
  if (op == 1) {
    for (auto& h : listen_handles_) {
      if (h->kind == Handle::kListen || h->kind == Handle::kUdp) {
        epoll_ctl(epfd_, EPOLL_CTL_DEL, h->fd, nullptr);
      }
    }
    // The sweep runs after the rest of this epoll batch: a connection parked now could still
    // have an event in it, and would be served (or closed) after it was listed.
    parking_ = true;
    paused_ = true;
  } else if (op == 2) {
    parking_ = false;
    paused_ = false;
    for (auto& h : listen_handles_) {
      if (h->kind != Handle::kListen && h->kind != Handle::kUdp) continue;
      epoll_event lev{};
      lev.events = EPOLLIN | EPOLLEXCLUSIVE;
      lev.data.ptr = h.get();
      epoll_ctl(epfd_, EPOLL_CTL_ADD, h->fd, &lev);  // EEXIST when the park had not begun
    }
    for (Connection* c : connections_) {
      if (c == nullptr || !c->parked) continue;
      c->parked = false;
      epoll_event ev{};
      ev.events = c->events;
      ev.data.ptr = &c->handle;
      epoll_ctl(epfd_, EPOLL_CTL_ADD, c->fd, &ev);
    }
    std::lock_guard<std::mutex> g(park_mu_);
    parked_ready_ = false;
    parked_list_.clear();
  }
}

// While parking: every connection between requests with nothing to send leaves epoll (its
// socket keeps whatever the client sends next for the next process); past the deadline, the
// rest are closed. Once none is left serving, the parked ones are published.
void Worker::park_sweep() {
  const bool late = steady_ns() >= park_deadline_ns_.load(std::memory_order_relaxed);
  bool serving = false;
  for (Connection* c : connections_) {
    if (c == nullptr || c->parked) continue;
    if (c->streaming) {  // a watcher: its subscription lives in this process, and so it ends
      close_connection(c);
      continue;
    }
    // A key dump under way is not idle: it has more to send.
    const bool idle = !c->closing && c->out.empty() && !c->producing &&
                      c->session->at_request_boundary() && c->in_len <= kMaxPassedPending &&
                      (c->tls == nullptr || c->tls_ready);
    if (idle && c->tls == nullptr && c->session->transferable()) {
      if (c->queued) {
        std::replace(turns_.begin(), turns_.end(), c, static_cast<Connection*>(nullptr));
        c->queued = false;
      }
      epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
      c->parked = true;
      continue;
    }
    if (idle || late) {
      MS_LOG(1, "<%d takeover: closing a connection %s", c->fd,
             idle ? "between requests (TLS or authenticated)" : "still mid-request");
      close_connection(c);
      continue;
    }
    serving = true;
  }
  if (serving) return;
  parking_ = false;
  std::lock_guard<std::mutex> g(park_mu_);
  parked_list_.clear();
  for (Connection* c : connections_) {
    if (c == nullptr || !c->parked) continue;
    ParkedConnection p;
    p.fd = c->fd;
    p.peer = c->peer;
    p.listener = static_cast<size_t>(c->listener - listeners_.data());
    if (c->in_len > 0) p.pending.assign(c->in.data(), c->in_len);
    parked_list_.push_back(std::move(p));
  }
  parked_ready_ = true;
  park_cv_.notify_all();
}

// One batch of datagrams per readiness event: recvmmsg in, the handler decides, sendmmsg out.
void Worker::receive_datagrams(int fd) {
  mmsghdr msgs[kUdpBatch];
  iovec iovs[kUdpBatch];
  sockaddr_storage from[kUdpBatch];
  for (int i = 0; i < kUdpBatch; ++i) {
    iovs[i].iov_base = udp_buffers_.get() + i * kUdpMaxDatagram;
    iovs[i].iov_len = kUdpMaxDatagram;
    msgs[i].msg_hdr = msghdr{};
    msgs[i].msg_hdr.msg_name = &from[i];
    msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_len = 0;
  }
  int n = recvmmsg(fd, msgs, kUdpBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return;
  std::vector<std::string> replies;
  for (int i = 0; i < n; ++i) {
    // A datagram cut short by the buffer is not a whole request: not answered.
    if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) continue;
    stats_.bytes_read.add(msgs[i].msg_len);
    replies.clear();
    datagrams_->on_datagram(from[i],
                            std::string_view(static_cast<char*>(iovs[i].iov_base),
                                             msgs[i].msg_len),
                            config_.index, &replies);
    // Replies go out in batches of up to kUdpBatch datagrams.
    for (size_t off = 0; off < replies.size(); off += kUdpBatch) {
      size_t cnt = std::min<size_t>(kUdpBatch, replies.size() - off);
      mmsghdr out[kUdpBatch];
      iovec oiov[kUdpBatch];
      for (size_t k = 0; k < cnt; ++k) {
        oiov[k].iov_base = replies[off + k].data();
        oiov[k].iov_len = replies[off + k].size();
        out[k].msg_hdr = msghdr{};
        out[k].msg_hdr.msg_name = &from[i];
        out[k].msg_hdr.msg_namelen = msgs[i].msg_hdr.msg_namelen;
        out[k].msg_hdr.msg_iov = &oiov[k];
        out[k].msg_hdr.msg_iovlen = 1;
      }
      int sent = sendmmsg(fd, out, static_cast<unsigned>(cnt), MSG_DONTWAIT);
      for (int k = 0; k < sent; ++k) stats_.bytes_written.add(out[k].msg_len);
      if (sent < static_cast<int>(cnt)) break;  // socket buffer full: the rest is lost, as UDP is
    }
  }
}

void Worker::on_readable(Connection* c) {
  if (c->tls != nullptr) {
    tls_readable(c);
    return;
  }
  if (c->closing) {
    // Waiting to finish writing; the peer's further input is not wanted.
    ssize_t n = read(c->fd, scratch_.get(), kScratchSize);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) close_connection(c);
    return;
  }
  // Requests already buffered wait for their turn (-R): read no more until they are served, so
  // the buffer stays small (the socket stays readable; epoll reports it again).
  if (c->queued && c->in_len >= kScratchSize) return;
  ssize_t n;
  if (c->in_len == 0) {
    n = recv(c->fd, scratch_.get(), kScratchSize, 0);
  } else {
    // A partial request is waiting: append to it.
    size_t want = c->in_len + kScratchSize;
    if (want > config_.max_input_buffer) want = config_.max_input_buffer;
    if (c->in_len >= want) {
      close_connection(c);  // the session let a request grow past every bound
      return;
    }
    if (c->in.size() < want) c->in.resize(want);
    n = recv(c->fd, c->in.data() + c->in_len, c->in.size() - c->in_len, 0);
  }
  if (n == 0) {
    close_connection(c);
    return;
  }
  if (n < 0) {
    if (errno != EAGAIN && errno != EINTR) close_connection(c);
    return;
  }
  stats_.bytes_read.add(n);
  c->last_active.store(clock_.now(), std::memory_order_relaxed);
  if (c->in_len == 0) {
    drive(c, scratch_.get(), n, true);
  } else {
    c->in_len += n;
    drive(c, c->in.data(), c->in_len, false);
  }
}

void Worker::drive(Connection* c, const char* data, size_t len, bool from_scratch) {
  for (;;) {
    c->state.store(ConnState::kParseCmd, std::memory_order_relaxed);
    Session::Result r = c->session->on_input(std::string_view(data, len), c->out);
    c->state.store(r.close                                  ? ConnState::kClosing
                   : !c->session->at_request_boundary()     ? ConnState::kNread
                   : c->out.size() > config_.out_high_water ? ConnState::kWrite
                                                            : ConnState::kRead,
                   std::memory_order_relaxed);
    size_t rest = len - r.consumed;
    if (from_scratch) {
      if (rest > 0) {
        c->in.assign(data + r.consumed, data + len);
        c->in_len = rest;
      }
    } else {
      if (rest > 0 && r.consumed > 0) memmove(c->in.data(), c->in.data() + r.consumed, rest);
      c->in_len = rest;
      if (rest == 0) std::vector<char>().swap(c->in);
    }
    if (r.close) c->closing = true;
    if (r.abort) c->out.clear();
    c->producing = r.more_output && !c->closing;
    if (r.stream && !c->streaming) {
      c->streaming = true;
      streams_.push_back(c);
    }
    // The slow-request clock runs from the last completed request while one is partly in.
    if (c->in_len == 0 && c->session->at_request_boundary()) {
      c->request_started = 0;
    } else if (r.progress || c->request_started == 0) {
      c->request_started = clock_.now();
    }
    if (r.yield && !c->closing && (c->in_len > 0 || c->producing)) {
      // -R: this connection has had its turn; the others ready now go first (memcached's
      // conn_yields). Its answers wait for the send after its next turn unless they pile up:
      // one send per buffer of requests rather than one per N of them.
      stats_.conn_yields.add();
      queue_turn(c);
      if (c->out.size() >= kYieldFlushBytes) flush(c);
      return;
    }
    if (!flush(c)) return;
    if (c->producing && !c->closing && c->out.empty()) {
      queue_turn(c);  // the output drained at once: no event would come to resume the dump
      return;
    }
    // Requests held back for back-pressure, and the output has drained below the mark already
    // (a large socket buffer): carry on now, since no event may come to resume them.
    if (c->closing || r.consumed == 0 || c->in_len == 0 ||
        c->out.size() > config_.out_high_water) {
      return;
    }
    data = c->in.data();
    len = c->in_len;
    from_scratch = false;
  }
}

void Worker::queue_turn(Connection* c) {
  if (c->queued) return;
  c->queued = true;
  turns_.push_back(c);
}

// One more turn for each connection queued before this call; a turn may queue its connection
// again (behind the others) or close it (its entry is then null).
void Worker::run_queued_turns() {
  const size_t n = turns_.size();
  for (size_t i = 0; i < n; ++i) {
    Connection* c = turns_[i];
    if (c == nullptr) continue;
    turns_[i] = nullptr;
    c->queued = false;
    const int fd = c->fd;
    if (!c->closing && (c->in_len > 0 || c->producing) &&
        c->out.size() <= config_.out_high_water) {
      drive(c, c->in.data(), c->in_len, false);
    } else if (!flush(c)) {
      continue;
    }
    if (connections_[fd] != c) continue;  // closed
    // Decrypted input TLS kept while this connection waited: epoll will not report it.
    if (c->tls != nullptr && !c->queued && !c->closing && c->tls->pending()) tls_readable(c);
  }
  turns_.erase(turns_.begin(), turns_.begin() + static_cast<std::ptrdiff_t>(n));
}

bool Worker::flush(Connection* c) {
  if (c->tls != nullptr) return tls_flush(c);
  while (!c->out.empty()) {
    iovec iov[kMaxIov];
    int cnt = c->out.fill_iov(iov, kMaxIov);
    ssize_t w;
    if (cnt == 1) {
      // The usual reply is one block: send() skips sendmsg's copying in of the header and
      // iovec array.
      w = send(c->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = cnt;
      w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    }
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      close_connection(c);
      return false;
    }
    stats_.bytes_written.add(w);
    c->out.consume(static_cast<size_t>(w));
  }
  if (c->out.empty() && c->closing) {
    close_connection(c);
    return false;
  }
  update_interest(c);
  return true;
}

void Worker::on_writable(Connection* c) {
  const int fd = c->fd;
  if (c->tls != nullptr) {
    if (!c->tls_ready) {
      tls_handshake(c);
      return;
    }
    if (c->tls_read_blocked) {
      c->tls_read_blocked = false;
      tls_readable(c);
      if (connections_[fd] != c) return;
    }
  }
  if (!flush(c)) return;
  // Output drained below the mark: resume requests that were held back for back-pressure.
  // A key dump waiting for room goes on the same way.
  if ((c->in_len > 0 || c->producing) && !c->closing &&
      c->out.size() <= config_.out_high_water) {
    drive(c, c->in.data(), c->in_len, false);
    if (connections_[fd] != c) return;
  }
  // Decrypted input TLS kept while reading was paused: epoll will not report it.
  if (c->tls != nullptr && !c->closing && c->out.size() <= config_.out_high_water &&
      c->tls->pending()) {
    tls_readable(c);
  }
}

void Worker::update_interest(Connection* c) {
  uint32_t want = 0;
  if (!c->closing && c->out.size() <= config_.out_high_water) want |= EPOLLIN;
  if (!c->out.empty()) want |= EPOLLOUT;
  if (c->closing) want |= EPOLLIN;  // notice the peer going away
  if (c->tls != nullptr) {
    if (c->tls_hs_write || c->tls_read_blocked) want |= EPOLLOUT;
    if (c->tls_write_blocked) want |= EPOLLIN;
  }
  if (want == c->events) return;
  c->events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = &c->handle;
  epoll_ctl(epfd_, EPOLL_CTL_MOD, c->fd, &ev);
}

void Worker::pump_streams() {
  const std::vector<Connection*> batch = streams_;  // a flush may close (and unlist) one
  for (Connection* c : batch) {
    const int fd = c->fd;
    if (connections_[fd] != c || c->closing) continue;
    // A watcher that does not read keeps its backlog here small; its session's own bounded
    // buffer then fills and drops lines instead.
    if (c->out.size() >= kStreamBacklog) continue;
    if (c->session->pump(c->out, kStreamBacklog) > 0) flush(c);
  }
}

void Worker::close_connection(Connection* c) {
  if (c->queued) std::replace(turns_.begin(), turns_.end(), c, static_cast<Connection*>(nullptr));
  if (c->streaming) std::erase(streams_, c);
  epoll_ctl(epfd_, EPOLL_CTL_DEL, c->fd, nullptr);
  registry_.remove(c->fd);
  connections_[c->fd] = nullptr;
  if (c->tls != nullptr) c->tls->shutdown();
  close(c->fd);
  limit_.current.fetch_sub(1, std::memory_order_relaxed);
  MS_LOG(2, "<%d connection closed.", c->fd);
  delete c;
}

// The handshake, first checking that the peer speaks TLS at all: a plaintext client (a text
// command, a binary request) is refused without being handed to OpenSSL or sent an alert.
void Worker::tls_handshake(Connection* c) {
  if (!c->tls_sniffed) {
    unsigned char first = 0;
    ssize_t n = recv(c->fd, &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      close_connection(c);  // connected and left without a word: a port check
      return;
    }
    if (n < 0) return;
    if (first != kTlsHandshakeRecord) {
      tls_refuse(c, "not a TLS handshake (a plaintext client?)");
      return;
    }
    c->tls_sniffed = true;
  }
  c->tls_hs_write = false;
  switch (c->tls->handshake()) {
    case SecureChannel::Status::kOk:
      c->tls_ready = true;
      c->request_started = 0;
      c->last_active.store(clock_.now(), std::memory_order_relaxed);
      MS_LOG(2, "<%d TLS handshake done", c->fd);
      update_interest(c);
      tls_readable(c);  // requests may have come with the handshake's last flight
      return;
    case SecureChannel::Status::kWantRead:
      update_interest(c);
      return;
    case SecureChannel::Status::kWantWrite:
      c->tls_hs_write = true;
      update_interest(c);
      return;
    case SecureChannel::Status::kClosed:
      tls_refuse(c, "closed by the peer during the handshake");
      return;
    case SecureChannel::Status::kError:
      tls_refuse(c, c->tls->error().c_str());
      return;
  }
}

// Counts and logs (rate-limited, -v) a failed handshake, then closes. What the peer sent is
// read and dropped first: closing a socket with unread input makes the kernel send a reset
// instead of an orderly FIN.
void Worker::tls_refuse(Connection* c, const char* why) {
  stats_.ssl_handshake_errors.add();
  MS_INFO_RATELIMITED(1, 5, "TLS handshake with %s failed: %s", c->tls_peer.c_str(), why);
  for (int i = 0; i < 16; ++i) {
    if (recv(c->fd, scratch_.get(), kScratchSize, MSG_DONTWAIT) <= 0) break;
  }
  close_connection(c);
}

// The TLS side of on_readable: fills the read buffer from as many records as have arrived (one
// pass through the session per fill, as for a plaintext read), then hands it to drive().
void Worker::tls_readable(Connection* c) {
  if (!c->tls_ready) {
    tls_handshake(c);
    return;
  }
  const int fd = c->fd;
  if (c->tls_write_blocked) {
    c->tls_write_blocked = false;
    if (!flush(c)) return;
  }
  if (c->closing) {
    // Waiting to finish writing; the peer's further input is not wanted.
    size_t n = 0;
    SecureChannel::Status s = c->tls->read(scratch_.get(), kScratchSize, &n);
    if (s == SecureChannel::Status::kClosed || s == SecureChannel::Status::kError) {
      close_connection(c);
    } else if (s == SecureChannel::Status::kWantWrite) {
      c->tls_read_blocked = true;
      update_interest(c);
    }
    return;
  }
  for (int round = 0; round < kTlsReadRounds; ++round) {
    if (c->out.size() > config_.out_high_water) return;  // back-pressure: resumed on writable
    if (c->queued && c->in_len >= kScratchSize) return;  // -R: resumed after its turn
    char* buf;
    size_t cap;
    if (c->in_len == 0) {
      buf = scratch_.get();
      cap = kScratchSize;
    } else {
      size_t want = std::min(c->in_len + kScratchSize, config_.max_input_buffer);
      if (c->in_len >= want) {
        close_connection(c);  // the session let a request grow past every bound
        return;
      }
      if (c->in.size() < want) c->in.resize(want);
      buf = c->in.data() + c->in_len;
      cap = c->in.size() - c->in_len;
    }
    size_t got = 0;
    SecureChannel::Status s = SecureChannel::Status::kOk;
    while (got < cap) {
      size_t n = 0;
      s = c->tls->read(buf + got, cap - got, &n);
      if (s != SecureChannel::Status::kOk) break;
      got += n;
    }
    if (got > 0) {
      stats_.bytes_read.add(got);
      c->last_active.store(clock_.now(), std::memory_order_relaxed);
      if (c->in_len == 0) {
        drive(c, scratch_.get(), got, true);
      } else {
        c->in_len += got;
        drive(c, c->in.data(), c->in_len, false);
      }
      if (connections_[fd] != c) return;
    }
    switch (s) {
      case SecureChannel::Status::kOk:
        break;  // the buffer is full; more may be waiting inside the channel
      case SecureChannel::Status::kWantRead:
        return;
      case SecureChannel::Status::kWantWrite:
        c->tls_read_blocked = true;
        update_interest(c);
        return;
      case SecureChannel::Status::kClosed:
        close_connection(c);
        return;
      case SecureChannel::Status::kError:
        MS_LOG(1, "<%d TLS error: %s", fd, c->tls->error().c_str());
        close_connection(c);
        return;
    }
    if (c->closing || !c->tls->pending()) return;  // the socket reports what is left
  }
}

// The TLS side of flush: one write per output block (a TLS record at a time).
bool Worker::tls_flush(Connection* c) {
  c->tls_write_blocked = false;
  while (!c->out.empty()) {
    iovec iov;
    c->out.fill_iov(&iov, 1);
    size_t n = 0;
    SecureChannel::Status s =
        c->tls->write(static_cast<const char*>(iov.iov_base), iov.iov_len, &n);
    if (s == SecureChannel::Status::kOk) {
      stats_.bytes_written.add(n);
      c->out.consume(n);
      continue;
    }
    if (s == SecureChannel::Status::kWantWrite) break;
    if (s == SecureChannel::Status::kWantRead) {
      c->tls_write_blocked = true;
      break;
    }
    MS_LOG(1, "<%d TLS write failed: %s", c->fd, c->tls->error().c_str());
    close_connection(c);
    return false;
  }
  if (c->out.empty() && c->closing) {
    close_connection(c);
    return false;
  }
  update_interest(c);
  return true;
}

}  // namespace memshield::net
