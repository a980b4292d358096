// See store_probe.h. Uploading a value takes longer than a one-line probe, so the store gets
// five per-probe timeouts.
#include "audit/store_probe.h"

#include <sys/random.h>

#include <cstdio>

#include "audit/reply.h"
#include "audit/sock.h"

namespace memshield::audit {
namespace {

// Sends one command and reads one reply line on a fresh connection.
bool one_line_exchange(const Target& target, const std::string& request, Pacer& pacer,
                       int64_t timeout_ms, std::string* line) {
  if (!pacer.next()) {
    *line = "time budget spent";
    return false;
  }
  const int64_t deadline = monotonic_ms() + pacer.clip(timeout_ms);
  UniqueFd fd;
  std::string err;
  if (tcp_connect(target, deadline, &fd, &err) != ConnectStatus::kOpen) {
    *line = "connect failed: " + err;
    return false;
  }
  if (send_all(fd.get(), request, deadline) != IoStatus::kOk) {
    *line = "send failed";
    return false;
  }
  std::string buf;
  read_until(fd.get(), &buf, 4096, deadline,
             [](const std::string& b) { return b.find('\n') != std::string::npos; });
  *line = printable_excerpt(buf.substr(0, buf.find('\n')));
  return !line->empty();
}

}  // namespace

std::string make_probe_key() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof(r), 0) != sizeof(r)) r = static_cast<uint64_t>(monotonic_ms());
  char buf[40];
  snprintf(buf, sizeof(buf), "memshield-audit-%016llx", static_cast<unsigned long long>(r));
  return buf;
}

StoreOutcome store_probe_value(const Target& target, const std::string& key, uint64_t value_bytes,
                               Pacer& pacer, int64_t timeout_ms) {
  StoreOutcome out;
  static const std::string kFill = "memshield-audit probe value, safe to delete. ";
  for (uint64_t size = value_bytes; size >= 1000; size /= 10) {
    std::string req = "set " + key + " 0 " + std::to_string(kProbeExpirySeconds) + " " +
                      std::to_string(size) + "\r\n";
    req.reserve(req.size() + size + 2);
    for (uint64_t i = 0; i < size; ++i) req += kFill[i % kFill.size()];
    req += "\r\n";
    std::string line;
    one_line_exchange(target, req, pacer, timeout_ms * 5, &line);
    out.detail = line;
    if (line == "STORED") {
      out.stored = true;
      out.value_bytes = size;
      return out;
    }
    if (line.find("too large") == std::string::npos) return out;
  }
  return out;
}

bool delete_probe_value(const Target& target, const std::string& key, Pacer& pacer,
                        int64_t timeout_ms, std::string* detail) {
  one_line_exchange(target, "delete " + key + "\r\n", pacer, timeout_ms, detail);
  return *detail == "DELETED" || *detail == "NOT_FOUND";
}

}  // namespace memshield::audit
