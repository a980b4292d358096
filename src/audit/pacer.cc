// See pacer.h.
#include "audit/pacer.h"

#include <time.h>

#include <algorithm>

namespace memshield::audit {
namespace {
int64_t monotonic_us() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}
}  // namespace

int64_t monotonic_ms() { return monotonic_us() / 1000; }

Pacer::Pacer(double rate, int64_t max_time_ms)
    : interval_us_(static_cast<int64_t>(1e6 / (rate > 0 ? rate : 1))),
      deadline_ms_(monotonic_ms() + max_time_ms) {}

bool Pacer::next() {
  int64_t now = monotonic_us();
  if (next_us_ > now) {
    if (next_us_ / 1000 >= deadline_ms_) return false;
    int64_t wait = next_us_ - now;
    timespec ts{static_cast<time_t>(wait / 1000000), static_cast<long>((wait % 1000000) * 1000)};
    while (nanosleep(&ts, &ts) != 0) {
    }
    now = monotonic_us();
  }
  if (now / 1000 >= deadline_ms_) return false;
  next_us_ = std::max(next_us_, now) + interval_us_;
  ++probes_;
  return true;
}

int64_t Pacer::clip(int64_t timeout_ms) const {
  return std::max<int64_t>(0, std::min(timeout_ms, deadline_ms_ - monotonic_ms()));
}

}  // namespace memshield::audit
