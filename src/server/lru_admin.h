// memcached's LRU administration at run time: the `lru_crawler` subcommands (enable, disable,
// sleep, tocrawl, crawl) and `lru` (mode, temp_ttl, tune), answered as memcached 1.6.18 answers
// them. A crawl runs on the crawler's own thread, a shard at a time (Store::reclaim_in_shard),
// so it never holds a lock longer than a slice of one shard and never runs on a worker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>

#include "common/out_buffer.h"
#include "server/settings.h"
#include "store/store.h"

namespace memshield::server {

// The tunables the admin commands change, read by `stats` and `stats settings`.
struct LruState {
  explicit LruState(const Settings& s)
      : crawler_enabled(s.lru_crawler), crawler_sleep(s.lru_crawler_sleep),
        crawler_tocrawl(s.lru_crawler_tocrawl), maintainer(s.lru_maintainer),
        segmented(s.lru_segmented), temp_lru(s.temp_lru), temporary_ttl(s.temporary_ttl),
        hot_lru_pct(s.hot_lru_pct), warm_lru_pct(s.warm_lru_pct),
        hot_max_factor(s.hot_max_factor), warm_max_factor(s.warm_max_factor),
        sizes_enabled(s.track_sizes) {}
  std::atomic<bool> crawler_enabled;
  std::atomic<uint32_t> crawler_sleep;    // microseconds between shards of a crawl
  std::atomic<uint32_t> crawler_tocrawl;  // items examined per shard and crawl (0: all)
  std::atomic<bool> crawler_running{false};
  std::atomic<uint64_t> crawler_starts{0};
  const bool maintainer;  // memcached's LRU maintainer thread: `lru mode`/`temp_ttl` need it
  std::atomic<bool> segmented;
  std::atomic<bool> temp_lru;
  std::atomic<uint32_t> temporary_ttl;
  std::atomic<uint32_t> hot_lru_pct, warm_lru_pct;
  std::atomic<double> hot_max_factor, warm_max_factor;
  // `stats sizes`: on with -o track_sizes or `stats sizes_enable`; items whose CAS is below
  // sizes_since_cas were stored before it was turned on and are not counted (memcached's
  // histogram only counts items linked while it is on).
  std::atomic<bool> sizes_enabled;
  std::atomic<uint64_t> sizes_since_cas{0};
};

class LruAdmin {
 public:
  LruAdmin(store::Store& store, LruState& state, bool dump_enabled);
  ~LruAdmin();  // stops the crawler thread
  LruAdmin(const LruAdmin&) = delete;
  LruAdmin& operator=(const LruAdmin&) = delete;

  void lru_crawler(std::string_view args, OutBuffer& out);
  void lru(std::string_view args, OutBuffer& out);
  std::string_view metadump_refusal() const;
  // A takeover or a warm-restart save is about to describe the store, which must not change
  // under it: ends the crawl under way (returning once its current shard step is done) and
  // makes later crawls end at once, until resume().
  void pause();
  void resume() { paused_.store(false); }

 private:
  void run();
  void crawl_once();

  store::Store& store_;
  LruState& state_;
  const bool dump_enabled_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;
  bool stop_ = false;
  std::atomic<bool> paused_{false};
  std::mutex step_mu_;  // held by the crawler across one shard's step
  std::thread thread_;
};

}  // namespace memshield::server
