// Command counters, one set per worker thread, summed by `stats`. Declared once here, in
// memcached's `stats` order; the stats report and `stats reset` are generated from this table.
#pragma once

#include "common/counter.h"

namespace memshield::engine {

#define MEMSHIELD_COMMAND_COUNTERS(X) \
  X(cmd_get)                          \
  X(cmd_set)                          \
  X(cmd_flush)                        \
  X(cmd_touch)                        \
  X(cmd_meta)                         \
  X(get_hits)                         \
  X(get_misses)                       \
  X(get_expired)                      \
  X(get_flushed)                      \
  X(delete_misses)                    \
  X(delete_hits)                      \
  X(incr_misses)                      \
  X(incr_hits)                        \
  X(decr_misses)                      \
  X(decr_hits)                        \
  X(cas_misses)                       \
  X(cas_hits)                         \
  X(cas_badval)                       \
  X(touch_hits)                       \
  X(touch_misses)                     \
  X(store_too_large)                  \
  X(store_no_memory)                  \
  X(auth_cmds)                        \
  X(auth_errors)

struct ThreadStats {
#define MEMSHIELD_DECLARE(name) Counter name;
  MEMSHIELD_COMMAND_COUNTERS(MEMSHIELD_DECLARE)
#undef MEMSHIELD_DECLARE

  void reset() {
#define MEMSHIELD_RESET(name) name.reset();
    MEMSHIELD_COMMAND_COUNTERS(MEMSHIELD_RESET)
#undef MEMSHIELD_RESET
  }
};

}  // namespace memshield::engine
