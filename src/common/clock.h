// Server time in whole seconds, as memcached keeps it: "relative time" counts seconds since a
// process epoch placed a little before start, so that 0 can mean "never" for expiry and
// recently started servers still have room below "now". A ticker thread advances it once a second.
#pragma once

#include <atomic>
#include <cstdint>
#include <ctime>

namespace memshield {

using RelTime = uint32_t;

// memcached: exptimes up to 30 days are relative, larger ones are absolute unix times.
inline constexpr int64_t kRealtimeMaxDelta = 60 * 60 * 24 * 30;

class Clock {
 public:
  // Starts the relative clock so that "now" is 62 s past the epoch, as memcached does
  // (ITEM_UPDATE_INTERVAL + 2): items stored in the first minute still compare sanely.
  Clock();

  RelTime now() const { return current_.load(std::memory_order_relaxed); }
  // Unix time of the process epoch (relative time 0).
  time_t process_started() const { return process_started_; }
  time_t unix_now() const { return process_started_ + now(); }

  // Re-reads the monotonic clock; called by the ticker (and tests).
  void tick();
  // Warm restart: takes over an earlier process's epoch, so the relative times its items carry
  // (expiry, last access, a pending flush) keep their meaning and the downtime counts as time
  // passed. Before any other thread reads the clock. An epoch later than ours is ignored.
  void rebase(time_t process_started);
  // Test hook: moves the clock forward without sleeping.
  void advance_for_testing(RelTime seconds);

  // memcached's realtime(EXPTIME_TO_POSITIVE_TIME(exptime)): the protocol's exptime argument
  // to the relative time at which the item expires (0 = never).
  RelTime expiry_from_protocol(int64_t exptime) const;

 private:
  time_t process_started_;
  int64_t monotonic_start_;
  std::atomic<int64_t> offset_{0};
  std::atomic<RelTime> current_;
};

}  // namespace memshield
