// See stats_report.h.
#include "server/stats_report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>

#include "common/log.h"
#include "common/number_parse.h"
#include "server/lru_admin.h"
#include "server/tls_service.h"

namespace memshield::server {
namespace {

class StatWriter {
 public:
  explicit StatWriter(OutBuffer& out) : out_(out) {}
  void u64(std::string_view name, uint64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRIu64, v);
    str(name, std::string_view(buf, n));
  }
  void i64(std::string_view name, int64_t v) {
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%" PRId64, v);
    str(name, std::string_view(buf, n));
  }
  void str(std::string_view name, std::string_view v) {
    out_.append("STAT ", 5);
    out_.append(name);
    out_.append(" ", 1);
    out_.append(v);
    out_.append("\r\n", 2);
  }
  void fmt(std::string_view name, const char* f, double v) {
    char buf[64];
    int n = snprintf(buf, sizeof(buf), f, v);
    str(name, std::string_view(buf, n));
  }
  void end() { out_.append("END\r\n", 5); }

 private:
  OutBuffer& out_;
};

void sum_threads(const StatsSources& src, engine::ThreadStats* total) {
  for (engine::ThreadStats* t : src.thread_stats) {
#define MEMSHIELD_SUM(name) total->name.add(t->name.get());
    MEMSHIELD_COMMAND_COUNTERS(MEMSHIELD_SUM)
#undef MEMSHIELD_SUM
  }
}

struct NetTotals {
  uint64_t total_connections = 0, rejected = 0, bytes_read = 0, bytes_written = 0, yields = 0;
  uint64_t idle_kicks = 0;
  uint64_t ssl_handshake_errors = 0;
};

NetTotals sum_net(const StatsSources& src) {
  NetTotals n;
  for (net::WorkerStats* w : src.worker_stats) {
    n.total_connections += w->total_connections.get();
    n.rejected += w->rejected_connections.get();
    n.bytes_read += w->bytes_read.get();
    n.bytes_written += w->bytes_written.get();
    n.yields += w->conn_yields.get();
    n.idle_kicks += w->idle_kicks.get();
    n.ssl_handshake_errors += w->ssl_handshake_errors.get();
  }
  return n;
}

// The crawler's and the LRU's state as the admin commands left it (memcached lists and reports
// these fields from its current settings).
bool crawler_on(const StatsSources& src) {
  return src.lru != nullptr ? src.lru->crawler_enabled.load() : src.settings->lru_crawler;
}
bool segmented(const StatsSources& src) {
  return src.lru != nullptr ? src.lru->segmented.load() : src.settings->lru_segmented;
}

void general(const StatsSources& src, StatWriter& w) {
  const RelTime now = src.clock->now();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  char buf[64];
  w.u64("pid", static_cast<uint64_t>(getpid()));
  w.u64("uptime", now >= 60 ? now - 60 : 0);  // memcached: current_time - ITEM_UPDATE_INTERVAL
  w.u64("time", static_cast<uint64_t>(src.clock->unix_now()));
  w.str("version", version_string());
  w.str("libevent", "none");
  w.u64("pointer_size", sizeof(void*) * 8);
  snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(ru.ru_utime.tv_sec),
           static_cast<long>(ru.ru_utime.tv_usec));
  w.str("rusage_user", buf);
  snprintf(buf, sizeof(buf), "%ld.%06ld", static_cast<long>(ru.ru_stime.tv_sec),
           static_cast<long>(ru.ru_stime.tv_usec));
  w.str("rusage_system", buf);
  NetTotals net = sum_net(src);
  const uint64_t curr = static_cast<uint64_t>(src.limit->current.load());
  w.u64("max_connections", static_cast<uint64_t>(src.settings->max_connections));
  w.u64("curr_connections", curr);
  w.u64("total_connections", net.total_connections);
  if (src.settings->maxconns_fast) w.u64("rejected_connections", net.rejected);
  w.u64("connection_structures", curr);
  w.u64("response_obj_oom", 0);
  w.u64("response_obj_count", 0);
  w.u64("response_obj_bytes", 0);
  w.u64("read_buf_count", 0);
  w.u64("read_buf_bytes", 0);
  w.u64("read_buf_bytes_free", 0);
  w.u64("read_buf_oom", 0);
  w.u64("reserved_fds", 0);
  engine::ThreadStats t;
  sum_threads(src, &t);
#define MEMSHIELD_EMIT(name) w.u64(#name, t.name.get());
  MEMSHIELD_COMMAND_COUNTERS(MEMSHIELD_EMIT)
#undef MEMSHIELD_EMIT
  if (src.settings->idle_timeout > 0) w.u64("idle_kicks", net.idle_kicks);  // as memcached
  store::Stats s = src.store->stats();
  w.u64("bytes_read", net.bytes_read);
  w.u64("bytes_written", net.bytes_written);
  w.u64("limit_maxbytes", s.limit_maxbytes);
  w.u64("accepting_conns", 1);
  w.u64("listen_disabled_num", 0);
  w.u64("time_in_listen_disabled_us", 0);
  w.u64("threads", static_cast<uint64_t>(src.threads));
  w.u64("conn_yields", net.yields);
  // memcached's table starts at 2^hashpower_init buckets (16 by default) and only grows; the
  // store's shards start smaller, so the reported level never reads below memcached's start.
  w.u64("hash_power_level",
        std::max<uint64_t>(s.hash_power_level,
                           src.settings->hashpower_init > 0
                               ? static_cast<uint64_t>(src.settings->hashpower_init)
                               : 16));
  w.u64("hash_bytes", s.hash_bytes);
  w.u64("hash_is_expanding", 0);
  // memcached lists these only while the features they count are on (stats.t counts them).
  if (src.settings->slab_reassign) {
    for (const char* name :
         {"slab_reassign_rescues", "slab_reassign_chunk_rescues", "slab_reassign_evictions_nomem",
          "slab_reassign_inline_reclaim", "slab_reassign_busy_items", "slab_reassign_busy_deletes",
          "slab_reassign_running", "slabs_moved"}) {
      w.u64(name, 0);
    }
  }
  if (crawler_on(src)) {
    w.u64("lru_crawler_running", src.lru != nullptr && src.lru->crawler_running.load());
    w.u64("lru_crawler_starts", src.lru != nullptr ? src.lru->crawler_starts.load() : 0);
  }
  if (src.settings->lru_maintainer) w.u64("lru_maintainer_juggles", 0);
  w.u64("malloc_fails", s.malloc_fails);
  {
    const engine::EventLog* ev = src.events;
    w.u64("log_worker_dropped", 0);  // lines are offered to watchers directly (DESIGN.md)
    w.u64("log_worker_written", 0);
    w.u64("log_watcher_skipped", ev != nullptr ? ev->skipped() : 0);
    w.u64("log_watcher_sent", ev != nullptr ? ev->sent() : 0);
    w.u64("log_watchers", ev != nullptr ? ev->watchers() : 0);
  }
  if (src.tls != nullptr) {  // memcached prints these only with -Z
    // memcached counts sessions put in its TLS session cache (-o ssl_session_cache); memshield
    // keeps no session cache, so none are ever stored.
    if (src.settings->ssl_session_cache) w.u64("ssl_new_sessions", 0);
    w.u64("ssl_handshake_errors", net.ssl_handshake_errors);
    w.u64("time_since_server_cert_refresh", src.tls->seconds_since_refresh());
  }
  w.u64("unexpected_napi_ids", 0);
  w.u64("round_robin_fallback", 0);
  w.u64("bytes", s.bytes - s.hash_bytes);  // memcached counts items only
  w.u64("curr_items", s.curr_items);
  w.u64("total_items", s.total_items);
  w.u64("slab_global_page_pool", 0);
  w.u64("expired_unfetched", s.expired_unfetched);
  w.u64("evicted_unfetched", s.evicted_unfetched);
  if (segmented(src)) w.u64("evicted_active", s.evicted_active);
  w.u64("evictions", s.evictions);
  w.u64("reclaimed", s.reclaimed);
  w.u64("crawler_reclaimed", s.crawler_reclaimed);
  w.u64("crawler_items_checked", s.crawler_items_checked);
  w.u64("lrutail_reflocked", 0);
  if (segmented(src)) {
    for (const char* name : {"moves_to_cold", "moves_to_warm", "moves_within_lru",
                             "direct_reclaims", "lru_bumps_dropped"}) {
      w.u64(name, 0);
    }
  }
}

