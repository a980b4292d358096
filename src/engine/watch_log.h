// `watch`: memcached's live event log. Workers format an event line once and offer it to every
// watcher that wants its kind; each watcher has a bounded byte buffer of its own, drained by the
// worker that serves the watching connection. A full buffer drops the line and counts it
// (memcached's "skipped=N" line follows once room frees up), so a slow watcher never slows a
// worker. With nobody watching, an event costs one relaxed load of the mask (`wants`).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace memshield::engine {

// The kinds a watcher picks with `watch <kind>...` (memcached 1.6.18's names).
enum WatchKind : uint32_t {
  kWatchFetchers = 1u << 0,    // item_get
  kWatchMutations = 1u << 1,   // item_store
  kWatchEvictions = 1u << 2,   // eviction
  kWatchConnEvents = 1u << 3,  // conn_new, conn_close
  // Accepted as memcached 1.6.18 accepts them; memshield emits none of these events.
  kWatchRawCmds = 1u << 4,
  kWatchSysEvents = 1u << 5,
  kWatchProxyReqs = 1u << 6,
  kWatchProxyUser = 1u << 7,
  kWatchProxyEvents = 1u << 8,
  kWatchDeletions = 1u << 9,  // deleted (memcached 1.6.19+; 1.6.18 answers ERROR to the word)
};

// Parses the words after "watch": 0 for an unknown word (memcached answers ERROR), else the
// kinds; no words means fetchers, as memcached.
uint32_t parse_watch_kinds(std::string_view args, bool* ok);

// memcached's key encoding in log lines: every byte but [A-Za-z0-9-._~] as %XX.
void uri_encode(std::string_view key, std::string* out);

class Watcher {
 public:
  Watcher(uint32_t kinds, size_t capacity) : kinds_(kinds), capacity_(capacity) {}
  uint32_t kinds() const { return kinds_; }
  // Appends up to `max` bytes of pending lines to *out; returns how many.
  size_t drain(std::string* out, size_t max);
  bool offer(std::string_view line, uint64_t* skipped_total);

 private:
  const uint32_t kinds_;
  const size_t capacity_;
  std::mutex mu_;
  std::string buf_;  // pending lines; never more than capacity_ bytes
  size_t head_ = 0;  // bytes of buf_ already drained
  uint64_t skipped_ = 0;
};

class EventLog final : public store::EvictionListener {
 public:
  // `watcher_bytes`: each watcher's buffer (-o watcher_logbuf_size).
  explicit EventLog(size_t watcher_bytes, bool enabled = true)
      : watcher_bytes_(watcher_bytes), enabled_(enabled) {}

  bool enabled() const { return enabled_; }  // false with -W
  bool wants(uint32_t kind) const { return (mask_.load(std::memory_order_relaxed) & kind) != 0; }

  std::shared_ptr<Watcher> add_watcher(uint32_t kinds);
  void remove_watcher(const Watcher* w);

  // Stamps `body` ("type=... ...") with ts= and gid=, and offers it to the watchers of `kind`.
  void emit(uint32_t kind, std::string_view body);

  // Event formatting (the callers check wants() first).
  void item_get(std::string_view key, store::Lookup result, size_t value_size, int cfd);
  // The item_get line of the lookup a command does before acting (memcached logs one for every
  // store, delete, incr/decr and touch): looks the key up without counting it as an access.
  void lookup(store::Store& store, std::string_view key, int cfd);
  // memcached 1.6.19+'s "deleted" line: a delete or md that unlinked the item (md x too, with
  // the size of the empty item left behind; md I marks stale and logs nothing).
  void deleted(std::string_view key, std::string_view cmd, size_t value_size);
  // The value size of the item under `key` (0 if none), without counting it as an access.
  static size_t peek_size(store::Store& store, std::string_view key);
  void item_store(std::string_view key, std::string_view status, std::string_view cmd, int64_t ttl,
                  size_t value_size, int cfd);
  void conn_event(bool open, const sockaddr_storage* peer, bool error, int cfd);
  // store::EvictionListener
  void evicted(const store::EvictedItem& e) override;

  uint64_t watchers() const { return nwatchers_.load(std::memory_order_relaxed); }
  // Lines taken into a watcher's buffer, and lines a full buffer dropped (memcached's
  // log_watcher_sent and log_watcher_skipped).
  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  using List = std::vector<std::shared_ptr<Watcher>>;
  const size_t watcher_bytes_;
  const bool enabled_;
  std::atomic<uint32_t> mask_{0};
  std::atomic<uint64_t> gid_{0};
  std::atomic<uint64_t> nwatchers_{0}, sent_{0}, skipped_{0};
  std::mutex list_mu_;  // writers of list_ (watch, close); readers copy the pointer under it
  std::shared_ptr<const List> list_ = std::make_shared<List>();
};

}  // namespace memshield::engine
