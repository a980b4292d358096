// The store: sharded slot tables, byte accounting against the memory limit, GCLOCK eviction,
// lazy and background expiry, flush_all, CAS ids, and memcached's command semantics.
// Helpers prefixed `locked_` expect the caller to hold the shard's lock (memcached's `do_`).
#include "store/store.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "common/counter.h"
#include "common/hash.h"
#include "common/itoa.h"
#include "common/number_parse.h"
#include "store/item.h"
#include "store/slot_table.h"

namespace memshield::store {
namespace {

constexpr unsigned kInitialSlotsLog2 = 4;
constexpr size_t kMaxKey = 255;  // nkey is a u8; the protocols cap keys at 250 anyway
// New items start one step up the GCLOCK ladder: slot order is hash order, not insertion order,
// so at 0 the hand would evict never-read items in effectively random order and a key just
// stored could go first. At 1 every item survives at least one full turn of its shard's hand.
constexpr uint8_t kInitialFreq = 1;
// Append/prepend/incr drop the lock to allocate; if the item keeps changing under them they
// give up after this many rounds rather than spin.
constexpr int kMaxRetries = 16;

void update_time(Item* it, RelTime now) {
  if (it->time + kUpdateInterval < now) it->time = now;
}

}  // namespace

// Counters are written only under the shard lock, so a plain load+store suffices.
struct ShardCounters {
  Counter curr_items, total_items, evictions, evicted_unfetched, expired_unfetched, reclaimed,
      crawler_reclaimed, crawler_items_checked;
};

struct alignas(64) Store::Shard {
  std::mutex mu;
  SlotTable table;
  size_t hand = 0;  // GCLOCK hand: next slot to examine when evicting from this shard
  ShardCounters c;
};

struct Store::Impl {
  explicit Impl(Store& s) : st(s) {}

  Store& st;
  size_t nshards = 1;
  unsigned shard_shift = 64;
  int64_t limit = 0;
  std::atomic<int64_t> bytes{0};        // items (malloc footprint) + tables
  std::atomic<int64_t> table_bytes{0};  // tables alone
  std::atomic<uint64_t> last_cas{0};
  std::atomic<RelTime> oldest_live{0};
  std::atomic<uint64_t> oldest_cas{0};
  std::atomic<uint64_t> evict_cursor{0};
  std::atomic<uint64_t> malloc_fails{0};
  std::mutex reclaim_mu;  // guards the reclaim cursor; never taken while holding a shard lock
  size_t reclaim_shard = 0;
  size_t reclaim_slot = 0;

  Shard& shard_for(uint64_t h) { return st.shards_[shard_shift >= 64 ? 0 : h >> shard_shift]; }
  // Every store takes the next number, with -C too: it doubles as the item's age for eviction.
  // Clients see it as the CAS only when CAS is enabled.
  uint64_t new_cas() { return last_cas.fetch_add(1, std::memory_order_relaxed) + 1; }
  uint64_t visible_cas(const Item* it) const { return st.config_.use_cas ? it->cas : 0; }

