// Relative-seconds clock; see clock.h.
#include "common/clock.h"

namespace memshield {
namespace {
constexpr int64_t kStartSlack = 62;  // memcached: ITEM_UPDATE_INTERVAL + 2

int64_t monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}
}  // namespace

Clock::Clock()
    : process_started_(time(nullptr) - kStartSlack),
      monotonic_start_(monotonic_seconds() - kStartSlack),
      current_(kStartSlack) {}

void Clock::tick() {
  current_.store(static_cast<RelTime>(monotonic_seconds() - monotonic_start_ +
                                       offset_.load(std::memory_order_relaxed)),
                 std::memory_order_relaxed);
}

void Clock::rebase(time_t process_started) {
  if (process_started >= process_started_) return;
  offset_.fetch_add(process_started_ - process_started);
  process_started_ = process_started;
  tick();
}

void Clock::advance_for_testing(RelTime seconds) {
  offset_.fetch_add(seconds);
  tick();
}

RelTime Clock::expiry_from_protocol(int64_t exptime) const {
  if (exptime < 0) exptime = kRealtimeMaxDelta + 1;  // negative: already expired
  if (exptime == 0) return 0;
  if (exptime > kRealtimeMaxDelta) {
    // Absolute unix time; at or before the epoch means "expired", never "immortal".
    if (exptime <= process_started_) return 1;
    return static_cast<RelTime>(exptime - process_started_);
  }
  return static_cast<RelTime>(exptime + now());
}

}  // namespace memshield
