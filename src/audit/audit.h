// Runs the probes against one target in a fixed, safe order: TCP read-only probe, then (only
// with --intrusive and an unauthenticated server) a write test, then the UDP probes, then the
// cleanup delete. Nothing is ever sent from an address other than our own.
#pragma once

#include <cstdint>

#include "audit/findings.h"
#include "audit/pacer.h"
#include "audit/target.h"

namespace memshield::audit {

struct AuditOptions {
  int64_t timeout_ms = 1000;           // per probe
  bool intrusive = false;              // allow the write test and the UDP get
  uint64_t value_bytes = 1000 * 1000;  // size of the --intrusive probe value
};

TargetReport audit_target(const Target& target, const AuditOptions& options, Pacer& pacer);

}  // namespace memshield::audit
