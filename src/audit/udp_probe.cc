// See udp_probe.h. The socket is connect()ed to the target so the kernel hands us only its
// datagrams and reports an ICMP "port unreachable" as ECONNREFUSED, which tells "closed" apart
// from "no answer".
#include "audit/udp_probe.h"

#include <errno.h>
#include <poll.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <cstring>
#include <string>
#include <vector>

#include "audit/reply.h"
#include "audit/sock.h"
#include "protocol/udp_frame/udp_frame.h"

namespace memshield::audit {
namespace {

namespace udp = memshield::protocol::udp;

uint16_t random_request_id() {
  uint16_t id = 0;
  if (getrandom(&id, sizeof(id), GRND_NONBLOCK) != sizeof(id)) {
    id = static_cast<uint16_t>(monotonic_ms());
  }
  return id;
}

void grow_receive_buffer(int fd) {
  int size = kUdpReceiveBuffer;
  // SO_RCVBUFFORCE passes net.core.rmem_max when we may (root); otherwise take what we get.
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
}

}  // namespace

UdpProbeResult probe_udp(const Target& target, uint16_t port, std::string_view name,
                         std::string_view command, Pacer& pacer, int64_t timeout_ms) {
  UdpProbeResult r;
  r.name = std::string(name);
  const uint64_t overhead = target.address.family == AF_INET6 ? kIpv6UdpOverhead : kIpv4UdpOverhead;
  const uint16_t id = random_request_id();
  std::string request(udp::kHeaderSize, '\0');
  udp::encode_header({id, 0, 1, 0}, request.data());
  request.append(command);
  r.request_bytes = request.size();
  r.request_wire_bytes = request.size() + overhead;
  if (!pacer.next()) {
    r.detail = "not sent: time budget spent";
    return r;
  }
  const int64_t deadline = monotonic_ms() + pacer.clip(timeout_ms);

  Target dest = target;
  dest.port = port;
  sockaddr_storage ss;
  socklen_t len = dest.to_sockaddr(&ss);
  UniqueFd fd(socket(target.address.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid() || connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    r.state = UdpProbeState::kError;
    r.detail = strerror(errno);
    return r;
  }
  grow_receive_buffer(fd.get());
  if (send(fd.get(), request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    r.state = errno == ECONNREFUSED ? UdpProbeState::kRefused : UdpProbeState::kError;
    r.detail = strerror(errno);
    return r;
  }

  std::vector<bool> seen;
  std::string first_datagram;
  std::vector<char> buf(65536);
  r.state = UdpProbeState::kNoAnswer;
  while (!(r.datagrams_expected != 0 && r.datagrams == r.datagrams_expected)) {
    ssize_t n = recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ECONNREFUSED) {
        if (r.datagrams == 0) r.state = UdpProbeState::kRefused;
        break;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        r.state = UdpProbeState::kError;
        r.detail = strerror(errno);
        break;
      }
      int64_t left = deadline - monotonic_ms();
      if (left <= 0) break;
      pollfd p{fd.get(), POLLIN, 0};
      poll(&p, 1, static_cast<int>(left));
      continue;
    }
    std::string_view d(buf.data(), static_cast<size_t>(n));
    udp::FrameHeader h;
    if (!udp::decode_header(d, &h) || h.request_id != id || h.total == 0) {
      continue;  // not an answer to this probe
    }
    // Every byte the server sent us counts towards amplification, even a duplicate.
    r.state = UdpProbeState::kAnswered;
    r.response_bytes += d.size();
    r.response_wire_bytes += d.size() + overhead;
    if (seen.empty()) {
      seen.assign(h.total, false);
      r.datagrams_expected = h.total;
    }
    if (h.sequence < seen.size() && !seen[h.sequence]) {
      seen[h.sequence] = true;
      ++r.datagrams;
    }
    if (h.sequence == 0) first_datagram = std::string(d.substr(udp::kHeaderSize));
  }
  if (!first_datagram.empty()) {
    r.first_line = printable_excerpt(first_datagram.substr(0, first_datagram.find('\r')), 60);
  }
  if (r.state == UdpProbeState::kAnswered && !r.complete()) {
    r.detail = "got " + std::to_string(r.datagrams) + " of " +
               std::to_string(r.datagrams_expected) +
               " datagrams before the timeout; the factor is a lower bound";
  } else if (r.state == UdpProbeState::kNoAnswer) {
    r.detail = "no answer within the timeout (closed and silent, or filtered)";
  } else if (r.state == UdpProbeState::kRefused) {
    r.detail = "port unreachable (closed)";
  }
  return r;
}

}  // namespace memshield::audit
