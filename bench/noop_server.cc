// memshield-noop: the ceiling for the network path. Same threading model as a real server (one
// epoll loop per thread, all sharing one listening socket, accepted connections dealt to the
// loops in turn as memshield and memcached do) but it stores nothing: it finds
// request boundaries in the text protocol (a line, plus the data block of storage commands)
// and answers each request with a fixed reply, a hit of --value-size bytes for every get key.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace memshield::bench {
namespace {

constexpr size_t kMaxLine = 8192;
constexpr size_t kMaxDataBlock = 64 << 20;

struct Options {
  std::string listen = "127.0.0.1";
  int port = 11211;
  int threads = 4;
  int value_size = 100;
  int lifetime_s = 3600;  // exits by itself even if nobody stops it
};

bool IsLoopback(const std::string& host) {
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  if (inet_pton(AF_INET6, host.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](const char** v) {
      if (i + 1 >= argc) return false;
      *v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "-h" || a == "--help") {
      std::fprintf(stderr,
                   "usage: memshield-noop [-p PORT] [-l 127.0.0.1] [-t THREADS] "
                   "[--value-size N] [--lifetime S]\n"
                   "  -m -c -U -u -o -R -b -B are accepted and ignored, so memcached's command\n"
                   "  line works unchanged. --value-size 0 answers every get with END (a miss).\n");
      std::exit(0);
    } else if (a == "-p") {
      if (!next(&v)) return false;
      o->port = std::atoi(v);
    } else if (a == "-l") {
      if (!next(&v)) return false;
      o->listen = v;
    } else if (a == "-t") {
      if (!next(&v)) return false;
      o->threads = std::atoi(v);
    } else if (a == "--value-size") {
      if (!next(&v)) return false;
      o->value_size = std::atoi(v);
    } else if (a == "--lifetime") {
      if (!next(&v)) return false;
      o->lifetime_s = std::atoi(v);
    } else if (a == "-m" || a == "-c" || a == "-U" || a == "-u" || a == "-o" || a == "-R" ||
               a == "-b" || a == "-B") {
      if (!next(&v)) return false;
    } else {
      std::fprintf(stderr, "memshield-noop: unknown option %s\n", a.c_str());
      return false;
    }
  }
  if (o->listen == "localhost") o->listen = "127.0.0.1";
  if (!IsLoopback(o->listen)) {
    std::fprintf(stderr, "memshield-noop: refusing to listen on non-loopback %s\n",
                 o->listen.c_str());
    return false;
  }
  if (o->port < 1 || o->port > 65535 || o->threads < 1 || o->threads > 256 || o->value_size < 0 ||
      o->value_size > (1 << 20) || o->lifetime_s < 1) {
    std::fprintf(stderr, "memshield-noop: bad option value\n");
    return false;
  }
  return true;
}

// Per-connection state: unparsed input, unsent output, and how much of a data block is still
// to be skipped (with or without a STORED reply once it is complete).
struct Conn {
  int fd = -1;
  std::vector<char> in;
  size_t rpos = 0;
  size_t wpos = 0;
  std::string out;
  size_t out_off = 0;
  size_t skip = 0;
  bool reply_after_skip = false;
  bool closing = false;
};

class Loop;

// The loops, which deal accepted connections to each other in turn: left to whichever loop
// the kernel wakes, a burst of connects all lands on one thread.
struct Loops {
  std::vector<std::unique_ptr<Loop>> all;
  std::atomic<size_t> turn{0};
};

class Loop {
 public:
  Loop(const Options& o, int listen_fd, Loops& loops)
      : opt_(o), listen_fd_(listen_fd), loops_(loops), wake_fd_(eventfd(0, EFD_NONBLOCK)) {
    payload_.resize(static_cast<size_t>(o.value_size));
    for (int i = 0; i < o.value_size; ++i) payload_[i] = static_cast<char>('a' + i % 26);
    value_tail_ = " 0 " + std::to_string(o.value_size) + "\r\n" + payload_ + "\r\n";
  }

