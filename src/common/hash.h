// The one key hash used everywhere (store shards, buckets, tags): xxHash's XXH3, from Debian's
// libxxhash-dev, inlined so the hot path pays no call.
#pragma once

#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace memshield {

inline uint64_t hash_key(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

}  // namespace memshield
