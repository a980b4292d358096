// See tcp_probe.h. Every request costs one pacer slot and one per-probe timeout; replies are
// capped in size so a hostile peer cannot make the audit buffer without bound.
#include "audit/tcp_probe.h"

#include <cstdlib>
#include <map>
#include <string>

#include "audit/reply.h"
#include "audit/sock.h"

namespace memshield::audit {
namespace {

constexpr size_t kMaxLine = 4096;
constexpr size_t kMaxStats = 256 * 1024;

std::optional<uint64_t> stat_u64(const std::map<std::string, std::string>& m, const char* name) {
  auto it = m.find(name);
  if (it == m.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  unsigned long long v = strtoull(it->second.c_str(), &end, 10);
  if (end == nullptr || *end != '\0') return std::nullopt;
  return static_cast<uint64_t>(v);
}

TcpState state_of(ConnectStatus s) {
  switch (s) {
    case ConnectStatus::kOpen:
      return TcpState::kOpen;
    case ConnectStatus::kRefused:
      return TcpState::kClosed;
    case ConnectStatus::kTimeout:
      return TcpState::kFiltered;
    case ConnectStatus::kUnreachable:
      return TcpState::kUnreachable;
    case ConnectStatus::kError:
      return TcpState::kError;
  }
  return TcpState::kError;
}

// Sends `cmd` on an open connection and reads a stats block; empty map if refused or cut.
std::map<std::string, std::string> read_stats(int fd, const char* cmd, Pacer& pacer,
                                              int64_t timeout_ms) {
  if (!pacer.next()) return {};
  const int64_t deadline = monotonic_ms() + pacer.clip(timeout_ms);
  if (send_all(fd, cmd, deadline) != IoStatus::kOk) return {};
  std::string buf;
  if (read_until(fd, &buf, kMaxStats, deadline, stats_reply_complete) != IoStatus::kOk) return {};
  return parse_stats(buf);
}

// Binary "version" on a fresh connection: memcached with SASL answers "auth required".
void probe_binary(const Target& target, Pacer& pacer, int64_t timeout_ms, TcpFinding* f) {
  if (!pacer.next()) return;
  const int64_t deadline = monotonic_ms() + pacer.clip(timeout_ms);
  UniqueFd fd;
  std::string err;
  if (tcp_connect(target, deadline, &fd, &err) != ConnectStatus::kOpen) return;
  if (send_all(fd.get(), binary_version_request(), deadline) != IoStatus::kOk) return;
  std::string buf, version;
  BinaryReply kind = BinaryReply::kIncomplete;
  read_until(fd.get(), &buf, kMaxLine, deadline, [&](const std::string& b) {
    kind = classify_binary_reply(b, &version);
    return kind != BinaryReply::kIncomplete;
  });
  if (kind == BinaryReply::kAuthRequired) {
    f->speaks = Speaks::kMemcachedAuth;
    f->detail = "text protocol refused; binary protocol asks for SASL authentication";
  } else if (kind == BinaryReply::kVersion) {
    f->speaks = Speaks::kMemcached;
    f->version = version;
    f->detail = "answers the binary protocol without authentication";
  }
}

}  // namespace

TcpFinding probe_tcp(const Target& target, Pacer& pacer, int64_t timeout_ms) {
  TcpFinding f;
  if (!pacer.next()) {
    f.detail = "not probed: time budget spent";
    return f;
  }
  const int64_t deadline = monotonic_ms() + pacer.clip(timeout_ms);
  UniqueFd fd;
  ConnectStatus cs = tcp_connect(target, deadline, &fd, &f.detail);
  f.state = state_of(cs);
  if (cs != ConnectStatus::kOpen) {
    if (cs == ConnectStatus::kTimeout) f.detail = "no answer to the TCP handshake";
    return f;
  }
  std::string line;
  IoStatus io = send_all(fd.get(), "version\r\n", deadline);
  if (io == IoStatus::kOk) {
    io = read_until(fd.get(), &line, kMaxLine, deadline,
                    [](const std::string& b) { return b.find('\n') != std::string::npos; });
  }
  if (line.empty()) {
    if (io == IoStatus::kTimeout) {
      f.speaks = Speaks::kSilent;
      f.detail = "accepted the connection but sent nothing within the timeout";
      return f;
    }
    // Closed on a text command: memcached with SASL does this; ask in binary to be sure.
    f.speaks = Speaks::kOther;
    f.detail = "closed the connection without answering";
    probe_binary(target, pacer, timeout_ms, &f);
    return f;
  }
  std::string version;
  // The first line is all we judge by; a peer may send more, or no newline at all.
  if (size_t eol = line.find('\n'); eol != std::string::npos) line.resize(eol);
  switch (classify_text_reply(line, &version)) {
    case ReplyKind::kVersion:
      f.speaks = Speaks::kMemcached;
      f.version = version;
      break;
    case ReplyKind::kAuthRequired:
      f.speaks = Speaks::kMemcachedAuth;
      f.detail = "asks for authentication: " + printable_excerpt(line);
      return f;
    case ReplyKind::kError:
      f.speaks = Speaks::kOther;
      f.detail = "refused 'version': " + printable_excerpt(line);
      probe_binary(target, pacer, timeout_ms, &f);
      return f;
    case ReplyKind::kOther:
      f.speaks = Speaks::kOther;
      f.detail = "speaks another protocol: \"" + printable_excerpt(line) + "\"";
      return f;
  }
  auto stats = read_stats(fd.get(), "stats\r\n", pacer, timeout_ms);
  f.uptime = stat_u64(stats, "uptime");
  f.curr_items = stat_u64(stats, "curr_items");
  f.bytes = stat_u64(stats, "bytes");
  f.limit_maxbytes = stat_u64(stats, "limit_maxbytes");
  f.curr_connections = stat_u64(stats, "curr_connections");
  auto settings = read_stats(fd.get(), "stats settings\r\n", pacer, timeout_ms);
  f.item_size_max = stat_u64(settings, "item_size_max");
  f.udp_port_setting = stat_u64(settings, "udpport");
  if (auto it = settings.find("inter"); it != settings.end()) f.listen = it->second;
  return f;
}

}  // namespace memshield::audit
