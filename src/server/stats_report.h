// The `stats` family of answers, in memcached 1.6.18's field order and names so that exporters
// and dashboards parse them unchanged. Values memshield has no counterpart for are reported as
// memcached reports them when idle (0), rather than dropped.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/out_buffer.h"
#include "engine/prefix_stats.h"
#include "engine/thread_stats.h"
#include "engine/watch_log.h"
#include "net/conn_registry.h"
#include "net/net_stats.h"
#include "server/settings.h"
#include "store/store.h"

namespace memshield::server {

class TlsService;
struct LruState;

struct StatsSources {
  const Settings* settings = nullptr;
  const Clock* clock = nullptr;
  store::Store* store = nullptr;
  const net::ConnectionLimit* limit = nullptr;
  const net::ConnRegistry* registry = nullptr;
  std::vector<engine::ThreadStats*> thread_stats;
  std::vector<net::WorkerStats*> worker_stats;
  LruState* lru = nullptr;  // run-time crawler/LRU tunables (null: as in settings)
  const TlsService* tls = nullptr;  // -Z: adds memcached's ssl_* counters to `stats`
  engine::PrefixStats* detail = nullptr;  // `stats detail`; null: never collected
  const engine::EventLog* events = nullptr;  // watch: log_watchers and friends
  int threads = 0;
  std::string listen_summary;  // for `stats settings` "inter"
};

// Appends the whole answer to `stats <args>` (args may be empty).
void write_stats(const StatsSources& src, std::string_view args, OutBuffer& out);
// `stats reset`.
void reset_stats(const StatsSources& src);
// The fields of plain `stats` as (name, value) pairs, in the same order and with the same values:
// for the metrics endpoint, so both views are generated from one place.
std::vector<std::pair<std::string, std::string>> general_stats(const StatsSources& src);

}  // namespace memshield::server
