// The item store: a concurrent hash table of compact items with a global memory limit, eviction,
// lazy and background expiry, CAS, and memcached's storage semantics (set/add/replace/append/
// prepend/cas, incr/decr, touch, delete, flush_all). Knows nothing of protocols or sockets.
//
// Concurrency: the table is split into shards, each with its own lock. No code path holds two
// shard locks at once or blocks on a second lock while holding one. Readers copy what they need
// inside visit() while the shard lock is held, so items need no reference counts.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/function_ref.h"

namespace memshield::store {

struct RestartMeta;  // restart_meta.h

struct Config {
  size_t memory_limit = 64u << 20;  // -m, bytes; everything items use counts against it
  bool evict = true;                // false with -M: fail with kNoMemory instead of evicting
  bool use_cas = true;              // false with -C: CAS values are 0
  size_t item_size_max = 1u << 20;  // -I
  unsigned shards_log2 = 8;         // 2^n lock shards
  // -e: item memory lives in this file (restart_meta.h, DESIGN.md "Warm restart"). With
  // `restore` (a metadata file read at start-up) whose layout settings match, the items the
  // file holds are indexed again; otherwise the file starts empty.
  std::string memory_file;
  const RestartMeta* restore = nullptr;
  // A takeover: memory_file already open, passed over with its lock (owned by the store).
  int memory_fd = -1;
};

// What the constructor did with Config::memory_file.
enum class WarmStart : uint8_t { kNone, kCold, kRestored, kFailed };
// An item eviction pushed out of the cache, for an observer (the engine's `watch evictions`).
struct EvictedItem {
  std::string_view key;
  bool fetched = false;
  int64_t ttl = -1;          // seconds left, -1 for no expiry time
  uint32_t last_access = 0;  // seconds since last stored or read
  size_t value_size = 0;
};
// Told of every eviction while `active` is set (one relaxed load per eviction otherwise).
// Called with a shard lock held: must be quick and take no store lock.
class EvictionListener {
 public:
  virtual ~EvictionListener() = default;
  virtual void evicted(const EvictedItem& e) = 0;
  std::atomic<bool> active{false};
};

enum class Mode : uint8_t { kSet, kAdd, kReplace, kAppend, kPrepend, kCas };
enum class StoreResult : uint8_t { kStored, kNotStored, kExists, kNotFound, kNoMemory };
enum class AllocStatus : uint8_t { kOk, kTooLarge, kNoMemory };
// Why a lookup missed, for memcached's get_expired / get_flushed counters.
enum class Lookup : uint8_t { kHit, kMiss, kExpired, kFlushed };
enum class DeltaStatus : uint8_t { kOk, kNotFound, kNonNumeric, kNoMemory, kExists };

// What a reader sees of an item, valid only inside the visit callback.
struct ItemView {
  std::string_view key;
  std::string_view value;
  uint32_t flags;
  RelTime exptime;      // 0 = never
  RelTime last_access;  // relative time of the last store or access
  // The CAS (0 with -C), computed on demand: it reads the store's CAS counter, a cache line
  // every store writes, which a plain get has no need to pull across cores.
  uint64_t cas() const;
  uint64_t cas_low48;
  const std::atomic<uint64_t>* cas_counter;  // null: CAS disabled
  bool fetched;         // had been read before this access
  // Meta protocol (meta_get only; false elsewhere).
  bool stale = false;       // invalidated by md/ms with I
  bool token_sent = false;  // a win token had been handed out before this access
  bool won = false;         // this access wins the right to recache (and now holds the token)
  bool created = false;     // vivified by this access
  bool key_binary = false;  // the key arrived base64-encoded
  RelTime old_exptime = 0;  // exptime before this access's ttl update
};

// Options of a meta-protocol read (mg), applied under the item's lock.
struct MetaGetOptions {
  bool set_ttl = false;         // T: update exptime
  RelTime ttl = 0;
  bool vivify = false;          // N: on a miss, link an empty item (this access wins)
  RelTime vivify_ttl = 0;
  bool recache = false;         // R: win if the item expires before recache_before
  RelTime recache_before = 0;
  bool recache_after_ttl = true;  // R compares the expiry T set (T came first in the request)
  bool no_update = false;       // u (and me): not an access
  bool peek = false;            // me, ma's read-back: no win token handed out or taken
};

// Options of a meta-protocol delete (md).
struct MetaDeleteOptions {
  bool has_cas = false;
  uint64_t cas = 0;
  bool invalidate = false;      // I: mark stale (new CAS) instead of removing
  bool set_ttl = false;         // T with I
  RelTime ttl = 0;
  bool strip_value = false;     // x (memcached 1.6.19+): replace by an empty item, flags 0, no
                                // expiry, unread, same CAS (I then marks it stale, new CAS)
};
enum class MetaDeleteResult : uint8_t { kDeleted, kNotFound, kExists };

// Extras of a meta-protocol store (ms).
struct MetaStoreOptions {
  bool invalidate = false;      // I with C: a CAS older than the item's still stores, as stale,
                                // keeping the old item's expiry time (if the new item has room)
  bool key_binary = false;
};

struct Item;     // opaque; layout in item.h
struct Segment;  // where an item's bytes live; segment_arena.h

// An allocated item not yet in the table: the caller fills value_data() and then hands it to
// Store::store(). Move-only; if dropped unstored, its memory is returned to the store.
class NewItem {
 public:
  NewItem() = default;
  NewItem(NewItem&& o) noexcept;
  NewItem& operator=(NewItem&& o) noexcept;
  NewItem(const NewItem&) = delete;
  NewItem& operator=(const NewItem&) = delete;
  ~NewItem();

