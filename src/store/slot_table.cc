// Robin Hood probing with backward-shift deletion; see slot_table.h. Entries along a probe run
// are ordered by distance from home (never decreasing by more than one step to the next slot),
// which is what lets a miss stop early and a deletion shift entries back without looking at
// their keys.
#include "store/slot_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/hash.h"

namespace memshield::store {
namespace {

// Gives a retired table's whole pages back before freeing it. malloc keeps freed chunks of this
// size resident for reuse, but the next, bigger table never fits in them: without this, the
// tables' growth left about 1.5 bytes per item of dead heap at a million items.
void free_table(uint64_t* slots, size_t count) {
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(slots) + page - 1) & ~(page - 1);
  const auto end = (reinterpret_cast<uintptr_t>(slots + count)) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  free(slots);
}

}  // namespace

SlotTable::~SlotTable() { free(slots_); }

bool SlotTable::init(size_t capacity, unsigned shard_bits) {
  auto* s = static_cast<uint64_t*>(calloc(capacity, sizeof(uint64_t)));
  if (s == nullptr) return false;
  free(slots_);
  slots_ = s;
  shard_bits_ = shard_bits;
  cap_ = capacity;
  count_ = 0;
  max_dist_ = 0;
  return true;
}

size_t SlotTable::find(std::string_view key, uint64_t h) const {
  const uint64_t tag = tag_of(h);
  size_t i = home_of(h);
  for (unsigned d = 0;; ++d, i = next(i)) {
    const uint64_t s = slots_[i];
    // Empty, or an entry closer to its home than we are to ours: the key would have taken
    // this slot, so it is absent.
    if (s == 0 || dist_of(s) < d) return kNone;
    if (dist_of(s) == d && (s >> kTagShift) == tag) {
      const Item* it = decode(s);
      if (it->nkey() == key.size() && memcmp(it->key_data(), key.data(), key.size()) == 0) return i;
    }
  }
}

void SlotTable::replace_at(size_t i, Item* it) {
  slots_[i] = (slots_[i] & ~kPtrMask) | reinterpret_cast<uintptr_t>(it);
}

void SlotTable::place(uint64_t h, Item* it) {
  auto p = reinterpret_cast<uintptr_t>(it);
  // User-space pointers on x86-64 and arm64 fit in 48 bits; if that ever breaks, the slot
  // encoding would silently corrupt the table, so stop instead.
  if ((p & ~kPtrMask) != 0) {
    fprintf(stderr, "memshield: item pointer %p does not fit in 48 bits\n", static_cast<void*>(it));
    abort();
  }
  // Carry the entry forward; take the slot of any entry nearer its home than the carried one
  // is to its own, and carry that one on instead.
  uint64_t carried = make(it, 0, tag_of(h));
  for (size_t i = home_of(h);; i = next(i)) {
    const uint64_t s = slots_[i];
    if (s == 0) {
      slots_[i] = carried;
      if (dist_of(carried) > max_dist_) max_dist_ = dist_of(carried);
      return;
    }
    if (dist_of(s) < dist_of(carried)) {
      slots_[i] = carried;
      if (dist_of(carried) > max_dist_) max_dist_ = dist_of(carried);
      carried = s;
    }
    // One step further from home (the byte cannot overflow: needs_grow() keeps distances under
    // kDistLimit, and one insert adds at most a step to the largest).
    carried += uint64_t{1} << kDistShift;
  }
}

void SlotTable::insert(uint64_t h, Item* it) {
  place(h, it);
  ++count_;
}

void SlotTable::erase_at(size_t i) {
  size_t hole = i;
  for (size_t j = next(i);; j = next(j)) {
    const uint64_t s = slots_[j];
    if (s == 0 || dist_of(s) == 0) break;
    slots_[hole] = s - (uint64_t{1} << kDistShift);
    hole = j;
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
  max_dist_ = 0;
  for (size_t i = 0; i < old_cap; ++i) {
    if (Item* it = decode(old[i])) place(hash_key(it->key()), it);
  }
  free_table(old, old_cap);
  return true;
}

}  // namespace memshield::store