void settings_report(const StatsSources& src, StatWriter& w) {
  const Settings& st = *src.settings;
  const char* yes_no[] = {"no", "yes"};
  // cache_memlimit changes the store's limit at run time.
  w.u64("maxbytes", src.store != nullptr ? src.store->memory_limit() : st.memory_limit_mb << 20);
  w.u64("maxconns", static_cast<uint64_t>(st.max_connections));
  w.i64("tcpport", st.tcp_port);
  w.i64("udpport", st.udp_port);
  w.str("inter", src.listen_summary.empty() ? "NULL" : src.listen_summary);
  // The `verbosity` command changes it (memcached caps it at 2, as set_verbosity does).
  w.u64("verbosity", static_cast<uint64_t>(log::g_verbosity.load(std::memory_order_relaxed)));
  w.u64("oldest", 0);
  w.str("evictions", st.evict ? "on" : "off");
  w.str("domain_socket", st.unix_socket.empty() ? "NULL" : st.unix_socket);
  char mask[16];
  snprintf(mask, sizeof(mask), "%o", st.unix_mask);
  w.str("umask", mask);
  w.str("shutdown_command", yes_no[st.shutdown_command]);
  w.fmt("growth_factor", "%.2f", st.growth_factor);
  w.u64("chunk_size", static_cast<uint64_t>(st.chunk_size));
  w.u64("num_threads", static_cast<uint64_t>(src.threads));
  w.u64("num_threads_per_udp", static_cast<uint64_t>(src.threads));
  w.str("stat_key_prefix", std::string(1, st.prefix_delimiter));
  w.str("detail_enabled", yes_no[src.detail != nullptr ? src.detail->on() : st.detail_enabled]);
  w.u64("reqs_per_event", static_cast<uint64_t>(st.reqs_per_event));
  w.str("cas_enabled", yes_no[st.use_cas]);
  w.u64("tcp_backlog", static_cast<uint64_t>(st.backlog));
  w.str("binding_protocol", st.protocol == BindingProtocol::kAscii    ? "ascii"
                            : st.protocol == BindingProtocol::kBinary ? "binary"
                                                                      : "auto-negotiate");
  w.str("auth_enabled_sasl", yes_no[st.sasl]);
  w.str("auth_enabled_ascii", yes_no[!st.auth_file.empty()]);
  w.u64("item_size_max", st.item_size_max);
  w.str("maxconns_fast", yes_no[st.maxconns_fast]);
  w.u64("hashpower_init", static_cast<uint64_t>(st.hashpower_init));
  // memcached's slab, LRU and extstore tunables have no counterpart here; they are listed with
  // memcached's defaults so tools that read the full list still find every field.
  w.str("slab_reassign", yes_no[st.slab_reassign]);
  w.u64("slab_automove", static_cast<uint64_t>(st.slab_automove));
  w.str("slab_automove_ratio", "0.80");
  w.u64("slab_automove_window", 30);
  w.u64("slab_chunk_max", st.slab_chunk_whole      ? st.item_size_max
                          : st.slab_chunk_max != 0 ? st.slab_chunk_max
                                                   : st.item_size_max / 2);
  const LruState* lru = src.lru;
  w.str("lru_crawler", yes_no[crawler_on(src)]);
  w.u64("lru_crawler_sleep", lru ? lru->crawler_sleep.load() : st.lru_crawler_sleep);
  w.u64("lru_crawler_tocrawl", lru ? lru->crawler_tocrawl.load() : st.lru_crawler_tocrawl);
  w.u64("tail_repair_time", 0);
  w.str("flush_enabled", yes_no[st.flush_enabled]);
  w.str("dump_enabled", yes_no[st.dump_enabled]);
  w.str("hash_algorithm", "xxh3");
  w.str("lru_maintainer_thread", yes_no[st.lru_maintainer]);
  w.str("lru_segmented", yes_no[segmented(src)]);
  w.u64("hot_lru_pct", lru ? lru->hot_lru_pct.load() : st.hot_lru_pct);
  w.u64("warm_lru_pct", lru ? lru->warm_lru_pct.load() : st.warm_lru_pct);
  w.fmt("hot_max_factor", "%.2f", lru ? lru->hot_max_factor.load() : st.hot_max_factor);
  w.fmt("warm_max_factor", "%.2f", lru ? lru->warm_max_factor.load() : st.warm_max_factor);
  w.str("temp_lru", yes_no[lru ? lru->temp_lru.load() : st.temp_lru]);
  w.u64("temporary_ttl", lru ? lru->temporary_ttl.load() : st.temporary_ttl);
  w.u64("idle_timeout", static_cast<uint64_t>(st.idle_timeout));
  w.u64("watcher_logbuf_size", st.watcher_logbuf_kb * 1024);
  w.u64("worker_logbuf_size", 65536);
  w.u64("read_buf_mem_limit", 0);
  w.str("track_sizes", yes_no[st.track_sizes]);
  w.str("inline_ascii_response", "no");
  w.u64("ext_item_size", 512);
  w.u64("ext_item_age", 4294967295u);
  w.u64("ext_low_ttl", 0);
  w.u64("ext_recache_rate", 2000);
  w.u64("ext_wbuf_size", 4194304);
  w.u64("ext_compact_under", 0);
  w.u64("ext_drop_under", 0);
  w.u64("ext_max_sleep", 1000000);
  w.str("ext_max_frag", "0.80");
  w.str("slab_automove_freeratio", "0.010");
  w.str("ext_drop_unread", "no");
  w.str("ssl_enabled", yes_no[st.ssl]);
  w.str("ssl_chain_cert", st.ssl_chain_cert.empty() ? "(null)" : st.ssl_chain_cert);
  w.str("ssl_key", st.ssl_key.empty() ? "(null)" : st.ssl_key);
  w.u64("ssl_verify_mode", static_cast<uint64_t>(st.ssl_verify_mode));
  w.u64("ssl_keyformat", static_cast<uint64_t>(st.ssl_keyformat));
  w.str("ssl_ciphers", st.ssl_ciphers.empty() ? "NULL" : st.ssl_ciphers);
  w.str("ssl_ca_cert", st.ssl_ca_cert.empty() ? "NULL" : st.ssl_ca_cert);
  w.u64("ssl_wbuf_size", st.ssl_wbuf_size);
  w.str("ssl_session_cache", yes_no[st.ssl_session_cache]);
  w.str("ssl_kernel_tls", yes_no[st.ssl_kernel_tls]);
  w.str("ssl_min_version", st.ssl_min_version);
  w.str("num_napi_ids", "(null)");
  w.str("memory_file", st.memory_file.empty() ? "(null)" : st.memory_file);
}

