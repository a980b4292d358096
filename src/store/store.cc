// The store: sharded slot tables, items in segments (segment_arena.h) counted against the memory
// limit, eviction by compacting the oldest segment (FIFO with reinsertion: an item read since its
// last pass is moved forward, the rest go), lazy and background expiry, flush_all, CAS ids, and
// memcached's command semantics.
// Helpers prefixed `locked_` expect the caller to hold the shard's lock (memcached's `do_`).
#include "store/store.h"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "common/counter.h"
#include "common/futex_lock.h"
#include "common/hash.h"
#include "common/itoa.h"
#include "common/number_parse.h"
#include "store/frequency_sketch.h"
#include "store/item.h"
#include "store/restart_meta.h"
#include "store/segment_arena.h"
#include "store/slot_table.h"

namespace memshield::store {
namespace {

constexpr size_t kInitialSlots = 16;
constexpr size_t kMaxKey = 255;  // nkey is a u8; the protocols cap keys at 250 anyway
// Append/prepend/incr (and moves for an expiry time) drop the lock to allocate and check the
// item again after; if it keeps changing under them they step aside for the writers that beat
// them (yield) and give up after this many rounds rather than spin forever.
constexpr int kMaxRetries = 64;
constexpr int kYieldAfter = 4;

void back_off(int round) {
  if (round >= kYieldAfter) std::this_thread::yield();
}
// A compaction of main keeps items only while they fill at most this share of the segment, so
// every eviction frees at least an eighth of one. Main keeps most of what it visits and drops
// its least frequent items (LFU-like, as W-TinyLFU's main); keeping 3/4 cost 0.2 point of zipf
// hit ratio, for half the visits per freed byte.
constexpr size_t kKeepNumerator = 7, kKeepDenominator = 8;
// An item's worth to main: its key's sketch estimate, plus 4 for each read since its last
// pass (its own, exact, 2-bit count). Below kScores.
constexpr uint32_t kScores = 32;
uint32_t score_of(uint32_t estimate, uint32_t freq) { return estimate + 4 * freq; }

void update_time(Item* it, RelTime now) {
  if (it->time(now) + kUpdateInterval < now) it->set_time(now);
}

}  // namespace

// Counters are written only under the shard lock, so a plain load+store suffices.
struct ShardCounters {
  Counter curr_items, total_items, evictions, evicted_unfetched, expired_unfetched, reclaimed,
      crawler_reclaimed, crawler_items_checked, item_bytes;
};

struct alignas(64) Store::Shard {
  FutexLock mu;
  SlotTable table;
  ShardCounters c;
};

// An item handed out by the arena, and the segment it pins until it is linked or abandoned.
// Whoever links it clears `it`, so release() tells the two apart.
struct Fresh {
  Item* it = nullptr;
  Segment* seg = nullptr;
};

struct Store::Impl {
  explicit Impl(Store& s, size_t limit, bool evict) : st(s), arena(limit, evict) {}

  Store& st;
  SegmentArena arena;
  FrequencySketch sketch;
  // Sketch estimates of the last items main evicted. A window victim not read while in the
  // window is admitted to main only if its key's estimate beats one of these, picked by its
  // hash: TinyLFU's duel of candidate against victim, the victim drawn from main's recent
  // evictions since main evicts a segment at a time.
  std::atomic<uint8_t> evicted_estimate[256] = {};
  std::atomic<uint32_t> evicted_next{0};
  // Score (score_of) from which a main compaction keeps an item: after each one, the bar under
  // which the items that segment held would have filled at most 7/8 of it (the previous segment
  // stands for the next, which saves a second walk).
  std::atomic<uint32_t> keep_bar{0};
  size_t nshards = 1;
  unsigned shard_shift = 64;
  std::atomic<int64_t> limit{0};
  std::atomic<int64_t> table_bytes{0};
  std::atomic<uint64_t> last_cas{0};
  std::atomic<RelTime> oldest_live{0};
  mutable std::atomic<uint64_t> oldest_cas{0};
  mutable std::atomic<bool> flush_pending{false};  // a delayed flush_all whose cut-off CAS is unset
  std::atomic<uint64_t> malloc_fails{0};
  std::atomic<bool> over_limit{false};  // a table grew past the limit: trim after unlocking
  std::mutex reclaim_mu;  // guards the reclaim cursor; never taken while holding a shard lock
  size_t reclaim_shard = 0;
  size_t reclaim_slot = 0;

