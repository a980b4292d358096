// See fd_pass.h.
#include "net/fd_pass.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace memshield::net {

void MessageReader::memcpy_(void* d, const void* s, size_t n) { memcpy(d, s, n); }

bool send_message(int sock, std::string_view payload, const std::vector<int>& fds) {
  if (payload.size() > kMaxMessageBytes || fds.size() > kMaxPassedFds) return false;
  char empty = 0;
  iovec iov{payload.empty() ? &empty : const_cast<char*>(payload.data()),
            payload.empty() ? 1 : payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> control;
  if (!fds.empty()) {
    control.assign(CMSG_SPACE(sizeof(int) * fds.size()), 0);
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (int attempt = 0; attempt < 1000; ++attempt) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n) == iov.iov_len;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return false;
    pollfd p{sock, POLLOUT, 0};
    poll(&p, 1, 10);
  }
  return false;
}

bool recv_message(int sock, int timeout_ms, std::string* payload, std::vector<int>* fds) {
  pollfd p{sock, POLLIN, 0};
  for (;;) {
    int r = poll(&p, 1, timeout_ms);
    if (r > 0) break;
    if (r < 0 && errno == EINTR) continue;
    return false;
  }
  payload->assign(kMaxMessageBytes, '\0');
  iovec iov{payload->data(), payload->size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); n >= 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      fds->push_back(fd);
    }
  }
  if (n <= 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) return false;
  payload->resize(static_cast<size_t>(n));
  return true;
}

}  // namespace memshield::net
