// Segments, write heads and the FIFO of sealed segments; see segment_arena.h.
// Lock order: a head's mutex, then (briefly) the FIFO mutex; the store's compaction callback
// takes shard locks one at a time and is never called with the FIFO mutex held.
#include "store/segment_arena.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEMSHIELD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MEMSHIELD_ASAN 1
#endif
#ifdef MEMSHIELD_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace memshield::store {
namespace {

// Under AddressSanitizer the unused tail of every segment is poisoned, so a write past an
// item's end into bytes not yet handed out is caught as if items were separate allocations.
void poison(void* p, size_t n) {
#ifdef MEMSHIELD_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}
void unpoison(void* p, size_t n) {
#ifdef MEMSHIELD_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

constexpr size_t kMinSegment = 16u << 10;
constexpr size_t kMaxSegment = 1u << 20;
constexpr size_t kPage = 4096;
// Give up on one allocation after this many victims (each victim kept at most 3/4 of itself,
// one frequency step colder, so a real workload never gets near it).
constexpr int kMaxRounds = 1024;

// A fresh zero-filled mapping of `bytes` aligned to `align` (a power of two >= the page size);
// the slack around it is unmapped again.
void* map_aligned(size_t bytes, size_t align) {
  const size_t span = bytes + align;
  void* p = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t start = (base + align - 1) & ~(align - 1);
  if (start > base) munmap(p, start - base);
  const uintptr_t end = start + bytes, map_end = base + span;
  if (map_end > end) munmap(reinterpret_cast<void*>(end), map_end - end);
  return reinterpret_cast<void*>(start);
}

}  // namespace

SegmentArena::SegmentArena(size_t limit, bool evict)
    : limit_(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX))), evict_(evict) {
  // About 256 segments up to 256 MiB (16 KiB ones at least), 1 MiB ones above: few enough
  // partly filled heads not to matter, big enough that a segment switch is rare, and fine
  // enough that eviction and the window's admission act on small slices of the cache (32
  // segments cost about 0.4 point of zipf hit ratio at 16 MiB).
  seg_size_ = std::clamp(std::bit_floor(std::max<size_t>(limit / 256, 1)), kMinSegment,
                         kMaxSegment);
  nheads_ = std::clamp<size_t>(limit / seg_size_ / 16, 1, kMaxHeads);
  // A hundredth of the segments (W-TinyLFU's window), at least one: admission by frequency
  // does the filtering, the window only gives a new item time for a first re-read.
  window_target_ = std::max<size_t>(limit / seg_size_ / 100, 1);
}

SegmentArena::~SegmentArena() {
  for (Head& h : heads_) {
    if (h.seg != nullptr) free_segment(h.seg);
  }
  if (main_head_.seg != nullptr) free_segment(main_head_.seg);
  for (Fifo* q : {&window_, &main_}) {
    while (q->oldest != nullptr) {
      Segment* s = q->oldest;
      q->oldest = s->next;
      free_segment(s);
    }
  }
}

// The caller has already counted the mapping in reserved_.
Segment* SegmentArena::new_segment(size_t item_bytes, bool large) {
  const size_t map_bytes =
      large ? (sizeof(Segment) + item_bytes + kPage - 1) / kPage * kPage : seg_size_;
  void* p = map_aligned(map_bytes, seg_size_);
  if (p == nullptr) return nullptr;
  auto* s = new (p) Segment;
  s->data = static_cast<char*>(p) + sizeof(Segment);
  s->cap = map_bytes - sizeof(Segment);
  s->map_bytes = map_bytes;
  s->large = large;
  poison(s->data, s->cap);
  return s;
}

void SegmentArena::free_segment(Segment* s) {
  const size_t bytes = s->map_bytes;
  unpoison(s->data, s->cap);
  reserved_.fetch_sub(static_cast<int64_t>(bytes), std::memory_order_relaxed);
  s->~Segment();
  munmap(s, bytes);
}

void SegmentArena::push_sealed(Fifo& q, Segment* s) {
  std::lock_guard<std::mutex> g(mu_);
  s->next = nullptr;
  s->prev = q.newest;
  if (q.newest != nullptr) {
    q.newest->next = s;
  } else {
    q.oldest = s;
  }
  q.newest = s;
  ++q.count;
}

