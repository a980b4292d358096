// The in-memory layout of one stored item: a 26-byte packed header, then the key, then the value,
// appended back to back in a segment (segment_arena.h), so an item costs its bytes and one slot in
// the table. The value is stored without memcached's trailing CRLF; protocols add it on the way
// out. Items sit at any byte offset: the header is packed (alignment 1) and read field by field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/clock.h"

namespace memshield::store {

#pragma pack(push, 1)
struct Item {
  uint64_t cas;
  RelTime exptime;  // 0 = never
  RelTime time;     // last store, or last access (bumped at most once per kUpdateInterval)
  uint32_t flags;
  uint32_t vlen;
  uint8_t nkey;
  uint8_t bits;  // kFreqMask: GCLOCK frequency 0..3; kFetched: read at least once; meta bits

  static constexpr uint8_t kFreqMask = 0x3;
  static constexpr uint8_t kFreqMax = 3;
  static constexpr uint8_t kFetched = 0x4;
  // Meta protocol: invalidated (served stale until recached), a win token already handed out,
  // and the key arrived base64-encoded (meta 'k' echoes it encoded again).
  static constexpr uint8_t kStale = 0x8;
  static constexpr uint8_t kTokenSent = 0x10;
  static constexpr uint8_t kKeyBinary = 0x20;
  // In the table. Set once when linked, cleared once when unlinked: an item is never relinked,
  // so a segment's compaction can tell dead bytes from live ones.
  static constexpr uint8_t kLinked = 0x40;

  char* key_data() { return reinterpret_cast<char*>(this) + sizeof(Item); }
  const char* key_data() const { return reinterpret_cast<const char*>(this) + sizeof(Item); }
  char* value_data() { return key_data() + nkey; }
  const char* value_data() const { return key_data() + nkey; }
  std::string_view key() const { return {key_data(), nkey}; }
  std::string_view value() const { return {value_data(), vlen}; }

  uint8_t freq() const { return bits & kFreqMask; }
  void set_freq(uint8_t f) { bits = static_cast<uint8_t>((bits & ~kFreqMask) | f); }
  void bump_freq() {
    if (freq() < kFreqMax) set_freq(static_cast<uint8_t>(freq() + 1));
  }
  bool fetched() const { return (bits & kFetched) != 0; }
  bool linked() const { return (bits & kLinked) != 0; }
  size_t size() const { return sizeof(Item) + nkey + vlen; }
};
#pragma pack(pop)

static_assert(sizeof(Item) == 26, "item header grew");

// memcached refreshes an item's access time at most once a minute (ITEM_UPDATE_INTERVAL), which
// keeps reads from writing a shared cache line every time and decides what flush_all covers.
inline constexpr RelTime kUpdateInterval = 60;

inline size_t item_alloc_size(size_t nkey, size_t vlen) { return sizeof(Item) + nkey + vlen; }

}  // namespace memshield::store
