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
constexpr int kCounters = 4;

// A key's counters: block of 8 words from the high bits, then counter k in word 2k or 2k+1 of
// the block (so the four never share a word), nibble from 4 more bits each.
struct Pos {
  size_t word[kCounters];
  unsigned shift[kCounters];
};

Pos position(uint64_t h, size_t mask) {
  const uint64_t x = h * 0x9E3779B97F4A7C15ull;
  const size_t block = static_cast<size_t>(x >> 20) & mask & ~size_t{7};
  Pos p;
  for (int k = 0; k < kCounters; ++k) {
    p.word[k] = block + 2 * k + ((x >> k) & 1);
    p.shift[k] = static_cast<unsigned>((x >> (4 + 4 * k)) & 15) * 4;
  }
  return p;
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
  const Pos p = position(h, t.mask);
  uint64_t c[kCounters];
  uint64_t least = 15;
  for (int k = 0; k < kCounters; ++k) {
    c[k] = (t.w[p.word[k]].load(std::memory_order_relaxed) >> p.shift[k]) & 15;
    least = std::min(least, c[k]);
  }
  // Conservative update: the estimate is the minimum, so only counters at it need to grow;
  // the others are already over-counted by keys they share with.
  if (least < 15) {
    for (int k = 0; k < kCounters; ++k) {
      if (c[k] != least) continue;
      std::atomic<uint64_t>& w = t.w[p.word[k]];
      w.store(w.load(std::memory_order_relaxed) + (uint64_t{1} << p.shift[k]),
              std::memory_order_relaxed);
    }
  }
  // Every record counts toward the halving, saturated or not, so the period is one of traffic.
  if (records_.fetch_add(1, std::memory_order_relaxed) + 1 >=
      t.words * kKeysPerWord * kHalvePeriod) {
    records_.store(0, std::memory_order_relaxed);
    halve(t);
  }
}

uint32_t FrequencySketch::estimate(uint64_t h) const {
  const Table& t = *table_.load(std::memory_order_acquire);
  const Pos p = position(h, t.mask);
  uint64_t least = 15;
  for (int k = 0; k < kCounters; ++k) {
    least = std::min(least, (t.w[p.word[k]].load(std::memory_order_relaxed) >> p.shift[k]) & 15);
  }
  return static_cast<uint32_t>(least);
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