void items_report(const StatsSources& src, StatWriter& w) {
  store::Stats s = src.store->stats();
  if (s.curr_items == 0) return;
  // memshield has no slab classes: everything is reported as one class, id 1 (as in
  // `stats slabs` and `stats cachedump`). The LRU segment fields come and go with
  // lru_segmented, as memcached's do.
  const bool seg = segmented(src);
  w.u64("items:1:number", s.curr_items);
  if (seg) {
    w.u64("items:1:number_hot", 0);
    w.u64("items:1:number_warm", 0);
    w.u64("items:1:number_cold", s.curr_items);
    w.u64("items:1:age_hot", 0);
    w.u64("items:1:age_warm", 0);
  }
  w.u64("items:1:age", 0);
  w.u64("items:1:mem_requested", s.bytes - s.hash_bytes);  // the items alone, as `bytes`
  w.u64("items:1:evicted", s.evictions);
  w.u64("items:1:evicted_nonzero", 0);
  w.u64("items:1:evicted_time", 0);
  w.u64("items:1:outofmemory", 0);
  w.u64("items:1:tailrepairs", 0);
  w.u64("items:1:reclaimed", s.reclaimed);
  w.u64("items:1:expired_unfetched", s.expired_unfetched);
  w.u64("items:1:evicted_unfetched", s.evicted_unfetched);
  if (seg) w.u64("items:1:evicted_active", s.evicted_active);
  w.u64("items:1:crawler_reclaimed", s.crawler_reclaimed);
  w.u64("items:1:crawler_items_checked", s.crawler_items_checked);
  w.u64("items:1:lrutail_reflocked", 0);
  if (seg) {
    for (const char* name :
         {"items:1:moves_to_cold", "items:1:moves_to_warm", "items:1:moves_within_lru",
          "items:1:direct_reclaims", "items:1:hits_to_hot", "items:1:hits_to_warm",
          "items:1:hits_to_cold", "items:1:hits_to_temp"}) {
      w.u64(name, 0);
    }
  }
}

