// The contended half of FutexLock; see futex_lock.h.
#include "common/futex_lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace memshield {
namespace {

constexpr int kSpins = 64;  // ~1-2 us of pause instructions before sleeping

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void FutexLock::lock_contended() {
  for (int i = 0; i < kSpins; ++i) {
    cpu_relax();
    uint32_t seen = state_.load(std::memory_order_relaxed);
    if (seen == kFree && state_.compare_exchange_weak(seen, kLocked, std::memory_order_acquire,
                                                      std::memory_order_relaxed)) {
      return;
    }
    if (seen == kSleepers) break;  // others already sleep: queue behind them
  }
  // From here the word says "sleepers" whenever we hold it or wait, so the holder's unlock
  // wakes one. Taking it this way over-reports sleepers at worst, which costs a spare wake-up.
  while (state_.exchange(kSleepers, std::memory_order_acquire) != kFree) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, kSleepers,
            nullptr, nullptr, 0);
  }
}

void FutexLock::wake_one() {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr,
          nullptr, 0);
}

}  // namespace memshield
