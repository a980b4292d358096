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

namespace {

void vnotice(const char* tag, const char* fmt, va_list ap) {
  char msg[3072];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
  write("%s memshield %s: %s", ts, tag, msg);
}

void plain_notice(const char* tag, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotice(tag, fmt, ap);
  va_end(ap);
}

}  // namespace

void notice(const char* tag, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vnotice(tag, fmt, ap);
  va_end(ap);
}

bool LineLimiter::admit(int64_t now_sec, uint64_t* suppressed) {
  int64_t w = window_.load(std::memory_order_relaxed);
  if (now_sec > w && window_.compare_exchange_strong(w, now_sec, std::memory_order_relaxed)) {
    used_.store(0, std::memory_order_relaxed);
  }
  // Checked before counting, so a flood does not wrap the counter.
  if (used_.load(std::memory_order_relaxed) < per_second_ &&
      used_.fetch_add(1, std::memory_order_relaxed) < per_second_) {
    *suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
    return true;
  }
  suppressed_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

int64_t monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec);
}

void limited_notice(LineLimiter& limiter, const char* tag, const char* fmt, ...) {
  uint64_t suppressed = 0;
  if (!limiter.admit(monotonic_seconds(), &suppressed)) return;
  if (suppressed > 0) {
    plain_notice(tag, "suppressed %llu similar messages",
                 static_cast<unsigned long long>(suppressed));
  }
  va_list ap;
  va_start(ap, fmt);
  vnotice(tag, fmt, ap);
  va_end(ap);
}

}  // namespace memshield::log
