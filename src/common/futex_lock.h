// A mutex in one 32-bit word. Uncontended, lock and unlock are one atomic instruction each,
// inline; glibc's pthread_mutex is a call and about 25 instructions each way (callgrind: ~55 of
// the ~920 instructions a multiget spent per key, all for shard locks nobody else held). When it
// is contended a waiter spins briefly (a shard's critical sections are a few hundred
// nanoseconds) and then sleeps on a futex. Three states, after Drepper's "Futexes Are Tricky":
// unlock makes a system call only when someone may be asleep.
#pragma once

#include <atomic>
#include <cstdint>

namespace memshield {

class FutexLock {
 public:
  FutexLock() = default;
  FutexLock(const FutexLock&) = delete;
  FutexLock& operator=(const FutexLock&) = delete;

  void lock() {
    uint32_t seen = kFree;
    if (!state_.compare_exchange_strong(seen, kLocked, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
      lock_contended();
    }
  }
  bool try_lock() {
    uint32_t seen = kFree;
    return state_.compare_exchange_strong(seen, kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }
  void unlock() {
    if (state_.exchange(kFree, std::memory_order_release) == kSleepers) wake_one();
  }

 private:
  static constexpr uint32_t kFree = 0;
  static constexpr uint32_t kLocked = 1;    // held, nobody asleep
  static constexpr uint32_t kSleepers = 2;  // held, and a waiter may be asleep on the futex

  void lock_contended();
  void wake_one();

  std::atomic<uint32_t> state_{kFree};
};

}  // namespace memshield
