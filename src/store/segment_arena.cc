// Segments, write heads and the FIFO of sealed segments; see segment_arena.h.
// Lock order: a head's mutex, then (briefly) the FIFO mutex; the store's compaction callback
// takes shard locks one at a time and is never called with the FIFO mutex held.
#include "store/segment_arena.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>

#include "common/hash.h"

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
  if (file_base_ != nullptr) {
    // The file keeps the segments (a saved snapshot refers to them); only the mapping goes
    // (and, under ASan, the poison of its unused tails, which would outlive the mapping).
    unpoison(file_base_, file_bytes_);
    munmap(file_base_, file_bytes_);
    close(file_fd_);
    return;
  }
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

uint64_t SegmentArena::planned_file_bytes(size_t item_size_max) const {
  const size_t limit_slots = (static_cast<size_t>(limit_) + seg_size_ - 1) / seg_size_;
  const size_t item_slots = (sizeof(Segment) + item_size_max + 512 + seg_size_ - 1) / seg_size_;
  return uint64_t{2 * limit_slots + item_slots} * seg_size_;
}

bool SegmentArena::open_file(const std::string& path, size_t item_size_max, bool fresh,
                             std::string* error, int fd) {
  const uint64_t bytes = planned_file_bytes(item_size_max);
  const size_t nslots = static_cast<size_t>(bytes / seg_size_);
  if (fd < 0) fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = path + ": " + strerror(errno);
    return false;
  }
  // One server per file: a second one would hand out the same bytes. The lock belongs to the
  // open file, so it travels with the descriptor (a takeover passing it keeps it held).
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    *error = path + ": in use by another process (" + strerror(errno) + ")";
    close(fd);
    return false;
  }
  struct stat st {};
  // A fresh start drops the old bytes (on tmpfs, their pages) before sizing the file.
  if (fstat(fd, &st) != 0 || ((fresh || static_cast<uint64_t>(st.st_size) != bytes) &&
                              (ftruncate(fd, 0) != 0 || ftruncate(fd, bytes) != 0))) {
    *error = path + ": " + strerror(errno);
    close(fd);
    return false;
  }
  // Reserve an aligned span, then map the file over it, so segment_of()'s masking works.
  void* span = map_aligned(bytes, seg_size_);
  if (span == nullptr ||
      mmap(span, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED) {
    *error = path + ": mmap: " + strerror(errno);
    if (span != nullptr) munmap(span, bytes);
    close(fd);
    return false;
  }
  file_base_ = static_cast<char*>(span);
  unpoison(file_base_, bytes);
  file_bytes_ = bytes;
  file_fd_ = fd;
  slot_used_.assign(nslots, 0);
  return true;
}

bool SegmentArena::claim_slots(size_t first, size_t n) {
  if (first > slot_used_.size() || n > slot_used_.size() - first) return false;
  for (size_t i = first; i < first + n; ++i) {
    if (slot_used_[i]) return false;
  }
  std::fill_n(slot_used_.begin() + static_cast<ptrdiff_t>(first), n, 1);
  if (first == free_hint_) {
    while (free_hint_ < slot_used_.size() && slot_used_[free_hint_]) ++free_hint_;
  }
  return true;
}

void SegmentArena::release_slots(size_t first, size_t n) {
  std::fill_n(slot_used_.begin() + static_cast<ptrdiff_t>(first), n, 0);
  free_hint_ = std::min(free_hint_, first);
  fallocate(file_fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
            static_cast<off_t>(first * seg_size_), static_cast<off_t>(n * seg_size_));
}

