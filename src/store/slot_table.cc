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

bool SlotTable::init(unsigned cap_log2) {
  size_t cap = size_t{1} << cap_log2;
  auto* s = static_cast<uint64_t*>(calloc(cap, sizeof(uint64_t)));
  if (s == nullptr) return false;
  free(slots_);
  slots_ = s;
  mask_ = cap - 1;
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
  return p | (uint64_t{shard_hash_tag(h)} << kTagShift);
}

size_t SlotTable::home_of(uint64_t slot) const {
  return hash_key(decode(slot)->key()) & mask_;
}

size_t SlotTable::find(std::string_view key, uint64_t h) const {
  const uint64_t tag = shard_hash_tag(h);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
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
  size_t i = h & mask_;
  while (slots_[i] != 0) i = (i + 1) & mask_;
  slots_[i] = encode(it, h);
  ++count_;
}

void SlotTable::erase_at(size_t i) {
  size_t hole = i;
  for (size_t j = (i + 1) & mask_;; j = (j + 1) & mask_) {
    uint64_t s = slots_[j];
    if (s == 0) break;
    // The member at j may fill the hole only if the hole lies on its probe path, i.e. its home
    // is not strictly between the hole and j (cyclically).
    size_t home = home_of(s);
    if (((j - home) & mask_) >= ((j - hole) & mask_)) {
      slots_[hole] = s;
      hole = j;
    }
  }
  slots_[hole] = 0;
  --count_;
}

bool SlotTable::grow() {
  size_t new_cap = capacity() * 2;
  auto* ns = static_cast<uint64_t*>(calloc(new_cap, sizeof(uint64_t)));
  if (ns == nullptr) return false;
  size_t new_mask = new_cap - 1;
  for (size_t i = 0; i <= mask_; ++i) {
    uint64_t s = slots_[i];
    if (s == 0) continue;
    size_t j = hash_key(decode(s)->key()) & new_mask;
    while (ns[j] != 0) j = (j + 1) & new_mask;
    ns[j] = s;
  }
  free(slots_);
  slots_ = ns;
  mask_ = new_mask;
  return true;
}

}  // namespace memshield::store