  Lookup dead_reason(const Item* it, RelTime now) const;
  Item* alloc_item(size_t nkey, size_t vlen, AllocStatus* status);
  void free_item(Item* it);
  bool evict_until_fits(Shard* held);
  size_t locked_next_victim(Shard& s, RelTime now);
  void locked_evict_at(Shard& s, size_t i, RelTime now);
  Shard* next_nonempty(const Shard* not_this);
  template <class F>
  bool with_shard(Shard& s, Shard* held, F&& f);
  void locked_unlink(Shard& s, size_t i);
  size_t locked_find_live(Shard& s, std::string_view key, uint64_t h, RelTime now, Lookup* why);
  bool locked_link_new(Shard& s, uint64_t h, Item* it);
  void locked_replace(Shard& s, size_t i, Item* it, RelTime now);
  bool locked_grow(Shard& s);
  Lookup access(std::string_view key, bool set_exptime, RelTime exptime,
                const FunctionRef<void(const ItemView&)>* visit);
  StoreResult concat(Item* add, bool append, uint64_t cas_in, uint64_t* cas_out);
};

// ---- NewItem ----

NewItem::NewItem(NewItem&& o) noexcept : store_(o.store_), item_(o.item_) {
  o.store_ = nullptr;
  o.item_ = nullptr;
}

NewItem& NewItem::operator=(NewItem&& o) noexcept {
  if (this != &o) {
    if (item_ != nullptr) store_->release_unlinked(item_);
    store_ = o.store_;
    item_ = o.item_;
    o.store_ = nullptr;
    o.item_ = nullptr;
  }
  return *this;
}

NewItem::~NewItem() {
  if (item_ != nullptr) store_->release_unlinked(item_);
}

char* NewItem::value_data() { return item_->value_data(); }
size_t NewItem::value_size() const { return item_->vlen; }

// ---- Impl: memory ----

Lookup Store::Impl::dead_reason(const Item* it, RelTime now) const {
  RelTime live = oldest_live.load(std::memory_order_acquire);
  if (live != 0 && live <= now) {
    uint64_t ocas = oldest_cas.load(std::memory_order_relaxed);
    if (it->time <= live || (ocas != 0 && it->cas != 0 && it->cas < ocas)) return Lookup::kFlushed;
  }
  if (it->exptime != 0 && it->exptime <= now) return Lookup::kExpired;
  return Lookup::kHit;
}

// Takes the bytes first and evicts until the total is back under the limit, so concurrent
// allocators never jointly overshoot by more than what they are about to evict.
Item* Store::Impl::alloc_item(size_t nkey, size_t vlen, AllocStatus* status) {
  void* p = malloc(item_alloc_size(nkey, vlen));
  if (p == nullptr) {
    malloc_fails.fetch_add(1, std::memory_order_relaxed);
    *status = AllocStatus::kNoMemory;
    return nullptr;
  }
  auto* it = static_cast<Item*>(p);
  auto fp = static_cast<int64_t>(item_footprint(it));
  // An item that could not fit even in an empty cache must not wipe the cache trying.
  if (fp > limit - table_bytes.load(std::memory_order_relaxed)) {
    free(p);
    *status = AllocStatus::kNoMemory;
    return nullptr;
  }
  int64_t total = bytes.fetch_add(fp, std::memory_order_relaxed) + fp;
  if (total > limit && (!st.config_.evict || !evict_until_fits(nullptr))) {
    bytes.fetch_sub(fp, std::memory_order_relaxed);
    free(p);
    *status = AllocStatus::kNoMemory;
    return nullptr;
  }
  *status = AllocStatus::kOk;
  return it;
}

void Store::Impl::free_item(Item* it) {
  bytes.fetch_sub(static_cast<int64_t>(item_footprint(it)), std::memory_order_relaxed);
  free(it);
}

// Eviction is GCLOCK per shard with a global age check. Each shard's hand walks its slots (hash
// order), turning down the frequency of items it passes and stopping at the first one at zero:
// that shard's victim. Two shards are asked for a victim and the older of the two (lower
// sequence number, i.e. stored longer ago) goes. Without the age check, shards holding few items
// (large values, small -m) would give up their newest items as readily as their oldest; with it
// the newest keys survive overfill (tests: store_eviction_test, compat test_memory_limit_flag).
//
// With a shard lock already held (`held`), other shards are only try_locked, so two locks are
// never waited on together. Gives up when no shard has anything left to evict.
bool Store::Impl::evict_until_fits(Shard* held) {
  int idle_rounds = 0;
  while (bytes.load(std::memory_order_relaxed) > limit) {
    Shard* a = next_nonempty(nullptr);
    if (a == nullptr) return false;  // everything over the limit is in flight, not in tables
    Shard* b = next_nonempty(a);
    const RelTime now = st.clock_.now();
    uint64_t seq_a = UINT64_MAX, seq_b = UINT64_MAX;
    bool freed = false;
    // Dead (expired, flushed) victims are freed at once; live ones are compared by age.
    auto probe = [&](Shard& s, uint64_t* seq) {
      size_t i = locked_next_victim(s, now);
      if (i == SIZE_MAX) return;
      Item* it = s.table.item_at(i);
      if (dead_reason(it, now) != Lookup::kHit) {
        locked_evict_at(s, i, now);
        freed = true;
        return;
      }
      *seq = it->cas;
    };
    with_shard(*a, held, [&] { probe(*a, &seq_a); });
    if (!freed && b != nullptr) with_shard(*b, held, [&] { probe(*b, &seq_b); });
    if (!freed) {
      Shard* victim = seq_b < seq_a ? b : a;
      if (seq_a == UINT64_MAX && seq_b == UINT64_MAX) victim = nullptr;
      if (victim != nullptr) {
        with_shard(*victim, held, [&] {
          size_t i = locked_next_victim(*victim, now);  // the hand still points at it
          if (i != SIZE_MAX) {
            locked_evict_at(*victim, i, now);
            freed = true;
          }
        });
      }
    }
    if (freed) {
      idle_rounds = 0;
    } else if (++idle_rounds > 4 * static_cast<int>(nshards)) {
      return false;  // every shard we could lock was busy or empty
    }
  }
  return true;
}

// The next shard after the cursor that holds items (read without its lock: a hint only).
Store::Shard* Store::Impl::next_nonempty(const Shard* not_this) {
  for (size_t n = 0; n < nshards; ++n) {
    size_t idx = evict_cursor.fetch_add(1, std::memory_order_relaxed) & (nshards - 1);
    Shard& s = st.shards_[idx];
    if (&s != not_this && s.c.curr_items.get() > 0) return &s;
  }
  return nullptr;
}

template <class F>
bool Store::Impl::with_shard(Shard& s, Shard* held, F&& f) {
  if (&s == held) {
    f();
    return true;
  }
  if (held != nullptr) {
    if (!s.mu.try_lock()) return false;
    f();
    s.mu.unlock();
    return true;
  }
  std::lock_guard<std::mutex> g(s.mu);
  f();
  return true;
}

// Moves the shard's hand to its victim: the first item that is dead or at frequency zero,
// turning down the frequency of every live item it passes. SIZE_MAX if the shard is empty.
size_t Store::Impl::locked_next_victim(Shard& s, RelTime now) {
  SlotTable& t = s.table;
  if (t.size() == 0) return SIZE_MAX;
  const size_t cap = t.capacity();
  for (size_t n = 0; n <= 4 * cap; ++n) {  // four turns bring every frequency to zero
    size_t i = s.hand & (cap - 1);
    Item* it = t.item_at(i);
    if (it != nullptr) {
      if (dead_reason(it, now) != Lookup::kHit || it->freq() == 0) {
        s.hand = i;
        return i;
      }
      it->set_freq(static_cast<uint8_t>(it->freq() - 1));
    }
    s.hand = i + 1;
  }
  return SIZE_MAX;
}

void Store::Impl::locked_evict_at(Shard& s, size_t i, RelTime now) {
  Item* it = s.table.item_at(i);
  if (dead_reason(it, now) != Lookup::kHit) {
    s.c.reclaimed.add();
    if (!it->fetched()) s.c.expired_unfetched.add();
  } else {
    s.c.evictions.add();
    if (!it->fetched()) s.c.evicted_unfetched.add();
  }
  // The hand stays on i: backward shift may have moved a not-yet-seen item into it.
  locked_unlink(s, i);
  free_item(it);
}

// ---- Impl: table operations under the shard lock ----

void Store::Impl::locked_unlink(Shard& s, size_t i) {
  s.table.erase_at(i);
  s.c.curr_items.sub();
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
    free_item(it);
    *why = r;
    return SlotTable::kNone;
  }
  *why = Lookup::kHit;
  return i;
}

