// See sock.h.
#include "audit/sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "audit/pacer.h"

namespace memshield::audit {
namespace {

// Waits for `events` until the deadline; 1 ready, 0 timeout, -1 error.
int wait_fd(int fd, short events, int64_t deadline_ms) {
  for (;;) {
    int64_t left = deadline_ms - monotonic_ms();
    if (left <= 0) return 0;
    pollfd p{fd, events, 0};
    int rc = poll(&p, 1, static_cast<int>(left));
    if (rc > 0) return 1;
    if (rc == 0) return 0;
    if (errno != EINTR) return -1;
  }
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

const char* connect_status_name(ConnectStatus s) {
  switch (s) {
    case ConnectStatus::kOpen:
      return "open";
    case ConnectStatus::kRefused:
      return "closed";
    case ConnectStatus::kTimeout:
      return "filtered";
    case ConnectStatus::kUnreachable:
      return "unreachable";
    case ConnectStatus::kError:
      return "error";
  }
  return "error";
}

ConnectStatus tcp_connect(const Target& t, int64_t deadline_ms, UniqueFd* out, std::string* error) {
  sockaddr_storage ss;
  socklen_t len = t.to_sockaddr(&ss);
  UniqueFd fd(socket(t.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    *error = strerror(errno);
    return ConnectStatus::kError;
  }
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int err = 0;
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS) {
      err = errno;
    } else {
      int w = wait_fd(fd.get(), POLLOUT, deadline_ms);
      if (w == 0) return ConnectStatus::kTimeout;
      socklen_t el = sizeof(err);
      if (w < 0 || getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
    }
  }
  if (err == 0) {
    *out = std::move(fd);
    return ConnectStatus::kOpen;
  }
  *error = strerror(err);
  if (err == ECONNREFUSED) return ConnectStatus::kRefused;
  if (err == ETIMEDOUT) return ConnectStatus::kTimeout;
  if (err == ENETUNREACH || err == EHOSTUNREACH || err == EADDRNOTAVAIL || err == EINVAL ||
      err == ENETDOWN) {
    return ConnectStatus::kUnreachable;
  }
  return ConnectStatus::kError;
}

IoStatus send_all(int fd, std::string_view data, int64_t deadline_ms) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int w = wait_fd(fd, POLLOUT, deadline_ms);
      if (w == 0) return IoStatus::kTimeout;
      if (w < 0) return IoStatus::kError;
      continue;
    }
    return (errno == EPIPE || errno == ECONNRESET) ? IoStatus::kClosed : IoStatus::kError;
  }
  return IoStatus::kOk;
}

IoStatus read_some(int fd, std::string* buf, size_t max_bytes, int64_t deadline_ms) {
  for (;;) {
    char chunk[16384];
    size_t want = std::min(sizeof(chunk), max_bytes - buf->size());
    ssize_t n = recv(fd, chunk, want, 0);
    if (n > 0) {
      buf->append(chunk, static_cast<size_t>(n));
      return IoStatus::kOk;
    }
    if (n == 0) return IoStatus::kClosed;
    if (errno == EINTR) continue;
    if (errno == ECONNRESET) return IoStatus::kClosed;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return IoStatus::kError;
    int w = wait_fd(fd, POLLIN, deadline_ms);
    if (w == 0) return IoStatus::kTimeout;
    if (w < 0) return IoStatus::kError;
  }
}

}  // namespace memshield::audit