  explicit operator bool() const { return item_ != nullptr; }
  char* value_data();
  size_t value_size() const;
  std::string_view key() const;
  // Copies the value's bytes as they arrive: as much of `bytes` as fits after the first
  // `*filled` bytes of the value. Returns how many it took and advances `*filled` by as many.
  size_t fill(size_t* filled, std::string_view bytes);

 private:
  friend class Store;
  class Store* store_ = nullptr;
  Item* item_ = nullptr;
  Segment* seg_ = nullptr;
};

struct Stats {
  uint64_t curr_items = 0;
  uint64_t total_items = 0;        // items ever linked (reset by stats reset)
  uint64_t bytes = 0;              // bytes of the stored items (headers, keys, values) + tables
  uint64_t limit_maxbytes = 0;
  uint64_t evictions = 0;
  uint64_t evicted_unfetched = 0;  // evicted without ever being read
  uint64_t evicted_active = 0;     // always 0: an item read since its last pass is kept
  uint64_t expired_unfetched = 0;  // expired without ever being read
  uint64_t reclaimed = 0;          // expired items whose memory was reused or freed
  uint64_t crawler_reclaimed = 0;  // of those, freed by the background reclaimer
  uint64_t crawler_items_checked = 0;
  uint64_t hash_power_level = 0;   // log2 of all table slots
  uint64_t hash_bytes = 0;         // memory of the tables themselves (counted in the limit)
  uint64_t reserved_bytes = 0;     // segments + tables: what counts against the limit
  uint64_t malloc_fails = 0;
};

class Store {
 public:
  Store(const Config& config, const Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const Config& config() const { return config_; }

  // -e: kFailed (the memory file could not be opened or mapped; see warm_start_message()),
  // kCold (a clean start; the message says why when a snapshot was refused) or kRestored.
  WarmStart warm_start() const { return warm_start_; }
  const std::string& warm_start_message() const { return warm_message_; }
  // -e, at a graceful stop with no request in flight: writes `meta_path` describing the memory
  // file's segments, CAS, flush state and clock, for the next process to restore.
  bool save_for_restart(const std::string& meta_path, std::string* error) const;
  // The same description, for a takeover to send over its socket instead of a file.
  bool snapshot_for_restart(RestartMeta* m, std::string* error) const;
  // -e: the memory file's descriptor (-1 without one), for a takeover to pass on.
  int memory_file_fd() const;

  // memcached's size rule, so the largest accepted value matches it to the byte: 48 B item
  // header + 8 B CAS (if enabled) + key + 1 + value + 2 (CRLF) + 4 if flags != 0, at most -I.
  bool size_ok(size_t nkey, uint32_t flags, size_t vlen) const;

  // Allocates (evicting if needed and allowed) an unlinked item for a value of vlen bytes.
  // exptime_room: give it an expiry field even if exptime is 0 (an ms with I, whose stale store
  // takes the old item's expiry time, as memcached does).
  AllocStatus allocate(std::string_view key, uint32_t flags, RelTime exptime, size_t vlen,
                       NewItem* out, bool exptime_room = false);

  // Links a filled item according to mode, with memcached's semantics:
  //  set: always; add: only if absent (a present item is bumped as if accessed);
  //  replace/append/prepend: only if present; append/prepend keep the old flags and exptime;
  //  cas: kNotFound if absent, kExists unless cas_in equals the item's CAS (cas_in 0 never does).
  // A stored item gets a fresh CAS, returned in *cas_out. Consumes the item whatever the result.
  StoreResult store(NewItem&& item, Mode mode, uint64_t cas_in, uint64_t* cas_out = nullptr);
  // As store(), with the meta protocol's extras.
  StoreResult store_meta(NewItem&& item, Mode mode, uint64_t cas_in, const MetaStoreOptions& opts,
                         uint64_t* cas_out = nullptr);
  // Meta get: see MetaGetOptions; the view carries the stale/win state. kHit when vivified.
  Lookup meta_get(std::string_view key, const MetaGetOptions& opts,
                  FunctionRef<void(const ItemView&)> visit);
  MetaDeleteResult meta_delete(std::string_view key, const MetaDeleteOptions& opts);

  // Finds a live item and calls visit() with it under its shard lock; marks it accessed.
  Lookup get(std::string_view key, FunctionRef<void(const ItemView&)> visit);
  // As get(), but first sets the item's exptime (gat/gats).
  Lookup get_and_touch(std::string_view key, RelTime exptime,
                       FunctionRef<void(const ItemView&)> visit);
  bool touch(std::string_view key, RelTime exptime);
  bool remove(std::string_view key);

  // incr/decr: the value must parse as memcached's safe_strtoull (digits, then optional
  // whitespace); incr wraps at 2^64, decr floors at 0. A result shorter than the old value is
  // written in place and padded with spaces (memcached does exactly this); a longer one
  // replaces the item. The item gets a fresh CAS. A non-zero cas_in must equal the item's CAS,
  // checked under the same lock as the update (kExists otherwise), as memcached's do_add_delta.
  // in_place false: a shorter result replaces the item too, unpadded (memcached does so when a
  // reply not yet sent still references the item).
  DeltaStatus delta(std::string_view key, bool incr, uint64_t by, uint64_t* result,
                    uint64_t* cas_out = nullptr, uint64_t cas_in = 0, bool in_place = true);

  // flush_all: items last stored or accessed before `when` (relative time; 0 = now) become
  // invalid once `when` arrives. Lazy, as in memcached: invalid items are dropped when met.
  void flush(RelTime when);

  // Background reclaim: examines up to `budget` table slots, continuing where the last call
  // stopped, and frees expired and flushed items. Returns the number freed.
  size_t reclaim_expired(size_t budget);
  // One crawl of a shard (`lru_crawler crawl`): examines every slot of `shard`, a bounded run of
  // slots per lock hold, and frees expired and flushed items, counting them as the background
  // reclaimer does (reclaimed, crawler_reclaimed, crawler_items_checked). At most `max_checked`
  // items are examined (0: no limit; memcached's lru_crawler_tocrawl). Returns the number freed;
  // *checked gets the number examined.
  size_t reclaim_in_shard(size_t shard, size_t max_checked = 0, size_t* checked = nullptr);
  // memcached's size of an item ("size=" of metadump, `stats sizes`): its 48-byte header, the
  // CAS if enabled, the key and a NUL, the value and its CRLF, and 4 bytes of flags if not 0.
  size_t item_total(size_t nkey, uint32_t flags, size_t vlen) const {
    return 48 + (config_.use_cas ? 8 : 0) + nkey + 1 + vlen + 2 + (flags != 0 ? 4 : 0);
  }

  // Key dumps (`stats cachedump`, ...): the live items of one shard, visited under that shard's
  // lock alone, so a dump walks the store a shard at a time and no request waits longer than one
  // shard's walk. visit() returns false to stop. Expired and flushed items are skipped (not
  // unlinked: a dump never writes). Not an access: nothing is marked read.
  size_t shard_count() const;
  void for_each_in_shard(size_t shard, FunctionRef<bool(const ItemView&)> visit) const;

  // The newest CAS handed out (0 with -C): items stored later have a greater one.
  uint64_t last_cas() const;
  // `cache_memlimit`: a new memory limit, in bytes. Growing takes effect at once; shrinking
  // marks the store over its limit, and shrink_step() gives memory back.
  void set_memory_limit(size_t bytes);
  size_t memory_limit() const;
  // Evicts up to `max_segments` of the oldest segments while over the limit, unmapping them
  // (RSS follows); true while still over. Each segment is compacted under its items' shard
  // locks one at a time, so requests interleave.
  bool shrink_step(size_t max_segments);

  void set_eviction_listener(EvictionListener* l) { listener_ = l; }

  Stats stats() const;
  void reset_stats();  // stats reset: total_items, evictions, reclaimed and friends

 private:
  friend class NewItem;
  struct Shard;
  void release_unlinked(Item* it, Segment* seg);
  void open_memory_file();
  bool index_segment(Segment& seg);

  Config config_;
  const Clock& clock_;
  EvictionListener* listener_ = nullptr;
  std::unique_ptr<Shard[]> shards_;
  WarmStart warm_start_ = WarmStart::kNone;
  std::string warm_message_;
  // (implementation state)
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace memshield::store
