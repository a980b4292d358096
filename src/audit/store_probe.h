// --intrusive only: stores one uniquely named value over TCP so the UDP "get" probe can measure
// what an attacker who preloads the cache would reflect, and deletes it afterwards. The value
// also carries a 60 s expiry, so it disappears even if the delete never arrives.
#pragma once

#include <cstdint>
#include <string>

#include "audit/pacer.h"
#include "audit/target.h"

namespace memshield::audit {

inline constexpr uint32_t kProbeExpirySeconds = 60;

// A fresh key: "memshield-audit-" and 16 random hex digits.
std::string make_probe_key();

struct StoreOutcome {
  bool stored = false;
  uint64_t value_bytes = 0;  // size that was accepted
  std::string detail;        // the server's answer, or why nothing was stored
};

// Tries `value_bytes`, then tenfold smaller sizes down to 1000 bytes when the server answers
// "too large" (its -I item size limit).
StoreOutcome store_probe_value(const Target& target, const std::string& key, uint64_t value_bytes,
                               Pacer& pacer, int64_t timeout_ms);

// "delete key"; true when the server answered DELETED or NOT_FOUND.
bool delete_probe_value(const Target& target, const std::string& key, Pacer& pacer,
                        int64_t timeout_ms, std::string* detail);

}  // namespace memshield::audit
