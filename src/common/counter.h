// A statistics counter written by one thread and read by any: relaxed atomic load+store instead
// of fetch_add, so the hot path costs a plain add while `stats` readers never see torn values.
#pragma once

#include <atomic>
#include <cstdint>

namespace memshield {

class Counter {
 public:
  void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  void sub(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }
  void reset() { v_.store(0, std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

}  // namespace memshield
