// Small blocking-with-deadline socket helpers for the probes: every call takes an absolute
// deadline (monotonic ms) and returns a status instead of throwing, so a peer that stalls,
// resets or floods us can only end a probe, never hang or crash the audit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "audit/target.h"

namespace memshield::audit {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int release();
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

enum class ConnectStatus { kOpen, kRefused, kTimeout, kUnreachable, kError };
const char* connect_status_name(ConnectStatus s);

// Non-blocking connect, waited for until deadline_ms. *error gets strerror on kError.
ConnectStatus tcp_connect(const Target& t, int64_t deadline_ms, UniqueFd* out, std::string* error);

enum class IoStatus { kOk, kTimeout, kClosed, kError, kTooLarge };

IoStatus send_all(int fd, std::string_view data, int64_t deadline_ms);

// Reads into *buf until `done(*buf)` holds, the peer closes, max_bytes is reached or the
// deadline passes.
template <typename Done>
IoStatus read_until(int fd, std::string* buf, size_t max_bytes, int64_t deadline_ms, Done done);

// One bounded read of whatever is available; used by read_until.
IoStatus read_some(int fd, std::string* buf, size_t max_bytes, int64_t deadline_ms);

template <typename Done>
IoStatus read_until(int fd, std::string* buf, size_t max_bytes, int64_t deadline_ms, Done done) {
  while (!done(*buf)) {
    if (buf->size() >= max_bytes) return IoStatus::kTooLarge;
    IoStatus s = read_some(fd, buf, max_bytes, deadline_ms);
    if (s != IoStatus::kOk) return s;
  }
  return IoStatus::kOk;
}

}  // namespace memshield::audit
