// One shard's index: an open-addressing table of item pointers with Robin Hood linear probing
// and backward-shift deletion. The 16 spare upper bits of each 8-byte slot hold the entry's
// distance from its home slot and an 8-bit tag from its hash, so a probe compares keys only for
// entries with the same home and tag, and a miss stops as soon as it meets an entry closer to
// its own home than the probe is to the key's. That keeps probes short at 90% load: the table
// grows by a quarter there, so slots cost 9-11 bytes per item (doubling at 75% would cost
// 11-21). Any capacity: the home slot is a multiply-shift of the hash. Not thread-safe: the
// shard lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "store/item.h"

namespace memshield::store {

class SlotTable {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  SlotTable() = default;
  ~SlotTable();
  SlotTable(const SlotTable&) = delete;
  SlotTable& operator=(const SlotTable&) = delete;

  // Allocates `capacity` empty slots; false if malloc failed. The top `shard_bits` bits of each
  // hash chose the shard, so the home slot is taken from the bits just below them.
  bool init(size_t capacity, unsigned shard_bits);

  size_t capacity() const { return cap_; }
  size_t size() const { return count_; }
  size_t bytes() const { return slots_ == nullptr ? 0 : cap_ * sizeof(uint64_t); }
  // Grow before inserting past 90% load, or once some entry sits far from home (the distance
  // must fit its byte; at sane loads it stays under a few dozen).
  bool needs_grow() const { return (count_ + 1) * 10 > cap_ * 9 || max_dist_ > kDistLimit; }

  // Slot index of `key` (whose hash is h), or kNone.
  size_t find(std::string_view key, uint64_t h) const;
  // The item in slot i, or nullptr when the slot is empty.
  Item* item_at(size_t i) const { return decode(slots_[i]); }
  // Swaps the item in slot i for another with the same key (so the same tag and home).
  void replace_at(size_t i, Item* it);
  // Whether an insert is safe even without growing first (for when growing failed).
  bool can_insert() const { return count_ + 2 <= cap_ && max_dist_ < 250; }
  // Inserts an item whose key is absent. The caller grows the table first when needs_grow().
  void insert(uint64_t h, Item* it);
  // Empties slot i, shifting the entries after it back by one until one is at home, so
  // lookups need no tombstones. Another entry may now be in slot i.
  void erase_at(size_t i);
  // Grows the capacity by a quarter, rehashing every item; false (unchanged) if malloc failed.
  bool grow();

  // Calls f(Item*) for every item.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; slots_ != nullptr && i < cap_; ++i) {
      if (Item* it = decode(slots_[i])) f(it);
    }
  }

 private:
  static constexpr int kDistShift = 48;
  static constexpr int kTagShift = 56;
  static constexpr uint64_t kPtrMask = (uint64_t{1} << kDistShift) - 1;
  static constexpr unsigned kDistLimit = 128;

  static uint64_t tag_of(uint64_t h) { return h & 0xFF; }  // low bits: far from the home bits
  static uint64_t make(Item* it, unsigned dist, uint64_t tag) {
    return reinterpret_cast<uintptr_t>(it) | (uint64_t{dist} << kDistShift) | (tag << kTagShift);
  }
  static Item* decode(uint64_t slot) { return reinterpret_cast<Item*>(slot & kPtrMask); }
  static unsigned dist_of(uint64_t slot) { return (slot >> kDistShift) & 0xFF; }
  // The 32 hash bits below the shard bits, scaled to the capacity (multiply-shift, no modulo).
  size_t home_of(uint64_t h) const {
    return static_cast<size_t>((((h << shard_bits_) >> 32) * cap_) >> 32);
  }
  size_t next(size_t i) const { return i + 1 == cap_ ? 0 : i + 1; }
  void place(uint64_t h, Item* it);  // insert without the count

  uint64_t* slots_ = nullptr;
  unsigned shard_bits_ = 0;
  unsigned max_dist_ = 0;  // the largest distance any insert has produced since the last grow
  size_t cap_ = 0;
  size_t count_ = 0;
};

}  // namespace memshield::store