  Shard& shard_for(uint64_t h) { return st.shards_[shard_shift >= 64 ? 0 : h >> shard_shift]; }
  // Every store takes the next number, with -C too (flush_all's cut-off uses it). Clients see
  // it as the CAS only when CAS is enabled.
  uint64_t new_cas() {
    if (flush_pending.load(std::memory_order_acquire)) resolve_flush(st.clock_.now());
    return last_cas.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  uint64_t cas_of(const Item* it) const {
    return cas_from_low48(it->cas_low48(), last_cas.load(std::memory_order_relaxed));
  }
  uint64_t visible_cas(const Item* it) const { return st.config_.use_cas ? cas_of(it) : 0; }
  const std::atomic<uint64_t>* cas_counter() const {
    return st.config_.use_cas ? &last_cas : nullptr;
  }

  Lookup dead_reason(const Item* it, RelTime now) const;
  void resolve_flush(RelTime now) const;
  Fresh alloc_item(std::string_view key, size_t vlen, uint32_t flags, bool exptime_field,
                   AllocStatus* status);
  bool relocate_for_exptime(std::string_view key, uint64_t h);
  static void release(Fresh& f) {
    if (f.it != nullptr) {
      SegmentArena::abandoned(f.seg, f.it->size());
    } else if (f.seg != nullptr) {
      SegmentArena::linked(f.seg);
    }
    f = Fresh{};
  }
  size_t compact(Segment& seg, Keep keep);
  void move_to_main(Shard& s, Item* it, uint64_t h, bool from_window);
  void trim_if_over();
  void notify_evicted(const Item* it, RelTime now);
  void locked_unlink(Shard& s, size_t i, bool count_dead = true);
  // A crawl's look at slot i: an expired or flushed item there is counted and unlinked (true:
  // the slot now holds what the backward shift moved into it, so look at it again).
  bool locked_reclaim_slot(Shard& s, size_t i, RelTime now);
  size_t locked_find_live(Shard& s, std::string_view key, uint64_t h, RelTime now, Lookup* why);
  bool locked_link_new(Shard& s, uint64_t h, Item* it);
  void locked_replace(Shard& s, size_t i, Item* it, bool counts_as_store = true);
  bool locked_grow(Shard& s);
  // Runs `op` under the key's shard lock. `op` returns false when the item it found needs room
  // for an expiry time it has not got: the item then moves to a copy with the field (no lock
  // held) and `op` runs again. False if the copy could not be made.
  template <class Op>
  bool with_exptime_room(std::string_view key, uint64_t h, Op&& op);
  Lookup access(std::string_view key, bool set_exptime, RelTime exptime,
                const FunctionRef<void(const ItemView&)>* visit);
  StoreResult concat(Fresh add, bool append, uint64_t cas_in, uint64_t* cas_out);
};

// ---- NewItem ----

NewItem::NewItem(NewItem&& o) noexcept : store_(o.store_), item_(o.item_), seg_(o.seg_) {
  o.store_ = nullptr;
  o.item_ = nullptr;
  o.seg_ = nullptr;
}

NewItem& NewItem::operator=(NewItem&& o) noexcept {
  if (this != &o) {
    if (item_ != nullptr) store_->release_unlinked(item_, seg_);
    store_ = o.store_;
    item_ = o.item_;
    seg_ = o.seg_;
    o.store_ = nullptr;
    o.item_ = nullptr;
    o.seg_ = nullptr;
  }
  return *this;
}

NewItem::~NewItem() {
  if (item_ != nullptr) store_->release_unlinked(item_, seg_);
}

char* NewItem::value_data() { return item_->value_data(); }
size_t NewItem::value_size() const { return item_->vlen(); }
std::string_view NewItem::key() const { return item_->key(); }

size_t NewItem::fill(size_t* filled, std::string_view bytes) {
  const size_t n = std::min(size_t{item_->vlen()} - *filled, bytes.size());
  memcpy(item_->value_data() + *filled, bytes.data(), n);
  *filled += n;
  return n;
}

// ---- Impl: memory ----

// memcached's rule: once `oldest_live` has come, items whose time is not after it are flushed.
// An item's time is exact only within 18 hours (Item::time), so the CAS, which orders every
// store, carries the cut-off for older ones: the counter is taken at the flush, or, for a flush
// with a delay, by the first store or lookup after `oldest_live`'s second (resolve_flush).
Lookup Store::Impl::dead_reason(const Item* it, RelTime now) const {
  RelTime live = oldest_live.load(std::memory_order_acquire);
  if (live != 0 && live <= now) {
    if (flush_pending.load(std::memory_order_acquire)) resolve_flush(now);
    uint64_t ocas = oldest_cas.load(std::memory_order_acquire);
    if (it->time(now) <= live || (ocas != 0 && cas_of(it) < ocas)) return Lookup::kFlushed;
  }
  const RelTime exptime = it->exptime();
  if (exptime != 0 && exptime <= now) return Lookup::kExpired;
  return Lookup::kHit;
}

bool Store::Impl::locked_reclaim_slot(Shard& s, size_t i, RelTime now) {
  const Item* it = s.table.item_at(i);
  s.c.crawler_items_checked.add();
  const Lookup r = dead_reason(it, now);
  if (r == Lookup::kHit) return false;
  s.c.reclaimed.add();
  s.c.crawler_reclaimed.add();
  if (r == Lookup::kExpired && !it->fetched()) s.c.expired_unfetched.add();
  locked_unlink(s, i);
  return true;
}

void Store::Impl::resolve_flush(RelTime now) const {
  if (now <= oldest_live.load(std::memory_order_acquire)) return;
  if (flush_pending.exchange(false, std::memory_order_acq_rel)) {
    oldest_cas.store(last_cas.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
}

// Room for an item, with its key and sizes written at once: a segment's compaction walks items
// by their sizes and hashes their keys, so both must be valid from the moment the bytes are
// handed out.
// With -M the expiry field is always there: moving an item to make room for one could fail
// for want of memory, and touch must not.
Fresh Store::Impl::alloc_item(std::string_view key, size_t vlen, uint32_t flags,
                              bool exptime_field, AllocStatus* status) {
  exptime_field = exptime_field || !st.config_.evict;
  const size_t size = item_alloc_size(key.size(), vlen, flags, exptime_field);
  // An item that could not fit even in an empty cache must not wipe the cache trying.
  if (static_cast<int64_t>(size) >
      limit.load(std::memory_order_relaxed) - table_bytes.load(std::memory_order_relaxed)) {
    *status = AllocStatus::kNoMemory;
    return {};
  }
  Fresh f;
  char* p = arena.allocate(size, &f.seg, [this](Segment& seg, Keep keep) {
    return compact(seg, keep);
  });
  if (p == nullptr) {
    *status = AllocStatus::kNoMemory;
    return {};
  }
  f.it = reinterpret_cast<Item*>(p);
  f.it->init(key.size(), vlen, flags, exptime_field);
  f.it->bits = 0;
  memcpy(f.it->key_data(), key.data(), key.size());
  *status = AllocStatus::kOk;
  return f;
}

// Walks a victim segment's items in order. Dead ones are skipped; expired and flushed ones are
// unlinked; the ones to keep move down to the front (every live one with -M; in main, one
// scoring at least keep_bar, which becomes one read colder, while they fill at most 7/8 of the
// segment) or out to the main head (a window victim that was read there or beats a recent main
// victim's frequency); the rest are evicted. Item sizes and keys never change, so they are read
// without the lock; everything else is read under the item's shard lock.
size_t Store::Impl::compact(Segment& seg, Keep keep) {
  const size_t keep_limit = keep == Keep::kLive   ? seg.cap
                            : keep == Keep::kHot ? seg.cap / kKeepDenominator * kKeepNumerator
                                                 : 0;
  const bool main_pass = (keep == Keep::kHot || keep == Keep::kMoveHot) && !seg.large;
  const uint32_t bar = keep_bar.load(std::memory_order_relaxed);
  size_t bytes_by_score[kScores] = {};  // live items met by a main pass
  bool turned_away = false;  // an item worth keeping did not fit under keep_limit
  // Dead bytes from here on are the ones in what this pass keeps; its own unlinks don't count.
  seg.dead.store(0, std::memory_order_relaxed);
  size_t read = 0, write = 0;
  while (read < seg.used) {
    auto* it = reinterpret_cast<Item*>(seg.data + read);
    const size_t size = it->size();
    const std::string_view key = it->key();
    const uint64_t h = hash_key(key);
    Shard& s = shard_for(h);
    bool promote = false;
    {
      std::lock_guard<FutexLock> g(s.mu);
      if (it->linked()) {
        const size_t i = s.table.find(key, h);
        const RelTime now = st.clock_.now();
        const Lookup why = dead_reason(it, now);
        const uint32_t estimate = sketch.estimate(h);
        const uint32_t score = score_of(estimate, it->freq());
        if (main_pass && why == Lookup::kHit) bytes_by_score[score] += size;
        const bool worth =
            keep == Keep::kPromote
                ? it->freq() > 0 ||
                      estimate > evicted_estimate[h & 255].load(std::memory_order_relaxed)
                : score >= bar;
        if (why != Lookup::kHit) {
          s.c.reclaimed.add();
          if (!it->fetched()) s.c.expired_unfetched.add();
          locked_unlink(s, i, false);
        } else if ((keep == Keep::kPromote || keep == Keep::kMoveHot) && worth) {
          promote = true;  // moved below, with no lock held while main makes room
        } else if (keep == Keep::kLive ||
                   (keep == Keep::kHot && worth &&
                    !(turned_away = turned_away || write + size > keep_limit))) {
          if (keep == Keep::kHot && it->freq() > 0) {
            it->set_freq(static_cast<uint8_t>(it->freq() - 1));
          }
          if (write != read) {
            memmove(seg.data + write, it, size);
            s.table.replace_at(i, reinterpret_cast<Item*>(seg.data + write));
          }
          write += size;
        } else {
          if (keep == Keep::kHot || keep == Keep::kMoveHot) {
            evicted_estimate[evicted_next.fetch_add(1, std::memory_order_relaxed) & 255].store(
                static_cast<uint8_t>(estimate), std::memory_order_relaxed);
          }
          s.c.evictions.add();
          if (!it->fetched()) s.c.evicted_unfetched.add();
          notify_evicted(it, now);
          locked_unlink(s, i, false);
        }
      }
    }
    if (promote) move_to_main(s, it, h, keep == Keep::kPromote);
    read += size;
  }
  if (main_pass) {
    size_t total = 0;
    for (size_t b : bytes_by_score) total += b;
    const size_t target = total / kKeepDenominator * kKeepNumerator;
    uint32_t next = kScores;
    size_t above = 0;
    while (next > 0 && above + bytes_by_score[next - 1] <= target) above += bytes_by_score[--next];
    // If the top score alone is over the share, keep it (in order, up to keep_limit), not none.
    if (above == 0 && next > 0) --next;
    if (total != 0) keep_bar.store(next, std::memory_order_relaxed);
  }
  return write;
}

// Copies an item worth keeping into the main head and points its slot there; if main has no
// room, it goes; if it changed meanwhile, it is already gone. Promoted from the window, it
// starts main with no credit (it must be read again to outlive its next pass); moved within
// main, it is one pass colder.
void Store::Impl::move_to_main(Shard& s, Item* it, uint64_t h, bool from_window) {
  const size_t size = it->size();  // the victim is ours alone: its bytes stay put
  Segment* mseg = nullptr;
  char* p = arena.allocate_main(size, &mseg, [this](Segment& seg, Keep keep) {
    return compact(seg, keep);
  });
  std::lock_guard<FutexLock> g(s.mu);
  auto* moved = reinterpret_cast<Item*>(p);
  // Main segments are walked item by item, so the bytes handed out must hold a whole item
  // even if it is abandoned.
  if (p != nullptr) memcpy(p, it, size);
  if (!it->linked()) {  // deleted or replaced while main made room
    if (p != nullptr) {
      moved->bits = static_cast<uint8_t>(moved->bits & ~Item::kLinked);
      SegmentArena::abandoned(mseg, size);
    }
    return;
  }
  const size_t i = s.table.find(it->key(), h);
  if (p == nullptr) {
    s.c.evictions.add();
    if (!it->fetched()) s.c.evicted_unfetched.add();
    notify_evicted(it, st.clock_.now());
    locked_unlink(s, i, false);
    return;
  }
  moved->set_freq(from_window || moved->freq() == 0 ? 0 : moved->freq() - 1);
  it->bits = static_cast<uint8_t>(it->bits & ~Item::kLinked);
  s.table.replace_at(i, moved);
  SegmentArena::linked(mseg);
}

// `watch evictions`: one relaxed load when nobody listens.
void Store::Impl::notify_evicted(const Item* it, RelTime now) {
  EvictionListener* l = st.listener_;
  if (l == nullptr || !l->active.load(std::memory_order_relaxed)) return;
  EvictedItem e;
  e.key = it->key();
  e.fetched = it->fetched();
  const RelTime exp = it->exptime();
  e.ttl = exp == 0 ? -1 : static_cast<int64_t>(exp) - static_cast<int64_t>(now);
  e.last_access = now - it->time(now);
  e.value_size = it->vlen();
  l->evicted(e);
}

void Store::Impl::trim_if_over() {
  if (!over_limit.load(std::memory_order_relaxed)) return;
  over_limit.store(false, std::memory_order_relaxed);
  arena.trim([this](Segment& seg, Keep keep) { return compact(seg, keep); });
}

// ---- Impl: table operations under the shard lock ----

void Store::Impl::locked_unlink(Shard& s, size_t i, bool count_dead) {
  Item* it = s.table.item_at(i);
  s.table.erase_at(i);
  it->bits = static_cast<uint8_t>(it->bits & ~Item::kLinked);
  if (count_dead) arena.segment_of(it)->dead.fetch_add(it->size(), std::memory_order_relaxed);
  s.c.curr_items.sub();
  s.c.item_bytes.sub(it->size());
}

size_t Store::Impl::locked_find_live(Shard& s, std::string_view key, uint64_t h, RelTime now,
                                     Lookup* why) {
  size_t i = s.table.find(key, h);
  if (i == SlotTable::kNone) {
    *why = Lookup::kMiss;
    return i;
  }
  Item* it = s.table.item_at(i);
  Lookup r = dead_reason(it, now);
  if (r != Lookup::kHit) {
    locked_unlink(s, i);
    *why = r;
    return SlotTable::kNone;
  }
  *why = Lookup::kHit;
  return i;
}

// The table counts against the limit too. It grows under the shard lock, where eviction (which
// takes other shard locks) cannot run, so the caller trims after unlocking.
bool Store::Impl::locked_grow(Shard& s) {
  size_t before = s.table.bytes();
  if (!s.table.grow()) {
    malloc_fails.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto delta = static_cast<int64_t>(s.table.bytes() - before);
  table_bytes.fetch_add(delta, std::memory_order_relaxed);
  arena.add_external(delta);
  if (arena.reserved() > limit.load(std::memory_order_relaxed))
    over_limit.store(true, std::memory_order_relaxed);
  return true;
}

bool Store::Impl::locked_link_new(Shard& s, uint64_t h, Item* it) {
  if (s.table.needs_grow() && !locked_grow(s)) {
    // Without a bigger table we may still fill up to all but one slot (probes must end).
    if (!s.table.can_insert()) return false;
  }
  s.table.insert(h, it);
  it->bits |= Item::kLinked;
  s.c.curr_items.add();
  // Shards fill evenly, so one shard's count times the shards tracks the total.
  if (size_t grown = sketch.fit(s.c.curr_items.get() * nshards)) {
    arena.add_external(static_cast<int64_t>(grown));  // counted in the limit, not hash_bytes
  }
  s.c.total_items.add();
  s.c.item_bytes.add(it->size());
  return true;
}

// Puts `it` (same key) in slot i; a rewritten key keeps its earned frequency, not its history
// of having been read.
void Store::Impl::locked_replace(Shard& s, size_t i, Item* it, bool counts_as_store) {
  Item* old = s.table.item_at(i);
  it->set_freq(std::max(it->freq(), old->freq()));
  old->bits = static_cast<uint8_t>(old->bits & ~Item::kLinked);
  arena.segment_of(old)->dead.fetch_add(old->size(), std::memory_order_relaxed);
  s.c.item_bytes.sub(old->size());
  s.table.replace_at(i, it);
  it->bits |= Item::kLinked;
  s.c.item_bytes.add(it->size());
  if (counts_as_store) s.c.total_items.add();
}

// An item stored without an expiry time has no room for one: to give it one (touch, gat, mg T,
// md I T) it moves to a copy with the field, same CAS, bits and value. Locks only the item's
// shard, and allocates with no lock held. False when the copy cannot be allocated.
bool Store::Impl::relocate_for_exptime(std::string_view key, uint64_t h) {
  Shard& s = shard_for(h);
  for (int round = 0; round < kMaxRetries; ++round) {
    back_off(round);
    uint32_t vlen, flags;
    {
      std::lock_guard<FutexLock> g(s.mu);
      Lookup why;
      size_t i = locked_find_live(s, key, h, st.clock_.now(), &why);
      if (i == SlotTable::kNone || s.table.item_at(i)->has_exptime()) return true;
      vlen = s.table.item_at(i)->vlen();
      flags = s.table.item_at(i)->flags();
    }
    AllocStatus as;
    Fresh f = alloc_item(key, vlen, flags, true, &as);
    if (f.it == nullptr) return false;
    {
      std::lock_guard<FutexLock> g(s.mu);
      Lookup why;
      size_t i = locked_find_live(s, key, h, st.clock_.now(), &why);
      Item* it = i == SlotTable::kNone ? nullptr : s.table.item_at(i);
      if (it != nullptr && !it->has_exptime() && it->vlen() == vlen && it->flags() == flags) {
        f.it->cas_lo = it->cas_lo;
        f.it->cas_hi = it->cas_hi;
        f.it->time_lo = it->time_lo;
        f.it->bits = static_cast<uint8_t>(it->bits & ~Item::kLinked);
        memcpy(f.it->value_data(), it->value_data(), vlen);
        locked_replace(s, i, f.it, false);
        f.it = nullptr;
      }
      const bool done = it == nullptr || it->has_exptime() || f.it == nullptr;
      release(f);
      if (done) break;
    }
  }
  trim_if_over();
  return true;
}

// ---- Impl: commands ----

template <class Op>
bool Store::Impl::with_exptime_room(std::string_view key, uint64_t h, Op&& op) {
  Shard& s = shard_for(h);
  for (int round = 0; round < kMaxRetries; ++round) {
    back_off(round);
    if (round > 0 && !relocate_for_exptime(key, h)) return false;
    std::lock_guard<FutexLock> g(s.mu);
    if (op(s)) return true;
  }
  return false;
}

Lookup Store::Impl::access(std::string_view key, bool set_exptime, RelTime exptime,
                           const FunctionRef<void(const ItemView&)>* visit) {
  if (key.size() > kMaxKey) return Lookup::kMiss;
  uint64_t h = hash_key(key);
  // Reads, hits and misses alike, are counted (not touches); the counters' cache line loads
  // while the table is searched.
  if (visit != nullptr) sketch.prefetch(h);
  Lookup result = Lookup::kMiss;  // stays so if the bigger copy cannot be allocated
  with_exptime_room(key, h, [&](Shard& s) {
    RelTime now = st.clock_.now();
    size_t i = locked_find_live(s, key, h, now, &result);
    if (i == SlotTable::kNone) return true;
    Item* it = s.table.item_at(i);
    if (set_exptime && !it->set_exptime(exptime)) {
      result = Lookup::kMiss;
      return false;
    }
    if (visit != nullptr) {
      const Item::Fields f = it->fields();
      ItemView v{{f.key, f.nkey},  {f.key + f.nkey, f.vlen}, f.flags,     f.exptime,
                 it->time(now), it->cas_low48(),          cas_counter(), it->fetched()};
      (*visit)(v);
    }
    it->mark_read();
    update_time(it, now);
    return true;
  });
  if (visit != nullptr) sketch.record(h);
  return result;
}

StoreResult Store::Impl::concat(Fresh add, bool append, uint64_t cas_in, uint64_t* cas_out) {
  const std::string_view key = add.it->key();
  const uint64_t h = hash_key(key);
  Shard& s = shard_for(h);
  Fresh out;
  StoreResult result = StoreResult::kNotStored;
  for (int round = 0; round < kMaxRetries; ++round) {
    back_off(round);
    size_t want = 0;
    uint32_t want_flags = 0;
    bool want_exptime = false;
    {
      std::lock_guard<FutexLock> g(s.mu);
      Lookup why;
      size_t i = locked_find_live(s, key, h, st.clock_.now(), &why);
      if (i == SlotTable::kNone) break;
      Item* old = s.table.item_at(i);
      if (cas_in != 0 && cas_in != visible_cas(old)) {
        result = StoreResult::kExists;
        break;
      }
      want = size_t{old->vlen()} + add.it->vlen();
      want_flags = old->flags();
      want_exptime = old->has_exptime();
      if (out.it != nullptr && out.it->vlen() == want && out.it->flags() == want_flags &&
          out.it->has_exptime() == want_exptime && st.size_ok(key.size(), want_flags, want)) {
        // Still the item we sized for: combine and swap it in.
        Item* o = out.it;
        o->set_exptime(old->exptime());
        char* v = o->value_data();
        if (append) {
          memcpy(v, old->value_data(), old->vlen());
          memcpy(v + old->vlen(), add.it->value_data(), add.it->vlen());
        } else {
          memcpy(v, add.it->value_data(), add.it->vlen());
          memcpy(v + add.it->vlen(), old->value_data(), old->vlen());
        }
        o->set_time(st.clock_.now());
        o->set_cas(new_cas());
        o->bits = 0;
        if (cas_out != nullptr) *cas_out = visible_cas(o);
        locked_replace(s, i, o);
        out.it = nullptr;
        result = StoreResult::kStored;
        break;
      }
      // memcached sizes the combination with the old item's flags and fails it as NOT_STORED.
      if (!st.size_ok(key.size(), want_flags, want)) break;
    }
    // Allocate with no lock held, so eviction may visit any shard, then re-check.
    release(out);
    AllocStatus as;
    out = alloc_item(key, want, want_flags, want_exptime, &as);
    if (out.it == nullptr) break;
  }
  release(out);
  release(add);
  trim_if_over();
  return result;
}

// ---- Store ----

uint64_t ItemView::cas() const {
  return cas_counter == nullptr
             ? 0
             : cas_from_low48(cas_low48, cas_counter->load(std::memory_order_relaxed));
}

Store::Store(const Config& config, const Clock& clock)
    : config_(config),
      clock_(clock),
      impl_(std::make_unique<Impl>(*this, config.memory_limit, config.evict)) {
  unsigned log2 = std::min(config_.shards_log2, 16u);
  impl_->nshards = size_t{1} << log2;
  impl_->shard_shift = 64 - log2;
  impl_->limit = static_cast<int64_t>(std::min<size_t>(config_.memory_limit, INT64_MAX));
  shards_ = std::make_unique<Shard[]>(impl_->nshards);
  for (size_t i = 0; i < impl_->nshards; ++i) {
    if (!shards_[i].table.init(kInitialSlots, log2))
      abort();  // start-up; nothing to fall back to
    auto b = static_cast<int64_t>(shards_[i].table.bytes());
    impl_->table_bytes.fetch_add(b);
    impl_->arena.add_external(b);
  }
  if (!config_.memory_file.empty()) open_memory_file();
}

namespace {
LayoutSettings layout_of(const Config& c, const SegmentArena& arena) {
  LayoutSettings l;
  l.memory_limit = c.memory_limit;
  l.item_size_max = c.item_size_max;
  l.segment_size = arena.segment_size();
  l.file_bytes = arena.planned_file_bytes(c.item_size_max);
  l.shards_log2 = std::min(c.shards_log2, 16u);
  l.use_cas = c.use_cas ? 1 : 0;
  l.evict = c.evict ? 1 : 0;
  return l;
}
}  // namespace

// -e: maps the memory file; with a snapshot whose layout matches, restores the CAS counter, the
// flush state and each shard's table size, then indexes every segment that passes its checks.
void Store::open_memory_file() {
  const RestartMeta* meta = config_.restore;
  if (meta != nullptr) {
    std::string old;
    const std::string name = meta->layout.mismatch(layout_of(config_, impl_->arena), &old);
    if (!name.empty()) {
      warm_message_ = "restart incompatible due to setting for [" + name + "] [old value: " + old +
                      "]; starting with a clean cache";
      meta = nullptr;
    } else if (meta->table_capacity.size() != impl_->nshards) {
      warm_message_ = "metadata lists the wrong number of shards; starting with a clean cache";
      meta = nullptr;
    } else {
      struct stat st {};
      if (stat(config_.memory_file.c_str(), &st) != 0 ||
          static_cast<uint64_t>(st.st_size) != meta->layout.file_bytes) {
        warm_message_ = "memory file missing or not the size the metadata describes (" +
                        std::to_string(meta->layout.file_bytes) +
                        " bytes); starting with a clean cache";
        meta = nullptr;
      }
    }
  }
  std::string error;
  if (!impl_->arena.open_file(config_.memory_file, config_.item_size_max, meta == nullptr,
                              &error, config_.memory_fd)) {
    warm_start_ = WarmStart::kFailed;
    warm_message_ = error;
    return;
  }
  if (meta == nullptr) {
    warm_start_ = WarmStart::kCold;
    return;
  }
  impl_->last_cas.store(meta->last_cas);
  impl_->oldest_cas.store(meta->oldest_cas);
  impl_->oldest_live.store(meta->oldest_live);
  impl_->flush_pending.store(meta->flush_pending != 0);
  // Tables as big as they were (memcached restores its hash power too), within the limit.
  for (size_t i = 0; i < impl_->nshards; ++i) {
    SlotTable& t = shards_[i].table;
    const uint64_t cap = meta->table_capacity[i];
    if (cap <= t.capacity() || cap * 8 > static_cast<uint64_t>(impl_->limit) / 4) continue;
    const auto before = static_cast<int64_t>(t.bytes());
    if (!t.init(static_cast<size_t>(cap), std::min(config_.shards_log2, 16u))) continue;
    const auto delta = static_cast<int64_t>(t.bytes()) - before;
    impl_->table_bytes.fetch_add(delta);
    impl_->arena.add_external(delta);
  }
  const auto started = std::chrono::steady_clock::now();
  const size_t dropped =
      impl_->arena.adopt(meta->segments, [this](Segment& seg) { return index_segment(seg); });
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  const Stats st = stats();
  warm_start_ = WarmStart::kRestored;
  warm_message_ = "restored " + std::to_string(st.curr_items) + " items from " +
                  std::to_string(meta->segments.size() - dropped) + " segments in " +
                  std::to_string(ms) + " ms";
  if (dropped != 0) {
    warm_message_ += "; dropped " + std::to_string(dropped) +
                     " segments that failed their bounds or checksum checks";
  }
}

// One segment of a restored memory file: every item's sizes must lie within the segment's used
// bytes (checked for all before any is linked); then each item that was linked goes back into
// its shard's table. Unlinked ones count as dead bytes, as they did before the stop.
bool Store::index_segment(Segment& seg) {
  size_t off = 0;
  while (off < seg.used) {
    const size_t avail = seg.used - off;
    if (avail < sizeof(Item)) return false;
    const auto* it = reinterpret_cast<const Item*>(seg.data + off);
    const uint32_t w = it->size_word;
    const size_t fixed = sizeof(Item) + ((w & Item::kVlenMask) == Item::kLongValue ? 4 : 0) +
                         ((w & Item::kHasExptime) ? 4 : 0) + ((w & Item::kHasFlags) ? 4 : 0);
    if (fixed > avail) return false;
    const size_t size = it->size();
    if (size > avail || it->nkey() > kMaxKey || it->vlen() > config_.item_size_max) return false;
    off += size;
  }
  uint64_t dead = 0;
  for (off = 0; off < seg.used;) {
    auto* it = reinterpret_cast<Item*>(seg.data + off);
    const size_t size = it->size();
    off += size;
    bool linked = false;
    if (it->linked()) {
      const uint64_t h = hash_key(it->key());
      Shard& s = impl_->shard_for(h);
      std::lock_guard<FutexLock> g(s.mu);
      // A key linked twice (never written so; a damaged file) keeps its first copy.
      if (s.table.find(it->key(), h) == SlotTable::kNone) linked = impl_->locked_link_new(s, h, it);
    }
    if (!linked) {
      it->bits = static_cast<uint8_t>(it->bits & ~Item::kLinked);
      dead += size;
    }
  }
  seg.dead.store(dead, std::memory_order_relaxed);
  return true;
}

bool Store::save_for_restart(const std::string& meta_path, std::string* error) const {
  RestartMeta m;
  if (!snapshot_for_restart(&m, error)) return false;
  return write_meta_file(meta_path, m, error);
}

int Store::memory_file_fd() const {
  return impl_->arena.file_backed() ? impl_->arena.file_fd() : -1;
}

bool Store::snapshot_for_restart(RestartMeta* out, std::string* error) const {
  if (!impl_->arena.file_backed()) {
    *error = "no memory file";
    return false;
  }
  RestartMeta& m = *out;
  m.layout = layout_of(config_, impl_->arena);
  m.process_started = clock_.process_started();
  m.stop_time = clock_.unix_now();
  m.current_time = clock_.now();
  m.last_cas = impl_->last_cas.load();
  m.oldest_cas = impl_->oldest_cas.load();
  m.oldest_live = impl_->oldest_live.load();
  m.flush_pending = impl_->flush_pending.load() ? 1 : 0;
  for (size_t i = 0; i < impl_->nshards; ++i) {
    std::lock_guard<FutexLock> g(shards_[i].mu);
    m.table_capacity.push_back(shards_[i].table.capacity());
  }
  impl_->arena.snapshot(&m.segments);
  return true;
}

// Items live in segments, which the arena frees; items own nothing else.
Store::~Store() = default;

bool Store::size_ok(size_t nkey, uint32_t flags, size_t vlen) const {
  if (vlen > config_.item_size_max || nkey > config_.item_size_max) return false;
  return item_total(nkey, flags, vlen) <= config_.item_size_max;
}

AllocStatus Store::allocate(std::string_view key, uint32_t flags, RelTime exptime, size_t vlen,
                            NewItem* out, bool exptime_room) {
  *out = NewItem();
  if (key.size() > kMaxKey || vlen > UINT32_MAX || !size_ok(key.size(), flags, vlen)) {
    return AllocStatus::kTooLarge;
  }
  AllocStatus status;
  Fresh f = impl_->alloc_item(key, vlen, flags, exptime != 0 || exptime_room, &status);
  if (f.it == nullptr) return status;
  Item* it = f.it;
  it->set_cas(0);
  it->set_exptime(exptime);
  it->set_time(clock_.now());
  out->store_ = this;
  out->item_ = it;
  out->seg_ = f.seg;
  return AllocStatus::kOk;
}

void Store::release_unlinked(Item* it, Segment* seg) { SegmentArena::abandoned(seg, it->size()); }

StoreResult Store::store(NewItem&& item, Mode mode, uint64_t cas_in, uint64_t* cas_out) {
  return store_meta(std::move(item), mode, cas_in, MetaStoreOptions{}, cas_out);
}

StoreResult Store::store_meta(NewItem&& item, Mode mode, uint64_t cas_in,
                              const MetaStoreOptions& opts, uint64_t* cas_out) {
  Fresh f{item.item_, item.seg_};
  item.item_ = nullptr;
  item.seg_ = nullptr;
  item.store_ = nullptr;
  if (f.it == nullptr) return StoreResult::kNotStored;
  if (mode == Mode::kAppend || mode == Mode::kPrepend) {
    return impl_->concat(f, mode == Mode::kAppend, cas_in, cas_out);
  }
  Item* it = f.it;
  const std::string_view key = it->key();
  const uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  StoreResult result;
  {
    std::lock_guard<FutexLock> g(s.mu);
    RelTime now = clock_.now();
    Lookup why;
    size_t i = impl_->locked_find_live(s, key, h, now, &why);
    const bool found = i != SlotTable::kNone;
    Item* old = found ? s.table.item_at(i) : nullptr;
    // A store that meets its key's expired or flushed item takes that item's place: memcached's
    // "reclaimed" (an entry stored using memory from an expired one; issue_183).
    if (why == Lookup::kExpired || why == Lookup::kFlushed) s.c.reclaimed.add();
    if (mode == Mode::kAdd && found) {
      old->bump_freq();
      update_time(old, now);
      result = StoreResult::kNotStored;
    } else if (mode == Mode::kReplace && !found) {
      result = cas_in != 0 ? StoreResult::kNotFound : StoreResult::kNotStored;
    } else if (mode == Mode::kReplace && cas_in != 0 && cas_in != impl_->visible_cas(old)) {
      result = StoreResult::kExists;  // meta ms MR with C (text replace never passes a CAS)
    } else if (mode == Mode::kCas && !found) {
      result = StoreResult::kNotFound;
    } else if (mode == Mode::kCas &&
               !(opts.invalidate && cas_in != 0 && cas_in < impl_->visible_cas(old)) &&
               (cas_in == 0 || cas_in != impl_->visible_cas(old))) {
      result = StoreResult::kExists;
    } else {
      const bool stale = mode == Mode::kCas && cas_in != impl_->visible_cas(old);
      it->set_time(now);
      it->set_cas(impl_->new_cas());
      // memcached's stale store keeps the old item's expiry time (metaget.t "TTL wasn't modified").
      if (stale) it->set_exptime(old->exptime());
      // A stale store (ms I with an older CAS) keeps the old item's win token, so the client
      // that holds it still gets to recache.
      const uint8_t kept = stale ? (old->bits & Item::kTokenSent) : 0;
      it->bits = static_cast<uint8_t>(kept | (stale ? Item::kStale : 0) |
                                      (opts.key_binary ? Item::kKeyBinary : 0));
      if (found) {
        impl_->locked_replace(s, i, it);
        result = StoreResult::kStored;
      } else {
        result = impl_->locked_link_new(s, h, it) ? StoreResult::kStored : StoreResult::kNoMemory;
      }
      if (result == StoreResult::kStored) {
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(it);
        f.it = nullptr;
      }
    }
  }
  Impl::release(f);
  impl_->trim_if_over();
  return result;
}

Lookup Store::get(std::string_view key, FunctionRef<void(const ItemView&)> visit) {
  return impl_->access(key, false, 0, &visit);
}

Lookup Store::get_and_touch(std::string_view key, RelTime exptime,
                            FunctionRef<void(const ItemView&)> visit) {
  return impl_->access(key, true, exptime, &visit);
}

Lookup Store::meta_get(std::string_view key, const MetaGetOptions& opts,
                       FunctionRef<void(const ItemView&)> visit) {
  if (key.size() > kMaxKey) return Lookup::kMiss;
  // A vivified item is allocated before locking, so eviction may visit any shard.
  Fresh fresh;
  if (opts.vivify) {
    AllocStatus as;
    fresh = impl_->alloc_item(key, 0, 0, opts.vivify_ttl != 0, &as);
  }
  const uint64_t h = hash_key(key);
  if (!opts.no_update) impl_->sketch.record(h);
  Lookup why = Lookup::kMiss;
  impl_->with_exptime_room(key, h, [&](Shard& s) {
    RelTime now = clock_.now();
    size_t i = impl_->locked_find_live(s, key, h, now, &why);
    Item* it = nullptr;
    ItemView v{};
    if (i != SlotTable::kNone) {
      it = s.table.item_at(i);
      v.old_exptime = it->exptime();
      if (opts.set_ttl && !it->set_exptime(opts.ttl)) {
        why = Lookup::kMiss;
        return false;
      }
      // memcached applies T and R in request order: an R before the T sees the old expiry.
      const RelTime exptime = opts.recache_after_ttl ? it->exptime() : v.old_exptime;
      v.token_sent = (it->bits & Item::kTokenSent) != 0;
      v.stale = (it->bits & Item::kStale) != 0;
      v.won = !opts.peek && !v.token_sent &&
              (v.stale || (opts.recache && exptime != 0 && exptime < opts.recache_before));
    } else if (fresh.it != nullptr) {
      it = fresh.it;
      it->set_exptime(opts.vivify_ttl);
      it->set_time(now);
      it->set_cas(impl_->new_cas());
      it->bits = 0;  // memcached's vivified item does not remember a base64 key
      if (impl_->locked_link_new(s, h, it)) {
        fresh.it = nullptr;
        v.old_exptime = 0;  // until the N flag applies its ttl, as memcached echoes it
        v.created = true;
        v.won = !opts.peek;  // a peek (an answer memcached loses) hands out no token
        why = Lookup::kHit;
      } else {
        it = nullptr;  // no room in the table: a plain miss
      }
    }
    if (it == nullptr) return true;
    if (v.won) it->bits |= Item::kTokenSent;
    v.key = it->key();
    v.value = it->value();
    v.flags = it->flags();
    v.exptime = it->exptime();
    v.last_access = it->time(now);
    v.cas_low48 = it->cas_low48();
    v.cas_counter = impl_->cas_counter();
    v.fetched = it->fetched();
    v.key_binary = (it->bits & Item::kKeyBinary) != 0;
    visit(v);
    if (!opts.no_update) {
      it->mark_read();
      update_time(it, now);
    }
    return true;
  });
  Impl::release(fresh);
  impl_->trim_if_over();
  return why;
}

MetaDeleteResult Store::meta_delete(std::string_view key, const MetaDeleteOptions& opts) {
  if (key.size() > kMaxKey) return MetaDeleteResult::kNotFound;
  uint64_t h = hash_key(key);
  MetaDeleteResult result = MetaDeleteResult::kNotFound;  // also if the copy cannot be made
  Fresh empty;  // md x: the empty item that replaces the found one
  if (opts.strip_value) {
    AllocStatus as;
    empty = impl_->alloc_item(key, 0, 0, opts.invalidate && opts.set_ttl, &as);
    if (empty.it == nullptr) return result;
  }
  impl_->with_exptime_room(key, h, [&](Shard& s) {
    Lookup why;
    const RelTime now = clock_.now();
    size_t i = impl_->locked_find_live(s, key, h, now, &why);
    if (i == SlotTable::kNone) return true;
    Item* it = s.table.item_at(i);
    if (opts.has_cas && opts.cas != impl_->visible_cas(it)) {
      result = MetaDeleteResult::kExists;
      return true;
    }
    if (empty.it != nullptr) {
      Item* f = empty.it;
      f->set_time(now);
      f->set_cas(impl_->cas_of(it));
      f->bits = 0;  // memcached 1.6.45's empty item forgets that the key came as base64 too
      if (opts.invalidate) {
        if (opts.set_ttl) f->set_exptime(opts.ttl);
        f->bits |= Item::kStale;
        f->set_cas(impl_->new_cas());
      }
      impl_->locked_replace(s, i, f);
      empty.it = nullptr;
      result = MetaDeleteResult::kDeleted;
      return true;
    }
    if (opts.invalidate) {
      if (opts.set_ttl && !it->set_exptime(opts.ttl)) return false;
      it->bits = static_cast<uint8_t>((it->bits | Item::kStale) & ~Item::kTokenSent);
      it->set_cas(impl_->new_cas());
    } else {
      impl_->locked_unlink(s, i);
    }
    result = MetaDeleteResult::kDeleted;
    return true;
  });
  Impl::release(empty);
  return result;
}

bool Store::touch(std::string_view key, RelTime exptime) {
  return impl_->access(key, true, exptime, nullptr) == Lookup::kHit;
}

bool Store::remove(std::string_view key) {
  if (key.size() > kMaxKey) return false;
  uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  std::lock_guard<FutexLock> g(s.mu);
  Lookup why;
  size_t i = impl_->locked_find_live(s, key, h, clock_.now(), &why);
  if (i == SlotTable::kNone) return false;
  impl_->locked_unlink(s, i);
  return true;
}

// memcached's do_add_delta. Reads do not count as accesses here (no frequency or fetched bump),
// as in memcached, which looks the item up with DONT_UPDATE.
DeltaStatus Store::delta(std::string_view key, bool incr, uint64_t by, uint64_t* result,
                         uint64_t* cas_out, uint64_t cas_in, bool in_place) {
  if (key.size() > kMaxKey) return DeltaStatus::kNotFound;
  const uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  Fresh fresh;  // a bigger item allocated on an earlier round
  DeltaStatus status = DeltaStatus::kNoMemory;
  for (int round = 0; round < kMaxRetries; ++round) {
    back_off(round);
    char buf[24];
    size_t len = 0;
    uint32_t want_flags = 0;
    bool want_exptime = false;
    {
      std::lock_guard<FutexLock> g(s.mu);
      RelTime now = clock_.now();
      Lookup why;
      size_t i = impl_->locked_find_live(s, key, h, now, &why);
      if (i == SlotTable::kNone) {
        status = DeltaStatus::kNotFound;
        break;
      }
      Item* it = s.table.item_at(i);
      // memcached's order: an empty value is non-numeric before the CAS is compared, any other
      // value is parsed only after.
      if (it->vlen() == 0) {
        status = DeltaStatus::kNonNumeric;
        break;
      }
      if (cas_in != 0 && cas_in != impl_->visible_cas(it)) {
        status = DeltaStatus::kExists;
        break;
      }
      uint64_t v;
      if (!parse_u64(it->value(), &v)) {
        status = DeltaStatus::kNonNumeric;
        break;
      }
      if (incr) {
        v += by;  // wraps at 2^64, as memcached's unsigned arithmetic does
      } else {
        v = by > v ? 0 : v - by;
      }
      len = static_cast<size_t>(write_u64(buf, v) - buf);
      if (len <= it->vlen() && in_place) {
        memcpy(it->value_data(), buf, len);
        memset(it->value_data() + len, ' ', it->vlen() - len);
        it->set_cas(impl_->new_cas());
        update_time(it, now);
        *result = v;
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(it);
        status = DeltaStatus::kOk;
        break;
      }
      want_flags = it->flags();
      want_exptime = it->has_exptime();
      if (fresh.it != nullptr && fresh.it->vlen() == len && fresh.it->flags() == want_flags &&
          fresh.it->has_exptime() == want_exptime) {
        Item* f = fresh.it;
        f->set_exptime(it->exptime());
        memcpy(f->value_data(), buf, len);
        f->set_time(now);
        f->set_cas(impl_->new_cas());
        f->bits = 0;
        *result = v;
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(f);
        impl_->locked_replace(s, i, f);
        fresh.it = nullptr;
        status = DeltaStatus::kOk;
        break;
      }
    }
    Impl::release(fresh);
    AllocStatus as;
    fresh = impl_->alloc_item(key, len, want_flags, want_exptime, &as);
    if (fresh.it == nullptr) {
      status = DeltaStatus::kNoMemory;
      break;
    }
  }
  Impl::release(fresh);
  impl_->trim_if_over();
  return status;
}

void Store::flush(RelTime when) {
  RelTime now = clock_.now();
  RelTime horizon = when != 0 ? when : now;
  // memcached: with CAS the cut-off is the second before; without, the second itself (so items
  // stored later in that second are flushed too).
  RelTime live = config_.use_cas ? horizon - 1 : horizon;
  // Published in the order readers need: a reader that sees the new oldest_live sees its
  // cut-off CAS, and one that sees a pending flush sees the oldest_live it waits for.
  if (live <= now) {
    // Items stored earlier in this very second have time == now; the CAS cut-off catches them.
    impl_->flush_pending.store(false, std::memory_order_relaxed);
    impl_->oldest_cas.store(impl_->new_cas(), std::memory_order_relaxed);
    impl_->oldest_live.store(live, std::memory_order_release);
  } else {
    impl_->oldest_live.store(live, std::memory_order_release);
    impl_->flush_pending.store(true, std::memory_order_release);
  }
}

size_t Store::reclaim_expired(size_t budget) {
  constexpr size_t kChunk = 1024;  // slots per lock hold, to keep lock hold times short
  size_t freed = 0;
  std::lock_guard<std::mutex> rg(impl_->reclaim_mu);
  while (budget > 0) {
    Shard& s = shards_[impl_->reclaim_shard];
    bool shard_done;
    {
      std::lock_guard<FutexLock> g(s.mu);
      RelTime now = clock_.now();
      size_t cap = s.table.capacity();
      size_t n = std::min(budget, kChunk);
      while (n > 0 && impl_->reclaim_slot < cap) {
        --n;
        --budget;
        size_t i = impl_->reclaim_slot;
        Item* it = s.table.item_at(i);
        if (it != nullptr && impl_->locked_reclaim_slot(s, i, now)) {
          ++freed;
          continue;
        }
        ++impl_->reclaim_slot;
      }
      shard_done = impl_->reclaim_slot >= cap;
    }
    if (shard_done) {
      impl_->reclaim_slot = 0;
      impl_->reclaim_shard = (impl_->reclaim_shard + 1) & (impl_->nshards - 1);
    }
  }
  return freed;
}

size_t Store::reclaim_in_shard(size_t shard, size_t max_checked, size_t* checked) {
  constexpr size_t kChunk = 1024;  // slots per lock hold, as reclaim_expired
  size_t freed = 0, seen = 0;
  if (shard < impl_->nshards) {
    Shard& s = shards_[shard];
    size_t slot = 0;
    bool done = false;
    while (!done) {
      std::lock_guard<FutexLock> g(s.mu);
      const RelTime now = clock_.now();
      const size_t cap = s.table.capacity();
      for (size_t n = 0; n < kChunk && slot < cap; ++n) {
        Item* it = s.table.item_at(slot);
        if (it != nullptr) {
          if (max_checked != 0 && seen >= max_checked) break;
          ++seen;
          if (impl_->locked_reclaim_slot(s, slot, now)) {
            ++freed;
            continue;
          }
        }
        ++slot;
      }
      done = slot >= cap || (max_checked != 0 && seen >= max_checked);
    }
  }
  if (checked != nullptr) *checked = seen;
  return freed;
}

uint64_t Store::last_cas() const {
  return config_.use_cas ? impl_->last_cas.load(std::memory_order_relaxed) : 0;
}

void Store::set_memory_limit(size_t bytes) {
  const auto b = static_cast<int64_t>(std::min<size_t>(bytes, INT64_MAX));
  impl_->limit.store(b, std::memory_order_relaxed);
  impl_->arena.set_limit(bytes);
}

size_t Store::memory_limit() const {
  return static_cast<size_t>(impl_->limit.load(std::memory_order_relaxed));
}

bool Store::shrink_step(size_t max_segments) {
  return impl_->arena.shrink(max_segments,
                             [this](Segment& seg, Keep keep) { return impl_->compact(seg, keep); });
}

Stats Store::stats() const {
  Stats out;
  uint64_t item_bytes = 0;
  for (size_t i = 0; i < impl_->nshards; ++i) {
    const ShardCounters& c = shards_[i].c;
    out.curr_items += c.curr_items.get();
    out.total_items += c.total_items.get();
    out.evictions += c.evictions.get();
    out.evicted_unfetched += c.evicted_unfetched.get();
    out.expired_unfetched += c.expired_unfetched.get();
    out.reclaimed += c.reclaimed.get();
    out.crawler_reclaimed += c.crawler_reclaimed.get();
    out.crawler_items_checked += c.crawler_items_checked.get();
    item_bytes += c.item_bytes.get();
  }
  out.hash_bytes = static_cast<uint64_t>(impl_->table_bytes.load());
  out.bytes = item_bytes + out.hash_bytes;
  out.reserved_bytes = static_cast<uint64_t>(std::max<int64_t>(0, impl_->arena.reserved()));
  out.limit_maxbytes = memory_limit();
  out.evicted_active = 0;
  uint64_t slots = out.hash_bytes / sizeof(uint64_t);
  out.hash_power_level = slots == 0 ? 0 : std::bit_width(slots) - 1;
  out.malloc_fails = impl_->malloc_fails.load(std::memory_order_relaxed);
  return out;
}

void Store::reset_stats() {
  for (size_t i = 0; i < impl_->nshards; ++i) {
    std::lock_guard<FutexLock> g(shards_[i].mu);
    ShardCounters& c = shards_[i].c;
    c.total_items.reset();
    c.evictions.reset();
    c.evicted_unfetched.reset();
    c.expired_unfetched.reset();
    c.reclaimed.reset();
    c.crawler_reclaimed.reset();
    c.crawler_items_checked.reset();
  }
}

size_t Store::shard_count() const { return impl_->nshards; }

void Store::for_each_in_shard(size_t shard, FunctionRef<bool(const ItemView&)> visit) const {
  if (shard >= impl_->nshards) return;
  Shard& s = shards_[shard];
  std::lock_guard<FutexLock> g(s.mu);
  const RelTime now = clock_.now();
  const size_t cap = s.table.capacity();
  for (size_t i = 0; i < cap; ++i) {
    const Item* it = s.table.item_at(i);
    if (it == nullptr || impl_->dead_reason(it, now) != Lookup::kHit) continue;
    const Item::Fields f = it->fields();
    ItemView v{{f.key, f.nkey}, {f.key + f.nkey, f.vlen}, f.flags,      f.exptime, it->time(now),
               it->cas_low48(), impl_->cas_counter(),     it->fetched()};
    v.key_binary = (it->bits & Item::kKeyBinary) != 0;  // mgdump prints such keys in base64
    if (!visit(v)) return;
  }
}

}  // namespace memshield::store
