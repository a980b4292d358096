// Leveled logging; see log.h.
#include "common/log.h"

#include <cstdio>
#include <ctime>

namespace memshield::log {

std::atomic<int> g_verbosity{0};

void set_verbosity(int level) { g_verbosity.store(level, std::memory_order_relaxed); }

void write(const char* fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if (n > static_cast<int>(sizeof(buf)) - 2) n = sizeof(buf) - 2;
  buf[n++] = '\n';
  fwrite(buf, 1, n, stderr);
}

void notice(const char* tag, const char* fmt, ...) {
  char msg[3072];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  write("%s memshield %s: %s", ts, tag, msg);
}

}  // namespace memshield::log