// memcached's 15 per-class fields, for class 1 (every item; see items_report) once the store
// holds memory for items, as memcached lists a class once it has a page. Its slab geometry is
// mapped onto the store: chunk_size is the mean item size, pages are 1 MB of stored items
// (rounded up), total_chunks what those pages hold at that size, free_chunks the rest. The hit
// counters are the server's (all items being in this class).
void slabs_report(const StatsSources& src, StatWriter& w) {
  store::Stats s = src.store->stats();
  const uint64_t item_bytes = s.bytes - s.hash_bytes;
  const bool listed = s.curr_items > 0 || s.total_items > 0 || s.reserved_bytes > s.hash_bytes;
  if (listed) {
    constexpr uint64_t kPage = 1u << 20;
    const uint64_t chunk = s.curr_items > 0 ? std::max<uint64_t>(1, item_bytes / s.curr_items) : 96;
    const uint64_t per_page = std::max<uint64_t>(1, kPage / chunk);
    const uint64_t pages = std::max<uint64_t>(1, (item_bytes + kPage - 1) / kPage);
    const uint64_t total = std::max<uint64_t>(pages * per_page, s.curr_items);
    engine::ThreadStats t;
    sum_threads(src, &t);
    w.u64("1:chunk_size", chunk);
    w.u64("1:chunks_per_page", per_page);
    w.u64("1:total_pages", pages);
    w.u64("1:total_chunks", total);
    w.u64("1:used_chunks", s.curr_items);
    w.u64("1:free_chunks", total - s.curr_items);
    w.u64("1:free_chunks_end", 0);
    w.u64("1:get_hits", t.get_hits.get());
    w.u64("1:cmd_set", t.cmd_set.get());
    w.u64("1:delete_hits", t.delete_hits.get());
    w.u64("1:incr_hits", t.incr_hits.get());
    w.u64("1:decr_hits", t.decr_hits.get());
    w.u64("1:cas_hits", t.cas_hits.get());
    w.u64("1:cas_badval", t.cas_badval.get());
    w.u64("1:touch_hits", t.touch_hits.get());
  }
  w.u64("active_slabs", listed ? 1 : 0);
  w.u64("total_malloced", s.reserved_bytes);
}