// The caller has already counted the mapping in reserved_.
Segment* SegmentArena::new_segment(size_t item_bytes, bool large) {
  const size_t map_bytes =
      large ? (sizeof(Segment) + item_bytes + kPage - 1) / kPage * kPage : seg_size_;
  void* p = nullptr;
  if (file_base_ != nullptr) {
    // First fit over the slots: one for a normal segment, a run for a large one.
    const size_t n = (map_bytes + seg_size_ - 1) / seg_size_;
    std::lock_guard<std::mutex> g(file_mu_);
    for (size_t i = free_hint_; i + n <= slot_used_.size(); ++i) {
      if (claim_slots(i, n)) {
        p = file_base_ + i * seg_size_;
        break;
      }
    }
  } else {
    p = map_aligned(map_bytes, seg_size_);
  }
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
  if (file_base_ != nullptr) {
    std::lock_guard<std::mutex> g(file_mu_);
    release_slots(static_cast<size_t>(reinterpret_cast<char*>(s) - file_base_) / seg_size_,
                  (bytes + seg_size_ - 1) / seg_size_);
    return;
  }
  munmap(s, bytes);
}

void SegmentArena::snapshot(std::vector<SegmentRecord>* out) const {
  auto add = [&](const Segment* s, SegmentQueue q) {
    SegmentRecord r;
    r.offset = static_cast<uint64_t>(reinterpret_cast<const char*>(s) - file_base_);
    r.map_bytes = s->map_bytes;
    r.used = s->used;
    r.checksum = XXH3_64bits(s->data, s->used);
    r.queue = static_cast<uint8_t>(q);
    r.large = s->large ? 1 : 0;
    out->push_back(r);
  };
  for (const Segment* s = window_.oldest; s != nullptr; s = s->next) add(s, SegmentQueue::kWindow);
  for (const Head& h : heads_) {
    if (h.seg != nullptr) add(h.seg, SegmentQueue::kWindow);
  }
  for (const Segment* s = main_.oldest; s != nullptr; s = s->next) add(s, SegmentQueue::kMain);
  if (main_head_.seg != nullptr) add(main_head_.seg, SegmentQueue::kMain);
}

size_t SegmentArena::adopt(const std::vector<SegmentRecord>& records,
                           FunctionRef<bool(Segment&)> index) {
  size_t dropped = 0;
  for (const SegmentRecord& r : records) {
    const bool shape_ok = r.offset % seg_size_ == 0 && r.offset < file_bytes_ &&
                          r.map_bytes <= file_bytes_ - r.offset && r.map_bytes > sizeof(Segment) &&
                          r.used <= r.map_bytes - sizeof(Segment) && r.queue <= 1 &&
                          (r.large ? r.map_bytes % kPage == 0 : r.map_bytes == seg_size_);
    const size_t first = static_cast<size_t>(r.offset / seg_size_);
    const size_t n = static_cast<size_t>((r.map_bytes + seg_size_ - 1) / seg_size_);
    if (!shape_ok || !claim_slots(first, n)) {
      ++dropped;
      continue;
    }
    char* p = file_base_ + r.offset;
    if (XXH3_64bits(p + sizeof(Segment), r.used) != r.checksum ||
        reserved_.load(std::memory_order_relaxed) + static_cast<int64_t>(r.map_bytes) > limit_) {
      release_slots(first, n);
      ++dropped;
      continue;
    }
    auto* s = new (p) Segment;
    s->data = p + sizeof(Segment);
    s->cap = r.map_bytes - sizeof(Segment);
    s->map_bytes = r.map_bytes;
    s->used = r.used;
    s->large = r.large != 0;
    reserved_.fetch_add(static_cast<int64_t>(r.map_bytes), std::memory_order_relaxed);
    if (!index(*s)) {
      free_segment(s);
      ++dropped;
      continue;
    }
    poison(s->data + s->used, s->cap - s->used);
    push_sealed(s->large                                               ? large_queue()
                : r.queue == static_cast<uint8_t>(SegmentQueue::kMain) ? main_
                                                                       : window_,
                s);
  }
  // Slots no record holds may keep bytes from before: give their memory back.
  for (size_t i = 0; i < slot_used_.size(); ++i) {
    size_t j = i;
    while (j < slot_used_.size() && !slot_used_[j]) ++j;
    if (j > i) release_slots(i, j - i);
    i = j;
  }
  return dropped;
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