// Takes a victim off a FIFO: with eviction, the oldest segment with nothing pending; without,
// the one with the most dead bytes, if those are enough to give `need` bytes back (0: a segment
// that is all dead).
Segment* SegmentArena::pop_victim(Fifo& q, size_t need) {
  std::lock_guard<std::mutex> g(mu_);
  Segment* best = nullptr;
  for (Segment* s = q.oldest; s != nullptr; s = s->next) {
    if (s->pending.load(std::memory_order_acquire) != 0) continue;
    if (evict_) {
      best = s;
      break;
    }
    const uint64_t dead = s->dead.load(std::memory_order_relaxed);
    const bool fits = need == 0 || s->large ? dead >= s->used : dead >= need;
    if (fits && (best == nullptr || dead > best->dead.load(std::memory_order_relaxed))) best = s;
  }
  if (best != nullptr) {
    (best->prev != nullptr ? best->prev->next : q.oldest) = best->next;
    (best->next != nullptr ? best->next->prev : q.newest) = best->prev;
    best->prev = best->next = nullptr;
    --q.count;
  }
  return best;
}

// The oldest evictable segment of either queue, the window's first.
Segment* SegmentArena::pop_any() {
  Segment* v = pop_victim(window_, 0);
  return v != nullptr ? v : pop_victim(main_, 0);
}

char* SegmentArena::bump(Head& h, size_t size, Segment** seg, Compact compact, bool main) {
  std::lock_guard<FutexLock> g(h.mu);
  Segment* s = h.seg;
  if (s == nullptr || s->used + size > s->cap) {
    if (s != nullptr) push_sealed(main ? main_ : window_, s);
    h.seg = s = main ? take_main_segment(size, compact) : take_segment(size, compact);
    if (s == nullptr) return nullptr;
  }
  char* p = s->data + s->used;
  unpoison(p, size);
  s->used += size;
  s->pending.fetch_add(1, std::memory_order_relaxed);
  *seg = s;
  return p;
}

char* SegmentArena::allocate(size_t size, Segment** seg, Compact compact) {
  if (size > seg_size_ / 2) return allocate_large(size, seg, compact);
  static std::atomic<unsigned> next_head{0};
  thread_local unsigned my_head = next_head.fetch_add(1, std::memory_order_relaxed);
  return bump(heads_[my_head % nheads_], size, seg, compact, false);
}

char* SegmentArena::allocate_main(size_t size, Segment** seg, Compact compact) {
  return bump(main_head_, size, seg, compact, true);
}

// A new mapping if the limit allows one more segment.
Segment* SegmentArena::fresh_segment() {
  const auto S = static_cast<int64_t>(seg_size_);
  if (reserved_.fetch_add(S, std::memory_order_relaxed) + S <= limit()) {
    if (Segment* s = new_segment(0, false)) return s;
  }
  reserved_.fetch_sub(S, std::memory_order_relaxed);
  return nullptr;
}

// The oldest evictable segment of the queue that should give one up: the window while it is
// over its share (or main has none), else main; the other queue when that one has nothing.
Segment* SegmentArena::pop_balanced(bool* from_window) {
  {
    std::lock_guard<std::mutex> g(mu_);
    *from_window = window_.count > window_target_ || main_.count == 0;
  }
  if (Segment* v = pop_victim(*from_window ? window_ : main_, 0)) return v;
  *from_window = !*from_window;
  return pop_victim(*from_window ? window_ : main_, 0);
}

// After a victim's compaction: true if it can take `need` more bytes and so serve as a head.
// Otherwise it goes back to a queue (a large one or one still full of kept items) or, emptied
// while the total is over the limit, back to the system.
bool SegmentArena::reuse(Segment* v, size_t kept, bool over, size_t need, Fifo& back) {
  if (v->large || (over && kept == 0)) {
    if (kept != 0) {
      push_sealed(large_queue(), v);
    } else {
      free_segment(v);
    }
    return false;
  }
  v->used = kept;
  poison(v->data + kept, v->cap - kept);
  if (kept + need <= v->cap) return true;
  push_sealed(back, v);
  return false;
}

