#include "common/futex_lock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace memshield {
namespace {

TEST(FutexLock, TryLockFailsWhileHeld) {
  FutexLock mu;
  ASSERT_TRUE(mu.try_lock());
  EXPECT_FALSE(mu.try_lock());
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

// More threads than cores, each critical section a read-modify-write that loses updates
// unless the lock excludes: the total is exact only if no two threads were ever inside at once.
TEST(FutexLock, ExcludesUnderContention) {
  FutexLock mu;
  uint64_t plain = 0;  // deliberately not atomic
  constexpr int kThreads = 6;
  constexpr int kRounds = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        std::lock_guard<FutexLock> g(mu);
        uint64_t v = plain;
        if ((i & 1023) == 0) std::this_thread::yield();  // holders get preempted: waiters sleep
        plain = v + 1;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(plain, uint64_t{kThreads} * kRounds);
}

// A waiter that has gone to sleep on the futex is woken by the unlock.
TEST(FutexLock, SleepingWaiterIsWoken) {
  FutexLock mu;
  mu.lock();
  std::atomic<bool> got{false};
  std::thread waiter([&] {
    mu.lock();
    got.store(true);
    mu.unlock();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // well past the spin
  EXPECT_FALSE(got.load());
  mu.unlock();
  waiter.join();
  EXPECT_TRUE(got.load());
  EXPECT_TRUE(mu.try_lock());  // left free
  mu.unlock();
}

}  // namespace
}  // namespace memshield