bool Store::Impl::locked_grow(Shard& s) {
  size_t before = s.table.bytes();
  if (!s.table.grow()) {
    malloc_fails.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  auto delta = static_cast<int64_t>(s.table.bytes() - before);
  table_bytes.fetch_add(delta, std::memory_order_relaxed);
  bytes.fetch_add(delta, std::memory_order_relaxed);
  s.hand = (s.hand * 2) & (s.table.capacity() - 1);  // about where it was in the old order
  // The table counts against the limit too; make room now, without blocking on other shards.
  // With -M the table may overshoot slightly: refusing to index stored items would be worse.
  if (st.config_.evict && bytes.load(std::memory_order_relaxed) > limit) evict_until_fits(&s);
  return true;
}

bool Store::Impl::locked_link_new(Shard& s, uint64_t h, Item* it) {
  if (s.table.needs_grow() && !locked_grow(s)) {
    // Without a bigger table we may still fill up to all but one slot (probes must end).
    if (s.table.size() + 2 > s.table.capacity()) return false;
  }
  s.table.insert(h, it);
  s.c.curr_items.add();
  s.c.total_items.add();
  return true;
}

// Puts `it` (same key) in slot i; a rewritten key keeps its earned frequency, not its history
// of having been read.
void Store::Impl::locked_replace(Shard& s, size_t i, Item* it, RelTime now) {
  Item* old = s.table.item_at(i);
  it->set_freq(std::max(it->freq(), old->freq()));
  s.table.replace_at(i, it);
  s.c.total_items.add();
  free_item(old);
}

// ---- Impl: commands ----

Lookup Store::Impl::access(std::string_view key, bool set_exptime, RelTime exptime,
                           const FunctionRef<void(const ItemView&)>* visit) {
  if (key.size() > kMaxKey) return Lookup::kMiss;
  uint64_t h = hash_key(key);
  Shard& s = shard_for(h);
  std::lock_guard<std::mutex> g(s.mu);
  RelTime now = st.clock_.now();
  Lookup why;
  size_t i = locked_find_live(s, key, h, now, &why);
  if (i == SlotTable::kNone) return why;
  Item* it = s.table.item_at(i);
  if (set_exptime) it->exptime = exptime;
  if (visit != nullptr) {
    ItemView v{it->key(), it->value(), it->flags, it->exptime, it->time, visible_cas(it),
               it->fetched()};
    (*visit)(v);
  }
  it->bump_freq();
  it->bits |= Item::kFetched;
  update_time(it, now);
  return Lookup::kHit;
}

StoreResult Store::Impl::concat(Item* add, bool append, uint64_t cas_in, uint64_t* cas_out) {
  const std::string_view key = add->key();
  const uint64_t h = hash_key(key);
  Shard& s = shard_for(h);
  Item* out = nullptr;
  StoreResult result = StoreResult::kNotStored;
  for (int round = 0; round < kMaxRetries; ++round) {
    size_t want = 0;
    {
      std::lock_guard<std::mutex> g(s.mu);
      Lookup why;
      size_t i = locked_find_live(s, key, h, st.clock_.now(), &why);
      if (i == SlotTable::kNone) break;
      Item* old = s.table.item_at(i);
      if (cas_in != 0 && cas_in != visible_cas(old)) {
        result = StoreResult::kExists;
        break;
      }
      want = size_t{old->vlen} + add->vlen;
      if (out != nullptr && out->vlen == want && st.size_ok(key.size(), old->flags, want)) {
        // Still the item we sized for: combine and swap it in.
        RelTime now = st.clock_.now();
        out->nkey = add->nkey;
        memcpy(out->key_data(), key.data(), key.size());
        out->flags = old->flags;
        out->exptime = old->exptime;
        char* v = out->value_data();
        if (append) {
          memcpy(v, old->value_data(), old->vlen);
          memcpy(v + old->vlen, add->value_data(), add->vlen);
        } else {
          memcpy(v, add->value_data(), add->vlen);
          memcpy(v + add->vlen, old->value_data(), old->vlen);
        }
        out->time = now;
        out->cas = new_cas();
        out->bits = kInitialFreq;
        if (cas_out != nullptr) *cas_out = visible_cas(out);
        locked_replace(s, i, out, now);
        out = nullptr;
        result = StoreResult::kStored;
        break;
      }
      // memcached sizes the combination with the old item's flags and fails it as NOT_STORED.
      if (!st.size_ok(key.size(), old->flags, want)) break;
    }
    // Allocate with no lock held, so eviction may visit any shard, then re-check.
    if (out != nullptr) free_item(out);
    AllocStatus as;
    out = alloc_item(key.size(), want, &as);
    if (out == nullptr) break;
    out->vlen = static_cast<uint32_t>(want);
  }
  if (out != nullptr) free_item(out);
  free_item(add);
  return result;
}

// ---- Store ----

Store::Store(const Config& config, const Clock& clock)
    : config_(config), clock_(clock), impl_(std::make_unique<Impl>(*this)) {
  unsigned log2 = std::min(config_.shards_log2, 16u);
  impl_->nshards = size_t{1} << log2;
  impl_->shard_shift = 64 - log2;
  impl_->limit = static_cast<int64_t>(std::min<size_t>(config_.memory_limit, INT64_MAX));
  shards_ = std::make_unique<Shard[]>(impl_->nshards);
  for (size_t i = 0; i < impl_->nshards; ++i) {
    if (!shards_[i].table.init(kInitialSlotsLog2, log2))
      abort();  // start-up; nothing to fall back to
    auto b = static_cast<int64_t>(shards_[i].table.bytes());
    impl_->table_bytes.fetch_add(b);
    impl_->bytes.fetch_add(b);
  }
}

Store::~Store() {
  for (size_t i = 0; i < impl_->nshards; ++i) {
    shards_[i].table.for_each([](Item* it) { free(it); });
  }
}

bool Store::size_ok(size_t nkey, uint32_t flags, size_t vlen) const {
  if (vlen > config_.item_size_max || nkey > config_.item_size_max) return false;
  size_t total = 48 + (config_.use_cas ? 8 : 0) + nkey + 1 + vlen + 2 + (flags != 0 ? 4 : 0);
  return total <= config_.item_size_max;
}

AllocStatus Store::allocate(std::string_view key, uint32_t flags, RelTime exptime, size_t vlen,
                            NewItem* out) {
  *out = NewItem();
  if (key.size() > kMaxKey || vlen > UINT32_MAX || !size_ok(key.size(), flags, vlen)) {
    return AllocStatus::kTooLarge;
  }
  AllocStatus status;
  Item* it = impl_->alloc_item(key.size(), vlen, &status);
  if (it == nullptr) return status;
  it->cas = 0;
  it->exptime = exptime;
  it->time = clock_.now();
  it->flags = flags;
  it->vlen = static_cast<uint32_t>(vlen);
  it->nkey = static_cast<uint8_t>(key.size());
  it->bits = 0;
  memcpy(it->key_data(), key.data(), key.size());
  out->store_ = this;
  out->item_ = it;
  return AllocStatus::kOk;
}

void Store::release_unlinked(Item* it) { impl_->free_item(it); }

StoreResult Store::store(NewItem&& item, Mode mode, uint64_t cas_in, uint64_t* cas_out) {
  return store_meta(std::move(item), mode, cas_in, MetaStoreOptions{}, cas_out);
}

StoreResult Store::store_meta(NewItem&& item, Mode mode, uint64_t cas_in,
                              const MetaStoreOptions& opts, uint64_t* cas_out) {
  Item* it = item.item_;
  item.item_ = nullptr;
  item.store_ = nullptr;
  if (it == nullptr) return StoreResult::kNotStored;
  if (mode == Mode::kAppend || mode == Mode::kPrepend) {
    return impl_->concat(it, mode == Mode::kAppend, cas_in, cas_out);
  }
  const std::string_view key = it->key();
  const uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  StoreResult result;
  {
    std::lock_guard<std::mutex> g(s.mu);
    RelTime now = clock_.now();
    Lookup why;
    size_t i = impl_->locked_find_live(s, key, h, now, &why);
    const bool found = i != SlotTable::kNone;
    if (mode == Mode::kAdd && found) {
      Item* old = s.table.item_at(i);
      old->bump_freq();
      update_time(old, now);
      result = StoreResult::kNotStored;
    } else if (mode == Mode::kReplace && !found) {
      result = cas_in != 0 ? StoreResult::kNotFound : StoreResult::kNotStored;
    } else if (mode == Mode::kReplace && cas_in != 0 &&
               cas_in != impl_->visible_cas(s.table.item_at(i))) {
      result = StoreResult::kExists;  // meta ms MR with C (text replace never passes a CAS)
    } else if (mode == Mode::kCas && !found) {
      result = StoreResult::kNotFound;
    } else if (mode == Mode::kCas && !(opts.invalidate && cas_in != 0 &&
                                       cas_in < impl_->visible_cas(s.table.item_at(i))) &&
               (cas_in == 0 || cas_in != impl_->visible_cas(s.table.item_at(i)))) {
      result = StoreResult::kExists;
    } else {
      const bool stale = mode == Mode::kCas && cas_in != impl_->visible_cas(s.table.item_at(i));
      it->time = now;
      it->cas = impl_->new_cas();
      // A stale store (ms I with an older CAS) keeps the old item's win token, so the client
      // that holds it still gets to recache.
      const uint8_t kept = stale ? (s.table.item_at(i)->bits & Item::kTokenSent) : 0;
      it->bits = kInitialFreq | kept | (stale ? Item::kStale : 0) |
                 (opts.key_binary ? Item::kKeyBinary : 0);
      if (found) {
        impl_->locked_replace(s, i, it, now);
        result = StoreResult::kStored;
      } else {
        result = impl_->locked_link_new(s, h, it) ? StoreResult::kStored : StoreResult::kNoMemory;
      }
      if (result == StoreResult::kStored) {
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(it);
        it = nullptr;
      }
    }
  }
  if (it != nullptr) impl_->free_item(it);
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
  Item* fresh = nullptr;
  if (opts.vivify) {
    AllocStatus as;
    fresh = impl_->alloc_item(key.size(), 0, &as);
  }
  const uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  Lookup why;
  {
    std::lock_guard<std::mutex> g(s.mu);
    RelTime now = clock_.now();
    size_t i = impl_->locked_find_live(s, key, h, now, &why);
    Item* it = nullptr;
    ItemView v{};
    if (i != SlotTable::kNone) {
      it = s.table.item_at(i);
      v.old_exptime = it->exptime;
      if (opts.set_ttl) it->exptime = opts.ttl;
      v.token_sent = (it->bits & Item::kTokenSent) != 0;
      v.stale = (it->bits & Item::kStale) != 0;
      v.won = !v.token_sent && (v.stale || (opts.recache && it->exptime != 0 &&
                                            it->exptime < opts.recache_before));
    } else if (fresh != nullptr) {
      it = fresh;
      it->nkey = static_cast<uint8_t>(key.size());
      memcpy(it->key_data(), key.data(), key.size());
      it->vlen = 0;
      it->flags = 0;
      it->exptime = opts.vivify_ttl;
      it->time = now;
      it->cas = impl_->new_cas();
      it->bits = kInitialFreq | (opts.key_binary ? Item::kKeyBinary : 0);
      if (impl_->locked_link_new(s, h, it)) {
        fresh = nullptr;
        v.old_exptime = 0;  // until the N flag applies its ttl, as memcached echoes it
        v.created = v.won = true;
        why = Lookup::kHit;
      } else {
        it = nullptr;  // no room in the table: a plain miss; fresh is freed below
      }
    }
    if (it != nullptr) {
      if (v.won) it->bits |= Item::kTokenSent;
      v.key = it->key();
      v.value = it->value();
      v.flags = it->flags;
      v.exptime = it->exptime;
      v.last_access = it->time;
      v.cas = impl_->visible_cas(it);
      v.fetched = it->fetched();
      v.key_binary = (it->bits & Item::kKeyBinary) != 0;
      visit(v);
      if (!opts.no_update) {
        it->bump_freq();
        it->bits |= Item::kFetched;
        update_time(it, now);
      }
    }
  }
  if (fresh != nullptr) impl_->free_item(fresh);
  return why;
}

MetaDeleteResult Store::meta_delete(std::string_view key, const MetaDeleteOptions& opts) {
  if (key.size() > kMaxKey) return MetaDeleteResult::kNotFound;
  uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  std::lock_guard<std::mutex> g(s.mu);
  Lookup why;
  size_t i = impl_->locked_find_live(s, key, h, clock_.now(), &why);
  if (i == SlotTable::kNone) return MetaDeleteResult::kNotFound;
  Item* it = s.table.item_at(i);
  if (opts.has_cas && opts.cas != impl_->visible_cas(it)) return MetaDeleteResult::kExists;
  if (opts.invalidate) {
    it->bits = static_cast<uint8_t>((it->bits | Item::kStale) & ~Item::kTokenSent);
    it->cas = impl_->new_cas();
    if (opts.set_ttl) it->exptime = opts.ttl;
    return MetaDeleteResult::kDeleted;
  }
  impl_->locked_unlink(s, i);
  impl_->free_item(it);
  return MetaDeleteResult::kDeleted;
}

bool Store::touch(std::string_view key, RelTime exptime) {
  return impl_->access(key, true, exptime, nullptr) == Lookup::kHit;
}

bool Store::remove(std::string_view key) {
  if (key.size() > kMaxKey) return false;
  uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  std::lock_guard<std::mutex> g(s.mu);
  Lookup why;
  size_t i = impl_->locked_find_live(s, key, h, clock_.now(), &why);
  if (i == SlotTable::kNone) return false;
  Item* it = s.table.item_at(i);
  impl_->locked_unlink(s, i);
  impl_->free_item(it);
  return true;
}

// memcached's do_add_delta. Reads do not count as accesses here (no frequency or fetched bump),
// as in memcached, which looks the item up with DONT_UPDATE.
DeltaStatus Store::delta(std::string_view key, bool incr, uint64_t by, uint64_t* result,
                         uint64_t* cas_out, uint64_t cas_in) {
  if (key.size() > kMaxKey) return DeltaStatus::kNotFound;
  const uint64_t h = hash_key(key);
  Shard& s = impl_->shard_for(h);
  Item* fresh = nullptr;  // a bigger item allocated on an earlier round
  DeltaStatus status = DeltaStatus::kNoMemory;
  for (int round = 0; round < kMaxRetries; ++round) {
    char buf[24];
    size_t len;
    {
      std::lock_guard<std::mutex> g(s.mu);
      RelTime now = clock_.now();
      Lookup why;
      size_t i = impl_->locked_find_live(s, key, h, now, &why);
      if (i == SlotTable::kNone) {
        status = DeltaStatus::kNotFound;
        break;
      }
      Item* it = s.table.item_at(i);
      if (cas_in != 0 && cas_in != impl_->visible_cas(it)) {
        status = DeltaStatus::kExists;
        break;
      }
      uint64_t v;
      if (it->vlen == 0 || !parse_u64(it->value(), &v)) {
        status = DeltaStatus::kNonNumeric;
        break;
      }
      if (incr) {
        v += by;  // wraps at 2^64, as memcached's unsigned arithmetic does
      } else {
        v = by > v ? 0 : v - by;
      }
      len = static_cast<size_t>(write_u64(buf, v) - buf);
      if (len <= it->vlen) {
        memcpy(it->value_data(), buf, len);
        memset(it->value_data() + len, ' ', it->vlen - len);
        it->cas = impl_->new_cas();
        update_time(it, now);
        *result = v;
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(it);
        status = DeltaStatus::kOk;
        break;
      }
      if (fresh != nullptr && fresh->vlen == len) {
        fresh->nkey = it->nkey;
        memcpy(fresh->key_data(), key.data(), key.size());
        fresh->flags = it->flags;
        fresh->exptime = it->exptime;
        memcpy(fresh->value_data(), buf, len);
        fresh->time = now;
        fresh->cas = impl_->new_cas();
        fresh->bits = kInitialFreq;
        *result = v;
        if (cas_out != nullptr) *cas_out = impl_->visible_cas(fresh);
        impl_->locked_replace(s, i, fresh, now);
        fresh = nullptr;
        status = DeltaStatus::kOk;
        break;
      }
    }
    if (fresh != nullptr) impl_->free_item(fresh);
    AllocStatus as;
    fresh = impl_->alloc_item(key.size(), len, &as);
    if (fresh == nullptr) {
      status = DeltaStatus::kNoMemory;
      break;
    }
    fresh->vlen = static_cast<uint32_t>(len);
  }
  if (fresh != nullptr) impl_->free_item(fresh);
  return status;
}

void Store::flush(RelTime when) {
  RelTime now = clock_.now();
  RelTime horizon = when != 0 ? when : now;
  if (config_.use_cas) {
    RelTime live = horizon - 1;
    // Items stored earlier in this very second have time == now; the CAS cut-off catches them.
    if (live <= now) impl_->oldest_cas.store(impl_->new_cas(), std::memory_order_relaxed);
    impl_->oldest_live.store(live, std::memory_order_release);
  } else {
    impl_->oldest_live.store(horizon, std::memory_order_release);
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
      std::lock_guard<std::mutex> g(s.mu);
      RelTime now = clock_.now();
      size_t cap = s.table.capacity();
      size_t n = std::min(budget, kChunk);
      while (n > 0 && impl_->reclaim_slot < cap) {
        --n;
        --budget;
        size_t i = impl_->reclaim_slot;
        Item* it = s.table.item_at(i);
        if (it != nullptr) {
          s.c.crawler_items_checked.add();
          Lookup r = impl_->dead_reason(it, now);
          if (r != Lookup::kHit) {
            s.c.reclaimed.add();
            s.c.crawler_reclaimed.add();
            if (r == Lookup::kExpired && !it->fetched()) s.c.expired_unfetched.add();
            impl_->locked_unlink(s, i);
            impl_->free_item(it);
            ++freed;
            continue;  // backward shift may have moved another item into slot i
          }
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

Stats Store::stats() const {
  Stats out;
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
  }
  out.bytes = static_cast<uint64_t>(std::max<int64_t>(0, impl_->bytes.load()));
  out.limit_maxbytes = config_.memory_limit;
  out.evicted_active = 0;
  out.hash_bytes = static_cast<uint64_t>(impl_->table_bytes.load());
  uint64_t slots = out.hash_bytes / sizeof(uint64_t);
  out.hash_power_level = slots == 0 ? 0 : std::bit_width(slots) - 1;
  out.malloc_fails = impl_->malloc_fails.load(std::memory_order_relaxed);
  return out;
}

void Store::reset_stats() {
  for (size_t i = 0; i < impl_->nshards; ++i) {
    std::lock_guard<std::mutex> g(shards_[i].mu);
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

}  // namespace memshield::store