// A segment for a window head: a fresh one if the limit allows; else a victim emptied by moving
// what is worth keeping to the main head: from the window while it is over its share
// (promotion), otherwise from main; else nothing. Over the limit (the tables grew), victims are
// emptied and given back instead.
Segment* SegmentArena::take_segment(size_t need, Compact compact) {
  for (int round = 0; round < kMaxRounds; ++round) {
    if (Segment* s = fresh_segment()) return s;
    const bool over = reserved() > limit();
    Segment* v;
    Keep keep = Keep::kLive;
    if (!evict_) {
      v = pop_victim(window_, need);
    } else {
      bool from_window;
      v = pop_balanced(&from_window);
      if (v != nullptr) {
        keep = over         ? Keep::kNothing
               : v->large   ? Keep::kHot
               : from_window ? Keep::kPromote
                            : Keep::kMoveHot;
      }
    }
    if (v == nullptr) return nullptr;  // all memory is live (-M), in write heads or in flight
    if (reuse(v, compact(*v, keep), over, need, keep == Keep::kHot ? main_ : window_)) return v;
  }
  return nullptr;
}

// A segment for the main head: fresh if the limit allows, else a victim compacted in place by
// main's rule: from the window while it is over its share (which is how main grows back to nine
// tenths), otherwise from main. Never moves items, so a promotion that lands here cannot start
// another.
Segment* SegmentArena::take_main_segment(size_t need, Compact compact) {
  for (int round = 0; round < kMaxRounds; ++round) {
    if (Segment* s = fresh_segment()) return s;
    bool from_window;
    Segment* v = pop_balanced(&from_window);
    if (v == nullptr) return nullptr;
    const bool over = reserved() > limit();
    if (reuse(v, compact(*v, over ? Keep::kNothing : Keep::kHot), over, need, main_)) return v;
  }
  return nullptr;
}

// Gives back whole segments (oldest first, nothing kept; with -M only all-dead ones) until
// `bytes` more fit under the limit.
bool SegmentArena::make_room(int64_t bytes, Compact compact) {
  for (int round = 0; round < kMaxRounds && reserved() + bytes > limit(); ++round) {
    Segment* v = pop_any();
    if (v == nullptr) return false;
    if (compact(*v, evict_ ? Keep::kNothing : Keep::kLive) != 0) {
      push_sealed(window_, v);  // -M: something came alive in between; look on
      continue;
    }
    free_segment(v);
  }
  return reserved() + bytes <= limit();
}

char* SegmentArena::allocate_large(size_t size, Segment** seg, Compact compact) {
  const auto n = static_cast<int64_t>((sizeof(Segment) + size + kPage - 1) / kPage * kPage);
  if (n > limit()) return nullptr;
  int round = 0;
  while (reserved_.fetch_add(n, std::memory_order_relaxed) + n > limit()) {
    reserved_.fetch_sub(n, std::memory_order_relaxed);
    if (++round > kMaxRounds || !make_room(n, compact)) return nullptr;
  }
  Segment* s = new_segment(size, true);
  if (s == nullptr) {
    reserved_.fetch_sub(n, std::memory_order_relaxed);
    return nullptr;
  }
  s->used = size;
  unpoison(s->data, size);
  s->pending.store(1, std::memory_order_relaxed);
  push_sealed(large_queue(), s);
  *seg = s;
  return s->data;
}

void SegmentArena::set_limit(size_t limit) {
  limit_.store(static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)), std::memory_order_relaxed);
  std::lock_guard<std::mutex> g(mu_);
  window_target_ = std::max<size_t>(limit / seg_size_ / 100, 1);
}

bool SegmentArena::shrink(size_t max_segments, Compact compact) {
  for (size_t i = 0; i < max_segments && reserved() > limit(); ++i) {
    Segment* v = pop_any();
    if (v == nullptr) break;
    if (compact(*v, evict_ ? Keep::kNothing : Keep::kLive) != 0) {
      push_sealed(evict_ ? main_ : window_, v);  // -M: live items stay
      if (!evict_) break;
      continue;
    }
    free_segment(v);
  }
  return reserved() > limit();
}

void SegmentArena::trim(Compact compact) {
  if (evict_) make_room(0, compact);
}

}  // namespace memshield::store
