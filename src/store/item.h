// The in-memory layout of one stored item: a 13-byte packed header, the expiry time and client
// flags when they are not 0, then the key, then the value,
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
  // The low 48 bits of the CAS (see cas_from_low48): the top 16 are the global counter's.
  uint32_t cas_lo;
  uint16_t cas_hi;
  // The last store, or last access (bumped at most once per kUpdateInterval), in seconds modulo
  // 2^16: see time(). flush_all does not depend on it alone (see Store::Impl::dead_reason).
  uint16_t time_lo;
  // kKeyShift: key length; kHasExptime, kHasFlags: optional fields follow; kVlenMask: value
  // length, or kLongValue when a 4-byte length follows (values of 4 MiB and more).
  uint32_t size_word;
  uint8_t bits;  // kFreqMask: frequency 0..3; kFetched: read at least once; meta bits; kLinked

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
  // Optional fields, in this order after the header: the long value length (4 bytes, values of
  // kLongValue bytes or more), the expiry time (4 bytes, present when the item was stored with
  // one, or got one later by moving to a bigger copy), then the client flags (4 bytes, present
  // when not 0: most clients send 0 for plain bytes, and flags never change in an item's life).
  static constexpr int kKeyShift = 24;
  static constexpr uint32_t kHasFlags = 0x00800000u;
  static constexpr uint32_t kHasExptime = 0x00400000u;
  static constexpr uint32_t kVlenMask = 0x003FFFFFu;
  static constexpr uint32_t kLongValue = kVlenMask;

  // Sizes and optional fields, written once when the item's bytes are handed out.
  void init(size_t key_len, size_t value_len, uint32_t client_flags, bool exptime_field) {
    const bool long_value = value_len >= kLongValue;
    size_word = static_cast<uint32_t>(key_len) << kKeyShift |
                (client_flags != 0 ? kHasFlags : 0) | (exptime_field ? kHasExptime : 0) |
                (long_value ? kLongValue : static_cast<uint32_t>(value_len));
    size_t off = 0;
    if (long_value) {
      const auto v = static_cast<uint32_t>(value_len);
      memcpy(field(0), &v, 4);
      off = 4;
    }
    if (exptime_field) {
      memset(field(off), 0, 4);
      off += 4;
    }
    if (client_flags != 0) memcpy(field(off), &client_flags, 4);
  }
  // Every variable-position field from one read of size_word: the read path wants them all,
  // and the accessors below would each work out the optional fields' offsets again.
  struct Fields {
    const char* key;
    uint32_t nkey;
    uint32_t vlen;
    uint32_t flags;
    RelTime exptime;  // 0 = never
  };
  Fields fields() const {
    const uint32_t w = size_word;
    const char* f = reinterpret_cast<const char*>(this) + sizeof(Item);
    Fields r{nullptr, w >> kKeyShift, w & kVlenMask, 0, 0};
    if (r.vlen == kLongValue) {
      memcpy(&r.vlen, f, 4);
      f += 4;
    }
    if (w & kHasExptime) {
      memcpy(&r.exptime, f, 4);
      f += 4;
    }
    if (w & kHasFlags) {
      memcpy(&r.flags, f, 4);
      f += 4;
    }
    r.key = f;
    return r;
  }
  size_t nkey() const { return size_word >> kKeyShift; }
  uint32_t vlen() const {
    uint32_t v = size_word & kVlenMask;
    if (v == kLongValue) memcpy(&v, field(0), 4);
    return v;
  }
  bool has_flags() const { return (size_word & kHasFlags) != 0; }
  bool has_exptime() const { return (size_word & kHasExptime) != 0; }
  uint32_t flags() const {
    uint32_t f = 0;
    if (has_flags()) memcpy(&f, field(exptime_offset() + (has_exptime() ? 4 : 0)), 4);
    return f;
  }
  RelTime exptime() const {  // 0 = never
    RelTime e = 0;
    if (has_exptime()) memcpy(&e, field(exptime_offset()), 4);
    return e;
  }
  // False when the item has no room for a non-zero expiry time (the store then moves it).
  bool set_exptime(RelTime e) {
    if (!has_exptime()) return e == 0;
    memcpy(field(exptime_offset()), &e, 4);
    return true;
  }
  size_t key_offset() const {
    return sizeof(Item) + exptime_offset() + (has_exptime() ? 4 : 0) + (has_flags() ? 4 : 0);
  }
  char* key_data() { return reinterpret_cast<char*>(this) + key_offset(); }
  const char* key_data() const { return reinterpret_cast<const char*>(this) + key_offset(); }
  char* value_data() { return key_data() + nkey(); }
  const char* value_data() const { return key_data() + nkey(); }
  std::string_view key() const { return {key_data(), nkey()}; }
  std::string_view value() const { return {value_data(), vlen()}; }

  uint64_t cas_low48() const { return (uint64_t{cas_hi} << 32) | cas_lo; }
  void set_cas(uint64_t cas) {
    cas_lo = static_cast<uint32_t>(cas);
    cas_hi = static_cast<uint16_t>(cas >> 32);
  }

  // The full time from its low 16 bits: the latest time not after `now` with those bits. Exact
  // for an item stored or read in the last 18 hours; an older one reads as more recent by a
  // multiple of 2^16 seconds (only meta's last-access flag can tell).
  RelTime time(RelTime now) const {
    return now - static_cast<uint16_t>(static_cast<uint16_t>(now) - time_lo);
  }
  void set_time(RelTime t) { time_lo = static_cast<uint16_t>(t); }

  uint8_t freq() const { return bits & kFreqMask; }
  void set_freq(uint8_t f) { bits = static_cast<uint8_t>((bits & ~kFreqMask) | f); }
  void bump_freq() {
    if (freq() < kFreqMax) set_freq(static_cast<uint8_t>(freq() + 1));
  }
  // A read: one more toward the frequency, and marked fetched. Writes the byte only when that
  // changes it, so reads of a hot item do not dirty its cache line (and bounce it between cores).
  void mark_read() {
    uint8_t b = static_cast<uint8_t>(bits | kFetched);
    if ((b & kFreqMask) < kFreqMax) ++b;
    if (b != bits) bits = b;
  }
  bool fetched() const { return (bits & kFetched) != 0; }
  bool linked() const { return (bits & kLinked) != 0; }
  size_t size() const { return key_offset() + nkey() + vlen(); }

 private:
  size_t exptime_offset() const { return (size_word & kVlenMask) == kLongValue ? 4 : 0; }
  char* field(size_t off) { return reinterpret_cast<char*>(this) + sizeof(Item) + off; }
  const char* field(size_t off) const {
    return reinterpret_cast<const char*>(this) + sizeof(Item) + off;
  }
};
#pragma pack(pop)

static_assert(sizeof(Item) == 13, "item header grew");

// An item's full CAS from its low 48 bits and the counter's current value: the largest value not
// above the counter with those low bits. Exact while no live item is 2^48 stores older than the
// newest (at ten million stores a second, 325 days without being rewritten): every CAS ever
// handed out is at most the counter, and an item's is within 2^48 of it.
inline uint64_t cas_from_low48(uint64_t low48, uint64_t counter) {
  constexpr uint64_t kMask = (uint64_t{1} << 48) - 1;
  return counter - ((counter - low48) & kMask);
}

// memcached refreshes an item's access time at most once a minute (ITEM_UPDATE_INTERVAL), which
// keeps reads from writing a shared cache line every time and decides what flush_all covers.
inline constexpr RelTime kUpdateInterval = 60;

inline size_t item_alloc_size(size_t nkey, size_t vlen, uint32_t flags, bool exptime_field) {
  return sizeof(Item) + (vlen >= Item::kLongValue ? 4 : 0) + (exptime_field ? 4 : 0) +
         (flags != 0 ? 4 : 0) + nkey + vlen;
}

}  // namespace memshield::store