  void Run() {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;  // one sleeping loop is woken per new connection
    ev.data.fd = listen_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    epoll_event events[128];
    for (;;) {
      int n = epoll_wait(epoll_fd_, events, 128, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::perror("epoll_wait");
        return;
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == listen_fd_) {
          Accept();
          continue;
        }
        if (fd == wake_fd_) {
          TakeHandedOver();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn& c = *it->second;
        if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ReadAndAnswer(c);
        if (!c.closing) Flush(c);
        if (c.closing) Drop(fd);
      }
    }
  }

  // Called by the loop that accepted `fd`.
  void HandOver(int fd) {
    {
      std::lock_guard<std::mutex> g(inbox_mu_);
      inbox_.push_back(fd);
    }
    uint64_t one = 1;
    ssize_t rc = write(wake_fd_, &one, sizeof(one));
    (void)rc;
  }

 private:
  void TakeHandedOver() {
    uint64_t count;
    ssize_t rc = read(wake_fd_, &count, sizeof(count));
    (void)rc;
    std::vector<int> fds;
    {
      std::lock_guard<std::mutex> g(inbox_mu_);
      fds.swap(inbox_);
    }
    for (int fd : fds) Adopt(fd);
  }

  void Accept() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error: try again on the next wakeup
      Loop& to = *loops_.all[loops_.turn.fetch_add(1) % loops_.all.size()];
      if (&to == this) {
        Adopt(fd);
      } else {
        to.HandOver(fd);
      }
    }
  }

  void Adopt(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>();
    c->fd = fd;
    c->in.resize(16 * 1024);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    conns_[fd] = std::move(c);
  }

  void Drop(int fd) {
    epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    conns_.erase(fd);
  }

  void ReadAndAnswer(Conn& c) {
    for (;;) {
      if (c.rpos == c.wpos) c.rpos = c.wpos = 0;
      if (c.in.size() - c.wpos < 2048) {
        std::memmove(c.in.data(), c.in.data() + c.rpos, c.wpos - c.rpos);
        c.wpos -= c.rpos;
        c.rpos = 0;
        if (c.in.size() - c.wpos < 2048) c.in.resize(c.in.size() * 2);
      }
      size_t room = c.in.size() - c.wpos;
      ssize_t n = recv(c.fd, c.in.data() + c.wpos, room, 0);
      if (n > 0) {
        c.wpos += static_cast<size_t>(n);
        Parse(c);
        if (c.closing || static_cast<size_t>(n) < room) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      c.closing = true;
      return;
    }
  }

  void Flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        c.closing = true;
        return;
      }
    }
    if (c.out_off == c.out.size()) {
      c.out.clear();
      c.out_off = 0;
    }
  }

  // Splits a command line on spaces into at most `max` tokens.
  static int Tokenize(std::string_view line, std::string_view* toks, int max) {
    int n = 0;
    size_t i = 0;
    while (i < line.size() && n < max) {
      while (i < line.size() && line[i] == ' ') ++i;
      if (i >= line.size()) break;
      size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      toks[n++] = line.substr(i, j - i);
      i = j;
    }
    return n;
  }

  static bool ParseSize(std::string_view s, size_t* out) {
    if (s.empty() || s.size() > 10) return false;
    size_t v = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '9') return false;
      v = v * 10 + static_cast<size_t>(ch - '0');
    }
    *out = v;
    return true;
  }

  void Parse(Conn& c) {
    for (;;) {
      if (c.skip > 0) {
        size_t take = std::min(c.skip, c.wpos - c.rpos);
        c.rpos += take;
        c.skip -= take;
        if (c.skip > 0) return;
        if (c.reply_after_skip) c.out.append("STORED\r\n", 8);
        c.reply_after_skip = false;
      }
      const char* base = c.in.data() + c.rpos;
      size_t avail = c.wpos - c.rpos;
      const char* nl = static_cast<const char*>(std::memchr(base, '\n', avail));
      if (nl == nullptr) {
        if (avail > kMaxLine) {
          c.out.append("CLIENT_ERROR line too long\r\n");
          Flush(c);
          c.closing = true;
        }
        return;
      }
      size_t len = static_cast<size_t>(nl - base);
      c.rpos += len + 1;
      if (len > 0 && base[len - 1] == '\r') --len;
      Answer(c, std::string_view(base, len));
      if (c.closing) return;
    }
  }

  void Answer(Conn& c, std::string_view line) {
    std::string_view t[24];
    int n = Tokenize(line, t, 24);
    if (n == 0) {
      c.out.append("ERROR\r\n");
      return;
    }
    std::string_view cmd = t[0];
    if (cmd == "get" || cmd == "gets" || cmd == "gat" || cmd == "gats") {
      if (opt_.value_size > 0) {
        // Walk the line itself rather than the token window, so every key gets its VALUE.
        int first = (cmd[1] == 'a') ? 2 : 1;  // gat/gats carry an exptime before the keys
        size_t i = 0;
        for (int k = 0; k < first; ++k) {
          while (i < line.size() && line[i] == ' ') ++i;
          while (i < line.size() && line[i] != ' ') ++i;
        }
        while (i < line.size()) {
          while (i < line.size() && line[i] == ' ') ++i;
          size_t j = i;
          while (j < line.size() && line[j] != ' ') ++j;
          if (j > i) {
            c.out.append("VALUE ", 6);
            c.out.append(line.data() + i, j - i);
            c.out.append(value_tail_);
          }
          i = j;
        }
      }
      c.out.append("END\r\n", 5);
      return;
    }
    bool is_cas = cmd == "cas";
    if (cmd == "set" || cmd == "add" || cmd == "replace" || cmd == "append" || cmd == "prepend" ||
        is_cas) {
      size_t bytes = 0;
      int noreply_at = is_cas ? 6 : 5;
      if (n < (is_cas ? 6 : 5) || !ParseSize(t[4], &bytes) || bytes > kMaxDataBlock) {
        c.out.append("CLIENT_ERROR bad command line format\r\n");
        return;
      }
      c.skip = bytes + 2;
      c.reply_after_skip = !(n > noreply_at && t[noreply_at] == "noreply");
      return;
    }
    bool noreply = n > 1 && t[n - 1] == "noreply";
    if (cmd == "delete" || cmd == "incr" || cmd == "decr" || cmd == "touch") {
      if (!noreply) c.out.append("NOT_FOUND\r\n");
    } else if (cmd == "version") {
      c.out.append("VERSION 1.6.18-noop\r\n");
    } else if (cmd == "flush_all" || cmd == "verbosity") {
      if (!noreply) c.out.append("OK\r\n");
    } else if (cmd == "stats") {
      c.out.append("END\r\n");
    } else if (cmd == "mn") {
      c.out.append("MN\r\n");
    } else if (cmd == "quit") {
      c.closing = true;
    } else {
      c.out.append("ERROR\r\n");
    }
  }

  const Options& opt_;
  int listen_fd_;
  Loops& loops_;
  int wake_fd_;
  int epoll_fd_ = -1;
  std::mutex inbox_mu_;
  std::vector<int> inbox_;  // connections handed over by other loops; guarded by inbox_mu_
  std::string payload_;
  std::string value_tail_;
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
};

int OpenListener(const Options& o) {
  sockaddr_storage ss{};
  socklen_t len;
  if (o.listen.find(':') != std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET6, o.listen.c_str(), &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(o.port));
    inet_pton(AF_INET, o.listen.c_str(), &a->sin_addr);
    len = sizeof(*a);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 1024) != 0) {
    std::fprintf(stderr, "memshield-noop: bind/listen %s:%d: %s\n", o.listen.c_str(), o.port,
                 std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Options o;
  if (!ParseOptions(argc, argv, &o)) return 2;
  int lfd = OpenListener(o);
  if (lfd < 0) return 1;
  static Loops loops;  // the detached threads use it until the process exits
  for (int i = 0; i < o.threads; ++i) loops.all.push_back(std::make_unique<Loop>(o, lfd, loops));
  for (auto& l : loops.all) std::thread([&l] { l->Run(); }).detach();
  // The loops never return on their own; the process ends after its lifetime or on a signal.
  timespec ts{o.lifetime_s, 0};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  return 0;
}

}  // namespace
}  // namespace memshield::bench

int main(int argc, char** argv) { return memshield::bench::Main(argc, argv); }
