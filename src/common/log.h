// Leveled logging to stderr. Level 0 = warnings and start-up notices (always on), 1 = -v,
// 2 = -vv (commands), 3 = -vvv. Cheap when disabled: the level check is one relaxed load.
#pragma once

#include <atomic>
#include <cstdarg>
#include <cstdint>

namespace memshield::log {

extern std::atomic<int> g_verbosity;

inline bool enabled(int level) { return g_verbosity.load(std::memory_order_relaxed) >= level; }
void set_verbosity(int level);

// printf-style; a newline is added.
void write(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Same with a timestamp and a level tag ("WARN", "INFO"); for operator-facing messages.
void notice(const char* tag, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Caps how many lines one call site writes per second, so that a peer who can trigger a log line
// (a refused connection, a refused datagram) cannot flood the log. A fixed one-second window:
// the first `per_second` lines of each second pass; the rest are counted and reported as one
// "suppressed N similar messages" line just before the next line that passes. Lock-free; a race
// at a window boundary can let a line or two extra through, never an unbounded number.
class LineLimiter {
 public:
  explicit LineLimiter(uint32_t per_second) : per_second_(per_second) {}
  // True if a line may be written at `now_sec` (any monotonic seconds count). On true,
  // *suppressed is the number of lines refused since the last one allowed.
  bool admit(int64_t now_sec, uint64_t* suppressed);

 private:
  const uint32_t per_second_;
  std::atomic<int64_t> window_{INT64_MIN};
  std::atomic<uint32_t> used_{0};
  std::atomic<uint64_t> suppressed_{0};
};

// Coarse monotonic seconds, for LineLimiter.
int64_t monotonic_seconds();
// Writes a notice through `limiter`: the suppressed-count line first if lines were dropped.
void limited_notice(LineLimiter& limiter, const char* tag, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace memshield::log

#define MS_LOG(level, ...)                                                      \
  do {                                                                          \
    if (::memshield::log::enabled(level)) ::memshield::log::write(__VA_ARGS__); \
  } while (0)
#define MS_WARN(...) ::memshield::log::notice("WARN", __VA_ARGS__)
#define MS_INFO(...) ::memshield::log::notice("INFO", __VA_ARGS__)
// For lines a peer can trigger: at verbosity >= level, at most per_second lines a second from
// this call site, then one "suppressed N similar messages" line. Timestamped, tagged like MS_INFO.
#define MS_NOTICE_RATELIMITED(level, tag, per_second, ...)                  \
  do {                                                                      \
    if (::memshield::log::enabled(level)) {                                 \
      static ::memshield::log::LineLimiter ms_line_limiter_(per_second);    \
      ::memshield::log::limited_notice(ms_line_limiter_, tag, __VA_ARGS__); \
    }                                                                       \
  } while (0)
#define MS_WARN_RATELIMITED(per_second, ...) \
  MS_NOTICE_RATELIMITED(0, "WARN", per_second, __VA_ARGS__)
#define MS_INFO_RATELIMITED(level, per_second, ...) \
  MS_NOTICE_RATELIMITED(level, "INFO", per_second, __VA_ARGS__)
