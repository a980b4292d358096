// One shard's index: an open-addressing table (linear probing, backward-shift deletion) of item
// pointers tagged with 16 hash bits in their unused upper bits, so a probe that meets another
// key's slot almost never dereferences that item. Any capacity (not just powers of two): it
// grows by a quarter at 80% load, so slots cost 10-12.5 bytes per item instead of the 11-21 of
// doubling at 75%. Not thread-safe: the shard lock guards it.
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
  // hash chose the shard, so the slot index is taken from the bits just below them.
  bool init(size_t capacity, unsigned shard_bits);

  size_t capacity() const { return cap_; }
  size_t size() const { return count_; }
  size_t bytes() const { return slots_ == nullptr ? 0 : cap_ * sizeof(uint64_t); }
  // Past ~0.8 load linear probing's miss cost climbs steeply (13 slots, two cache lines, per
  // miss at 0.8); grow before inserting beyond it.
  bool needs_grow() const { return (count_ + 1) * 5 > cap_ * 4; }

  // Slot index of `key` (whose hash is h), or kNone.
  size_t find(std::string_view key, uint64_t h) const;
  // The item in slot i, or nullptr when the slot is empty.
  Item* item_at(size_t i) const { return decode(slots_[i]); }
  // Swaps the item in slot i for another with the same key (so the same tag and home).
  void replace_at(size_t i, Item* it);
  // Inserts an item whose key is absent. The caller grows the table first when needs_grow().
  void insert(uint64_t h, Item* it);
  // Empties slot i, shifting later members of its probe run back so lookups need no tombstones.
  void erase_at(size_t i);
  // Grows the capacity by a quarter, rehashing every item; false (unchanged) if malloc failed.
  bool grow();

  // Calls f(Item*) for every item; used by the destructor of the store.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; slots_ != nullptr && i < cap_; ++i) {
      if (Item* it = decode(slots_[i])) f(it);
    }
  }

  // Tags come from the low bits, far from the high bits that pick shard and slot.
  static uint64_t tag_of(uint64_t h) { return h & 0xFFFF; }

 private:
  static constexpr int kTagShift = 48;
  static constexpr uint64_t kPtrMask = (uint64_t{1} << kTagShift) - 1;

  static uint64_t encode(Item* it, uint64_t h);
  static Item* decode(uint64_t slot) { return reinterpret_cast<Item*>(slot & kPtrMask); }
  // The 32 hash bits below the shard bits, scaled to the capacity (multiply-shift, no modulo).
  size_t index_of(uint64_t h) const {
    return static_cast<size_t>((((h << shard_bits_) >> 32) * cap_) >> 32);
  }
  size_t home_of(uint64_t slot) const;
  size_t next(size_t i) const { return i + 1 == cap_ ? 0 : i + 1; }
  // Steps from a to b going forward, wrapping at the end.
  size_t distance(size_t a, size_t b) const { return b >= a ? b - a : b + cap_ - a; }

  uint64_t* slots_ = nullptr;
  unsigned shard_bits_ = 0;
  size_t cap_ = 0;
  size_t count_ = 0;
};

}  // namespace memshield::store
