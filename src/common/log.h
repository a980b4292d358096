// Leveled logging to stderr. Level 0 = warnings and start-up notices (always on), 1 = -v,
// 2 = -vv (commands), 3 = -vvv. Cheap when disabled: the level check is one relaxed load.
#pragma once

#include <atomic>
#include <cstdarg>

namespace memshield::log {

extern std::atomic<int> g_verbosity;

inline bool enabled(int level) { return g_verbosity.load(std::memory_order_relaxed) >= level; }
void set_verbosity(int level);

// printf-style; a newline is added.
void write(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Same with a timestamp and a level tag ("WARN", "INFO"); for operator-facing messages.
void notice(const char* tag, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace memshield::log

#define MS_LOG(level, ...)                                      \
  do {                                                          \
    if (::memshield::log::enabled(level)) ::memshield::log::write(__VA_ARGS__); \
  } while (0)
#define MS_WARN(...) ::memshield::log::notice("WARN", __VA_ARGS__)
#define MS_INFO(...) ::memshield::log::notice("INFO", __VA_ARGS__)
