// Keys whose items a binary session's unsent replies still reference, as memcached's do until
// the connection writes them: an incr/decr on such an item cannot rewrite its value in place
// (memcached replaces the item, unpadded). Hashes of the first few keys of one input batch only;
// memcached writes its queued replies, releasing the items, at a noop or an error reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/hash.h"

namespace memshield::engine {

class HeldKeys {
 public:
  void clear() { n_ = 0; }
  void add(std::string_view key) {
    if (n_ < kMax) hashes_[n_++] = hash_key(key);
  }
  // True if the key is held; it is no longer (the incr/decr that asks replaces the item).
  bool take(std::string_view key) {
    if (n_ == 0) return false;
    const uint64_t h = hash_key(key);
    bool found = false;
    for (size_t i = 0; i < n_;) {
      if (hashes_[i] == h) {
        hashes_[i] = hashes_[--n_];
        found = true;
      } else {
        ++i;
      }
    }
    return found;
  }

 private:
  static constexpr size_t kMax = 8;
  uint64_t hashes_[kMax];
  size_t n_ = 0;
};

}  // namespace memshield::engine
