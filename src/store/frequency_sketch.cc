// The frequency sketch; see frequency_sketch.h. Which block, words and nibbles a key uses come
// from its hash multiplied by an odd constant (so every bit of it counts), not from the bits the
// slot index uses directly, so the sketch and the table do not collide together.
#include "store/frequency_sketch.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace memshield::store {
namespace {

constexpr size_t kMinWords = 64;  // 1024 counters
constexpr size_t kKeysPerWord = 2;  // 16 nibbles per word, 8 counters per key
constexpr uint64_t kHalvePeriod = 20;  // records per key the table is sized for
constexpr uint64_t kLowBits = 0x7777777777777777ull;

// A key's counters: block of 8 words from the high bits, then counter k in word 2k or 2k+1 of
// the block (so the four never share a word), nibble from 4 more bits each. Spelled out without
// arrays so the whole position stays in registers (this runs for every key read).
struct Pos {
  std::atomic<uint64_t>* w0;
  std::atomic<uint64_t>* w1;
  std::atomic<uint64_t>* w2;
  std::atomic<uint64_t>* w3;
  unsigned s0, s1, s2, s3;  // bit offsets of the nibbles: ((x >> (4 + 4k)) & 15) * 4
};

inline Pos position(uint64_t h, std::atomic<uint64_t>* words, size_t mask) {
  const uint64_t x = h * 0x9E3779B97F4A7C15ull;
  std::atomic<uint64_t>* b = words + (static_cast<size_t>(x >> 20) & mask & ~size_t{7});
  return Pos{b + (x & 1),
             b + 2 + ((x >> 1) & 1),
             b + 4 + ((x >> 2) & 1),
             b + 6 + ((x >> 3) & 1),
             static_cast<unsigned>((x >> 2) & 60),
             static_cast<unsigned>((x >> 6) & 60),
             static_cast<unsigned>((x >> 10) & 60),
             static_cast<unsigned>((x >> 14) & 60)};
}

inline uint64_t nibble(const std::atomic<uint64_t>* w, unsigned shift) {
  return (w->load(std::memory_order_relaxed) >> shift) & 15;
}

inline void bump(std::atomic<uint64_t>* w, unsigned shift) {
  w->store(w->load(std::memory_order_relaxed) + (uint64_t{1} << shift), std::memory_order_relaxed);
}

}  // namespace

FrequencySketch::Table* FrequencySketch::make_table(size_t words) {
  void* p = mmap(nullptr, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* t = new Table;
  t->w = static_cast<std::atomic<uint64_t>*>(p);  // zero-filled: every counter starts at 0
  t->words = words;
  t->mask = words - 1;
  return t;
}

FrequencySketch::FrequencySketch() {
  Table* t = make_table(kMinWords);
  if (t == nullptr) abort();  // start-up; nothing to fall back to
  tables_.push_back(t);
  table_.store(t, std::memory_order_release);
}

FrequencySketch::~FrequencySketch() {
  for (Table* t : tables_) {
    munmap(t->w, t->words * 8);
    delete t;
  }
}

void FrequencySketch::record(uint64_t h) {
  Table& t = *table_.load(std::memory_order_acquire);
  const Pos p = position(h, t.w, t.mask);
  const uint64_t c0 = nibble(p.w0, p.s0), c1 = nibble(p.w1, p.s1);
  const uint64_t c2 = nibble(p.w2, p.s2), c3 = nibble(p.w3, p.s3);
  const uint64_t least = std::min(std::min(c0, c1), std::min(c2, c3));
  // Conservative update: the estimate is the minimum, so only counters at it need to grow;
  // the others are already over-counted by keys they share with.
  if (least < 15) {
    if (c0 == least) bump(p.w0, p.s0);
    if (c1 == least) bump(p.w1, p.s1);
    if (c2 == least) bump(p.w2, p.s2);
    if (c3 == least) bump(p.w3, p.s3);
  }
  // Every record counts toward the halving, saturated or not, so the period is one of traffic.
  if (records_.fetch_add(1, std::memory_order_relaxed) + 1 >=
      t.words * kKeysPerWord * kHalvePeriod) {
    records_.store(0, std::memory_order_relaxed);
    halve(t);
  }
}

void FrequencySketch::prefetch(uint64_t h) const {
  const Table& t = *table_.load(std::memory_order_acquire);
  __builtin_prefetch(position(h, t.w, t.mask).w0, 1);
}

uint32_t FrequencySketch::estimate(uint64_t h) const {
  const Table& t = *table_.load(std::memory_order_acquire);
  const Pos p = position(h, t.w, t.mask);
  return static_cast<uint32_t>(std::min(std::min(nibble(p.w0, p.s0), nibble(p.w1, p.s1)),
                                        std::min(nibble(p.w2, p.s2), nibble(p.w3, p.s3))));
}

void FrequencySketch::halve(Table& t) {
  for (size_t i = 0; i < t.words; ++i) {
    t.w[i].store((t.w[i].load(std::memory_order_relaxed) >> 1) & kLowBits,
                 std::memory_order_relaxed);
  }
}

size_t FrequencySketch::fit(size_t items) {
  // Acquire: the table may have just been published by another thread (its fields are plain).
  Table* old = table_.load(std::memory_order_acquire);
  if (items <= old->words * kKeysPerWord) return 0;
  std::lock_guard<std::mutex> g(resize_mu_);
  old = table_.load(std::memory_order_relaxed);
  const size_t want = std::bit_ceil(std::max(kMinWords, items / kKeysPerWord + 1));
  if (want <= old->words) return 0;
  Table* t = make_table(want);
  if (t == nullptr) return 0;  // keep counting in the small one
  tables_.push_back(t);
  table_.store(t, std::memory_order_release);
  records_.store(0, std::memory_order_relaxed);
  madvise(old->w, old->words * 8, MADV_DONTNEED);
  return (t->words - old->words) * 8;
}

}  // namespace memshield::store
