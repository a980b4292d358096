// Linear probing with backward-shift deletion; see slot_table.h. The home slot of a stored item
// is recomputed from its key when needed (deletion, growth) rather than stored, to keep both
// the slot at 8 bytes and the item header at 26.
#include "store/slot_table.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/hash.h"

namespace memshield::store {

SlotTable::~SlotTable() { free(slots_); }

bool SlotTable::init(size_t capacity, unsigned shard_bits) {
  auto* s = static_cast<uint64_t*>(calloc(capacity, sizeof(uint64_t)));
  if (s == nullptr) return false;
  free(slots_);
  slots_ = s;
  shard_bits_ = shard_bits;
  cap_ = capacity;
  count_ = 0;
  return true;
}

uint64_t SlotTable::encode(Item* it, uint64_t h) {
  auto p = reinterpret_cast<uintptr_t>(it);
  // User-space pointers on x86-64 and arm64 fit in 48 bits; if that ever breaks, tagging would
  // silently corrupt the table, so stop instead.
  if ((p & ~kPtrMask) != 0) {
    fprintf(stderr, "memshield: item pointer %p does not fit in 48 bits\n", static_cast<void*>(it));
    abort();
  }
  return p | (uint64_t{tag_of(h)} << kTagShift);
}

size_t SlotTable::home_of(uint64_t slot) const { return index_of(hash_key(decode(slot)->key())); }

size_t SlotTable::find(std::string_view key, uint64_t h) const {
  const uint64_t tag = tag_of(h);
  for (size_t i = index_of(h);; i = next(i)) {
    uint64_t s = slots_[i];
    if (s == 0) return kNone;
    if ((s >> kTagShift) == tag) {
      const Item* it = decode(s);
      if (it->nkey == key.size() && memcmp(it->key_data(), key.data(), key.size()) == 0) return i;
    }
  }
}

void SlotTable::replace_at(size_t i, Item* it) {
  slots_[i] = (slots_[i] & ~kPtrMask) | reinterpret_cast<uintptr_t>(it);
}

void SlotTable::insert(uint64_t h, Item* it) {
  size_t i = index_of(h);
  while (slots_[i] != 0) i = next(i);
  slots_[i] = encode(it, h);
  ++count_;
}

void SlotTable::erase_at(size_t i) {
  size_t hole = i;
  for (size_t j = next(i);; j = next(j)) {
    uint64_t s = slots_[j];
    if (s == 0) break;
    // The member at j may fill the hole only if the hole lies on its probe path, i.e. its home
    // is not strictly between the hole and j (cyclically).
    size_t home = home_of(s);
    if (distance(home, j) >= distance(hole, j)) {
      slots_[hole] = s;
      hole = j;
    }
  }
  slots_[hole] = 0;
  --count_;
}

bool SlotTable::grow() {
  const size_t new_cap = cap_ + (cap_ + 3) / 4;
  auto* ns = static_cast<uint64_t*>(calloc(new_cap, sizeof(uint64_t)));
  if (ns == nullptr) return false;
  uint64_t* old = slots_;
  const size_t old_cap = cap_;
  slots_ = ns;
  cap_ = new_cap;
  for (size_t i = 0; i < old_cap; ++i) {
    uint64_t s = old[i];
    if (s == 0) continue;
    size_t j = index_of(hash_key(decode(s)->key()));
    while (ns[j] != 0) j = next(j);
    ns[j] = s;
  }
  free(old);
  return true;
}

}  // namespace memshield::store