// `stats sizes`: memcached's histogram of item sizes (its item size rounded up to 32 bytes),
// when on (-o track_sizes, `stats sizes_enable`). memcached keeps it as items come and go; here
// it is counted when asked, walking the store a shard at a time, over the items stored since it
// was turned on (the CAS tells).
void sizes_report(const StatsSources& src, StatWriter& w) {
  if (src.lru == nullptr || !src.lru->sizes_enabled.load()) {
    w.str("sizes_status", "disabled");
    return;
  }
  const uint64_t since = src.lru->sizes_since_cas.load();
  std::map<uint64_t, uint64_t> buckets;
  for (size_t shard = 0; shard < src.store->shard_count(); ++shard) {
    src.store->for_each_in_shard(shard, [&](const store::ItemView& it) {
      if (since == 0 || it.cas() > since) {
        const uint64_t size = src.store->item_total(it.key.size(), it.flags, it.value.size());
        ++buckets[(size + 31) / 32 * 32];
      }
      return true;
    });
  }
  for (const auto& [size, count] : buckets) w.u64(std::to_string(size), count);
}

// memcached's `stats conns`: per descriptor, listeners first by number. A listener has addr,
// state and secs_since_last_cmd (since it opened); a UDP socket also its "UDP UDP" line; a client
// addr, listen_addr, its state (conn_read between requests, conn_nread mid-value, conn_parse_cmd
// while its worker runs its requests, as for the connection asking) and secs_since_last_cmd.
void conns_report(const StatsSources& src, StatWriter& w) {
  const RelTime now = src.clock->now();
  src.registry->for_each([&](int fd, const net::ConnInfo& c) {
    std::string p = std::to_string(fd) + ":";
    RelTime last = c.last_active ? c.last_active->load(std::memory_order_relaxed) : c.since;
    if (c.kind == net::ConnInfo::Kind::kUdp) w.str(p + "UDP", "UDP");
    w.str(p + "addr", c.address);
    const char* state = "conn_listening";
    if (c.kind == net::ConnInfo::Kind::kUdp) {
      state = "conn_read";
    } else if (c.kind == net::ConnInfo::Kind::kClient) {
      w.str(p + "listen_addr", c.listen_address);
      state =
          c.state ? net::conn_state_name(c.state->load(std::memory_order_relaxed)) : "conn_read";
    }
    w.str(p + "state", state);
    w.u64(p + "secs_since_last_cmd", now >= last ? now - last : 0);
  });
}

