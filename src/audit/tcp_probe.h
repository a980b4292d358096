// The read-only TCP probe: connects, asks "version", and if the server answers without
// authentication reads "stats" and "stats settings" (what is stored, how much could be, where it
// listens, whether UDP is on). When the text protocol is refused it tries one binary "version"
// to tell memcached with SASL (-S) from a port that speaks something else.
#pragma once

#include <cstdint>

#include "audit/findings.h"
#include "audit/pacer.h"
#include "audit/target.h"

namespace memshield::audit {

TcpFinding probe_tcp(const Target& target, Pacer& pacer, int64_t timeout_ms);

}  // namespace memshield::audit
