// See metrics_format.h. The stats-to-metric mapping is one table; the shield counters come from
// shield.h's X-macro table, so a new counter appears here without an edit.
#include "server/metrics_format.h"

#include <cinttypes>
#include <cstdio>
#include <string_view>
#include <unordered_map>

namespace memshield::server {
namespace {

struct Mapping {
  const char* stat;    // field of plain `stats`
  const char* metric;  // memcached_exporter's name
  const char* type;
  const char* help;
};

// Declared once: memcached_exporter's one-to-one metrics, in its order.
constexpr Mapping kMappings[] = {
    {"uptime", "memcached_uptime_seconds", "counter",
     "Number of seconds since the server started."},
    {"time", "memcached_time_seconds", "gauge", "Current UNIX time according to the server."},
    {"rusage_user", "memcached_process_user_cpu_seconds_total", "counter",
     "Accumulated user time for this process."},
    {"rusage_system", "memcached_process_system_cpu_seconds_total", "counter",
     "Accumulated system time for this process."},
    {"bytes", "memcached_current_bytes", "gauge", "Current number of bytes used to store items."},
    {"limit_maxbytes", "memcached_limit_bytes", "gauge",
     "Number of bytes this server is allowed to use for storage."},
    {"curr_items", "memcached_current_items", "gauge",
     "Current number of items stored by this instance."},
    {"total_items", "memcached_items_total", "counter",
     "Total number of items stored during the life of this instance."},
    {"evictions", "memcached_items_evicted_total", "counter",
     "Total number of valid items removed from cache to free memory for new items."},
    {"reclaimed", "memcached_items_reclaimed_total", "counter",
     "Total number of times an entry was stored using memory from an expired entry."},
    {"bytes_read", "memcached_read_bytes_total", "counter",
     "Total number of bytes read by this server from network."},
    {"bytes_written", "memcached_written_bytes_total", "counter",
     "Total number of bytes sent by this server to network."},
    {"curr_connections", "memcached_current_connections", "gauge",
     "Current number of open connections."},
    {"total_connections", "memcached_connections_total", "counter",
     "Total number of connections opened since the server started running."},
    {"rejected_connections", "memcached_connections_rejected_total", "counter",
     "Total number of connections rejected due to hitting the connection limit."},
    {"max_connections", "memcached_max_connections", "gauge", "Maximum number of clients allowed."},
    {"conn_yields", "memcached_connections_yielded_total", "counter",
     "Total number of connections yielded running due to hitting the -R limit."},
    {"listen_disabled_num", "memcached_connections_listener_disabled_total", "counter",
     "Number of times that the server has hit its connections limit and disabled its listener."},
    {"malloc_fails", "memcached_malloc_fails_total", "counter",
     "Number of failed memory allocations."},
};

class Writer {
 public:
  void header(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }
  // `labels` is either empty or "{k=\"v\",...}", already escaped.
  void sample(std::string_view name, std::string_view labels, std::string_view value) {
    out_ += name;
    out_ += labels;
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }
  void sample(std::string_view name, std::string_view labels, uint64_t value) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, value);
    sample(name, labels, std::string_view(buf, n));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

uint64_t to_u64(const std::string* s) {
  return s == nullptr ? 0 : strtoull(s->c_str(), nullptr, 10);
}

void commands(const std::unordered_map<std::string, const std::string*>& f, Writer& w) {
  auto get = [&](const char* name) {
    auto it = f.find(name);
    return to_u64(it == f.end() ? nullptr : it->second);
  };
  static constexpr std::string_view kName = "memcached_commands_total";
  w.header(kName, "counter",
           "Total number of all requests broken down by command (get, set, etc.) and status.");
  auto one = [&](const char* cmd, const char* status, uint64_t v) {
    std::string labels = std::string("{command=\"") + cmd + "\",status=\"" + status + "\"}";
    w.sample(kName, labels, v);
  };
  for (const char* op : {"get", "delete", "incr", "decr", "cas", "touch"}) {
    one(op, "hit", get((std::string(op) + "_hits").c_str()));
    one(op, "miss", get((std::string(op) + "_misses").c_str()));
  }
  one("cas", "badval", get("cas_badval"));
  one("flush", "hit", get("cmd_flush"));
  // As the exporter does: cmd_set counts cas commands too, which are reported above.
  const uint64_t cas = get("cas_hits") + get("cas_misses") + get("cas_badval");
  const uint64_t set = get("cmd_set");
  one("set", "hit", set >= cas ? set - cas : 0);
}

}  // namespace

std::string format_metrics(const StatsSources& src, const ShieldStats& shield) {
  Writer w;
  const auto fields = general_stats(src);
  std::unordered_map<std::string, const std::string*> by_name;
  for (const auto& [name, value] : fields) by_name.emplace(name, &value);

  w.header("memcached_up", "gauge", "Could the memcached server be reached.");
  w.sample("memcached_up", "", uint64_t{1});
  if (auto it = by_name.find("version"); it != by_name.end()) {
    w.header("memcached_version", "gauge", "The version of this memcached server.");
    w.sample("memcached_version", "{version=\"" + *it->second + "\"}", uint64_t{1});
  }
  for (const Mapping& m : kMappings) {
    auto it = by_name.find(m.stat);
    if (it == by_name.end()) continue;
    w.header(m.metric, m.type, m.help);
    w.sample(m.metric, "", *it->second);
  }
  commands(by_name, w);

  // memshield's own: every `stats shield` counter, from its table.
#define MEMSHIELD_METRIC(name)                                                     \
  w.header("memshield_shield_" #name "_total", "counter",                          \
           "memshield's `stats shield` counter " #name ", see docs/SECURITY.md."); \
  w.sample("memshield_shield_" #name "_total", "", shield.name.load(std::memory_order_relaxed));
  MEMSHIELD_SHIELD_COUNTERS(MEMSHIELD_METRIC)
#undef MEMSHIELD_METRIC
  return w.take();
}

}  // namespace memshield::server