// `stats cachedump <class> <limit>`: "ITEM <key> [<bytes> b; <expiry unix time> s]" lines, then
// END. Every item is in class 1 here (as `stats items` and `stats slabs` report them), so class
// 1 lists the store and every other valid class (0..63) is empty. limit 0 means no limit; like
// memcached, the answer stops at 2 MB. The store is walked a shard at a time (store.h).
void cachedump(const StatsSources& src, std::string_view args, OutBuffer& out) {
  constexpr uint32_t kMaxClasses = 64;   // memcached's MAX_NUMBER_OF_SLAB_CLASSES
  constexpr size_t kMaxDump = 2u << 20;  // memcached's cachedump buffer
  std::string_view words[2];
  size_t n = 0;
  while (!args.empty() && n < 2) {
    size_t sp = args.find(' ');
    std::string_view word = args.substr(0, sp);
    if (!word.empty()) words[n++] = word;
    args = sp == std::string_view::npos ? std::string_view() : args.substr(sp + 1);
  }
  if (n < 2) {
    out.append("CLIENT_ERROR bad command line\r\n");
    return;
  }
  uint32_t id = 0, limit = 0;
  if (!parse_u32(words[0], &id) || !parse_u32(words[1], &limit)) {
    out.append("CLIENT_ERROR bad command line format\r\n");
    return;
  }
  if (id >= kMaxClasses) {
    out.append("CLIENT_ERROR Illegal slab id\r\n");
    return;
  }
  if (id == 1) {
    const time_t started = src.clock->process_started();
    size_t listed = 0, bytes = 0;
    bool more = true;
    std::string line;
    for (size_t shard = 0; more && shard < src.store->shard_count(); ++shard) {
      src.store->for_each_in_shard(shard, [&](const store::ItemView& it) {
        char tail[64];
        int tn = snprintf(
            tail, sizeof(tail), " [%zu b; %llu s]\r\n", it.value.size(),
            it.exptime == 0 ? 0ULL : static_cast<unsigned long long>(it.exptime + started));
        line.assign("ITEM ");
        line.append(it.key);
        line.append(tail, static_cast<size_t>(tn));
        if (bytes + line.size() + 5 > kMaxDump) return more = false;
        out.append(line);
        bytes += line.size();
        if (limit != 0 && ++listed >= limit) more = false;
        return more;
      });
    }
  }
  out.append("END\r\n", 5);
}

}  // namespace

