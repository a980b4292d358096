// The anti-amplification budget: per source address, over a sliding window, memshield may send
// at most `factor` times the UDP payload bytes it received from that address (QUIC's rule for
// unvalidated addresses, RFC 9000 section 8). A response that does not fit is not sent at all.
// Thread-safe; memory bounded: when the table is full the stalest address is forgotten, which
// only loses that address's credit (a forgotten address starts again from zero).
#pragma once

#include <cstddef>
#include <memory>

#include "security/ip_address.h"

namespace memshield::security {

struct BudgetConfig {
  double factor = 1.0;            // 0 <= factor <= 3
  double window_seconds = 10.0;   // credit older than this expires
  size_t max_addresses = 65536;
};

class AmplificationBudget {
 public:
  explicit AmplificationBudget(const BudgetConfig& config);
  ~AmplificationBudget();

  // Credits `bytes` received from `ip` (the whole UDP payload, frame header included).
  void on_received(const IpAddress& ip, size_t bytes, double now_seconds);
  // If sent-in-window + bytes <= factor * received-in-window, records the spend and returns
  // true; otherwise returns false and records nothing.
  bool try_spend(const IpAddress& ip, size_t bytes, double now_seconds);
  // Addresses currently in the table (<= max_addresses); walks the table, for stats and tests.
  size_t tracked_addresses() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memshield::security
