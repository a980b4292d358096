// A parsed meta-protocol request (mg, ms, md, ma, mn, me): the command, its key (decoded if sent
// as base64), the flags that change what the engine does, and the flag tokens in the order the
// client sent them, since memcached echoes return flags in that order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memshield::protocol::text {

enum class MetaCmd : uint8_t { kGet, kSet, kDelete, kArith, kNoop, kDebug };

struct MetaRequest {
  static constexpr size_t kMaxFlags = 20;
  static constexpr size_t kMaxKey = 250;

  MetaCmd cmd = MetaCmd::kNoop;
  // Non-empty: answer this line instead of executing. For ms, `swallow` says whether the data
  // block (vlen + 2 bytes) follows and must be discarded first, as memcached does.
  std::string_view error;
  bool swallow = false;
  // mg whose only fault is an O token over the limit: where that token starts in the line.
  // memcached finds it only after the lookup (and the flags before it) took effect.
  size_t opaque_error_at = 0;

  std::string_view key;     // decoded key (points into key_buf when base64)
  bool key_binary = false;  // 'b': key was base64
  char key_buf[kMaxKey];
  std::string_view flags[kMaxFlags];  // flag tokens after the key (ms: after the data length)
  size_t nflags = 0;

  uint32_t vlen = 0;       // ms data length
  bool quiet = false;      // q
  bool value = false;      // v
  bool no_update = false;  // u
  bool has_ttl = false;    // T
  int32_t ttl = 0;
  bool vivify = false;  // N
  int32_t vivify_ttl = 0;
  bool has_recache = false;  // R
  int32_t recache = 0;
  uint32_t client_flags = 0;  // F
  bool has_cas = false;       // C
  uint64_t cas = 0;
  bool invalidate = false;  // I
  bool strip_value = false;  // md x (memcached 1.6.19+): keep the item, empty its value
  char mode = 0;            // M (0 when absent)
  uint64_t initial = 0;     // J
  uint64_t delta = 1;       // D

  bool has(char f) const {
    for (size_t i = 0; i < nflags; ++i) {
      if (flags[i][0] == f) return true;
    }
    return false;
  }
};

}  // namespace memshield::protocol::text
