// Small helpers shared by the store tests: storing a string in one call and copying out what a
// lookup saw, so each test reads as a list of commands and expected replies.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "store/store.h"

namespace memshield::store::testing {

struct Got {
  Lookup result = Lookup::kMiss;
  std::string value;
  uint32_t flags = 0;
  RelTime exptime = 0;
  RelTime last_access = 0;
  uint64_t cas = 0;
  bool fetched = false;
};

inline Got copy_view(Lookup r, const ItemView* v) {
  Got g;
  g.result = r;
  if (v != nullptr) {
    g.value.assign(v->value);
    g.flags = v->flags;
    g.exptime = v->exptime;
    g.last_access = v->last_access;
    g.cas = v->cas();
    g.fetched = v->fetched;
  }
  return g;
}

inline Got get(Store& s, std::string_view key) {
  Got g;
  Lookup r = s.get(key, [&](const ItemView& v) { g = copy_view(Lookup::kHit, &v); });
  g.result = r;
  return g;
}

// Allocates and stores; an allocation failure maps to kNoMemory (kTooLarge to kNotStored).
inline StoreResult put(Store& s, std::string_view key, std::string_view value,
                       Mode mode = Mode::kSet, uint32_t flags = 0, RelTime exptime = 0,
                       uint64_t cas_in = 0, uint64_t* cas_out = nullptr) {
  NewItem it;
  AllocStatus a = s.allocate(key, flags, exptime, value.size(), &it);
  if (a == AllocStatus::kTooLarge) return StoreResult::kNotStored;
  if (a == AllocStatus::kNoMemory) return StoreResult::kNoMemory;
  if (!value.empty()) memcpy(it.value_data(), value.data(), value.size());
  return s.store(std::move(it), mode, cas_in, cas_out);
}

}  // namespace memshield::store::testing
