// Internal: the bounded, thread-safe map from address to a small per-address record that the rate
// limiter and the amplification budget both need. Set-associative (kWays slots per set, the least
// recently used slot of a full set giving way), so lookups and evictions are O(1), memory is fixed
// at construction and the hot path never allocates. Sets are hashed with a per-table random seed
// so that a sender cannot choose addresses that crowd one set and evict a chosen victim.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <type_traits>

#include "common/hash.h"
#include "security/ip_address.h"

namespace memshield::security::internal {

template <class Value>
class AddressTable {
  static_assert(std::is_trivially_copyable_v<Value> &&
                    std::is_trivially_default_constructible_v<Value>,
                "slots are calloc'ed and all-zero must be a valid fresh record");

 public:
  static constexpr size_t kWays = 8;
  static constexpr size_t kStripes = 64;

  explicit AddressTable(size_t max_entries) {
    if (max_entries == 0) max_entries = 1;
    // A quarter-billion addresses is far past any sane setting; the cap keeps the size below
    // from overflowing.
    if (max_entries > kMaxEntries) max_entries = kMaxEntries;
    ways_ = max_entries < kWays ? max_entries : kWays;
    sets_ = max_entries / ways_;
    // calloc: the pages of a large, mostly idle table are only touched when first used. Aligned
    // by hand to a cache line so that sets guarded by different stripes do not share one.
    raw_.reset(std::calloc(sets_ * ways_ * sizeof(Slot) + kCacheLine, 1));
    if (!raw_) {
      std::fprintf(stderr, "memshield: cannot allocate an address table of %zu entries\n",
                   max_entries);
      std::abort();
    }
    uintptr_t at = reinterpret_cast<uintptr_t>(raw_.get());
    slots_ = reinterpret_cast<Slot*>((at + kCacheLine - 1) & ~uintptr_t{kCacheLine - 1});
    std::random_device rd;
    seed_ = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }

  size_t capacity() const { return sets_ * ways_; }

  // Finds `ip`'s record and calls fn(Value*) under its stripe's lock. If absent and `insert`, a
  // slot is claimed (empty, else the set's least recently used) and zeroed first; if absent and
  // not `insert`, fn gets nullptr. Returns fn's result.
  template <class Fn>
  auto visit(const IpAddress& ip, bool insert, Fn&& fn) {
    Key key = key_of(ip);
    uint64_t h = XXH3_64bits_withSeed(&key, sizeof(key), seed_);
    size_t set = static_cast<size_t>((static_cast<unsigned __int128>(h) * sets_) >> 64);
    Stripe& stripe = stripes_[set % kStripes];
    Slot* first = &slots_[set * ways_];

    std::lock_guard<std::mutex> lock(stripe.mu);
    Slot* victim = first;
    for (size_t i = 0; i < ways_; ++i) {
      Slot* s = first + i;
      if (s->stamp != 0 && s->key.hi == key.hi && s->key.lo == key.lo) {
        s->stamp = ++stripe.clock;
        return fn(&s->value);
      }
      if (s->stamp < victim->stamp) victim = s;
    }
    if (!insert) return fn(static_cast<Value*>(nullptr));
    victim->key = key;
    victim->stamp = ++stripe.clock;
    victim->value = Value{};
    return fn(&victim->value);
  }

  // Occupied slots; walks the whole table, so for tests and stats, not the data path.
  size_t size() const {
    size_t n = 0;
    for (size_t set = 0; set < sets_; ++set) {
      std::lock_guard<std::mutex> lock(stripes_[set % kStripes].mu);
      for (size_t i = 0; i < ways_; ++i) n += slots_[set * ways_ + i].stamp != 0;
    }
    return n;
  }

 private:
  // IPv4 stored as its mapped IPv6 form: one 16-byte key space where the families cannot collide
  // (IpAddress never holds a mapped address as IPv6).
  struct Key {
    uint64_t hi;
    uint64_t lo;
  };
  struct Slot {
    Key key;
    uint64_t stamp;  // 0 = empty; else the stripe clock at the last touch (LRU order)
    Value value;
  };
  struct alignas(64) Stripe {
    std::mutex mu;
    uint64_t clock = 0;
  };
  struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
  };
  static constexpr uintptr_t kCacheLine = 64;
  static constexpr size_t kMaxEntries = size_t{1} << 28;

  static Key key_of(const IpAddress& ip) {
    uint8_t raw[16] = {};
    if (ip.v4) {
      raw[10] = 0xff;
      raw[11] = 0xff;
      std::memcpy(raw + 12, ip.bytes, 4);
    } else {
      std::memcpy(raw, ip.bytes, 16);
    }
    Key key;
    std::memcpy(&key, raw, sizeof(key));
    return key;
  }

  size_t ways_ = kWays;
  size_t sets_ = 1;
  uint64_t seed_ = 0;
  std::unique_ptr<void, FreeDeleter> raw_;
  Slot* slots_ = nullptr;  // inside raw_
  mutable Stripe stripes_[kStripes];
};

}  // namespace memshield::security::internal