void reset_stats(const StatsSources& src) {
  for (engine::ThreadStats* t : src.thread_stats) t->reset();
  for (net::WorkerStats* n : src.worker_stats) n->reset();
  src.store->reset_stats();
  if (src.lru != nullptr) src.lru->crawler_starts.store(0);  // memcached's reset clears it
  if (src.detail != nullptr) src.detail->reset();
}

std::vector<std::pair<std::string, std::string>> general_stats(const StatsSources& src) {
  OutBuffer out;
  StatWriter w(out);
  general(src, w);
  std::vector<std::pair<std::string, std::string>> fields;
  const std::string text = out.to_string();
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find("\r\n", pos);
    if (eol == std::string::npos) break;
    std::string_view line(text.data() + pos, eol - pos);  // "STAT <name> <value>"
    pos = eol + 2;
    if (line.substr(0, 5) != "STAT ") continue;
    line.remove_prefix(5);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    fields.emplace_back(std::string(line.substr(0, sp)), std::string(line.substr(sp + 1)));
  }
  return fields;
}

void write_stats(const StatsSources& src, std::string_view args, OutBuffer& out) {
  StatWriter w(out);
  std::string_view sub = args.substr(0, args.find(' '));
  std::string_view rest = sub.size() < args.size() ? args.substr(sub.size() + 1) : "";
  while (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
  if (sub.empty()) {
    general(src, w);
  } else if (sub == "reset") {
    reset_stats(src);
    out.append("RESET\r\n", 7);
    return;
  } else if (sub == "detail") {
    // memcached's per-prefix stats; the binary protocol's STAT "detail ..." comes here too.
    std::string_view mode = rest.substr(0, rest.find(' '));
    if ((mode == "on" || mode == "off") && src.detail != nullptr) {
      src.detail->set_on(mode == "on");
      out.append("OK\r\n", 4);
    } else if (mode == "dump" && src.detail != nullptr) {
      src.detail->dump(out);
    } else if (mode == "dump") {
      out.append("END\r\n", 5);
    } else {
      out.append("CLIENT_ERROR usage: stats detail on|off|dump\r\n");
    }
    return;
  } else if (sub == "settings") {
    settings_report(src, w);
  } else if (sub == "items") {
    items_report(src, w);
  } else if (sub == "slabs") {
    slabs_report(src, w);
  } else if (sub == "sizes") {
    sizes_report(src, w);
  } else if ((sub == "sizes_enable" || sub == "sizes_disable") && src.lru != nullptr) {
    // memcached answers these with the status line alone, no END.
    const bool on = sub == "sizes_enable";
    if (on && !src.lru->sizes_enabled.load()) src.lru->sizes_since_cas.store(src.store->last_cas());
    src.lru->sizes_enabled.store(on);
    w.str("sizes_status", on ? "enabled" : "disabled");
    return;
  } else if (sub == "conns") {
    conns_report(src, w);
  } else if (sub == "cachedump") {
    if (!src.settings->dump_enabled) {
      out.append("CLIENT_ERROR stats cachedump not allowed\r\n");
      return;
    }
    cachedump(src, rest, out);
    return;
  } else {
    out.append("ERROR\r\n", 7);
    return;
  }
  w.end();
}

}  // namespace memshield::server
