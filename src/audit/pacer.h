// Keeps the audit polite and bounded: every probe first asks the pacer, which spaces probes at
// most --rate per second and refuses once the --max-time budget is spent. Per-probe timeouts are
// clipped to what is left of that budget, so no single stalled peer can stretch a run.
#pragma once

#include <cstdint>

namespace memshield::audit {

int64_t monotonic_ms();

class Pacer {
 public:
  // rate: probes per second (> 0); max_time_ms: budget for the whole run, from now.
  Pacer(double rate, int64_t max_time_ms);

  // Sleeps until the next probe may start. False when the time budget is spent.
  bool next();
  // A per-probe timeout cut to the remaining budget (never negative).
  int64_t clip(int64_t timeout_ms) const;
  bool expired() const { return monotonic_ms() >= deadline_ms_; }
  uint64_t probes() const { return probes_; }

 private:
  int64_t interval_us_;
  int64_t next_us_ = 0;
  int64_t deadline_ms_;
  uint64_t probes_ = 0;
};

}  // namespace memshield::audit
