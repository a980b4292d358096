// The frequency sketch; see frequency_sketch.h. Which word and which two nibbles a key uses come
// from hash bits the table index does not use (the slot index takes the bits under the shard
// bits; here the low bits), so the sketch and the table do not collide together.
#include "store/frequency_sketch.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace memshield::store {
namespace {

constexpr size_t kMinWords = 64;  // 1024 counters
constexpr uint64_t kLowBits = 0x7777777777777777ull;

struct Pos {
  size_t word;
  unsigned a, b;  // nibble shifts, a != b
};

Pos position(uint64_t h, size_t mask) {
  const uint64_t x = h * 0x9E3779B97F4A7C15ull;  // spread the low bits we take
  Pos p;
  p.word = static_cast<size_t>(x >> 20) & mask;
  p.a = static_cast<unsigned>(x >> 4) & 15;
  p.b = (p.a + 1 + (static_cast<unsigned>(x >> 8) % 15)) & 15;
  p.a *= 4;
  p.b *= 4;
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
  std::atomic<uint64_t>& w = t.w[p.word];
  uint64_t v = w.load(std::memory_order_relaxed);
  uint64_t add = 0;
  if (((v >> p.a) & 15) < 15) add += uint64_t{1} << p.a;
  if (((v >> p.b) & 15) < 15) add += uint64_t{1} << p.b;
  if (add == 0) return;
  w.store(v + add, std::memory_order_relaxed);
  // Halve every 10 increments per counter pair: popularity a few cache turnovers old fades.
  if (increments_.fetch_add(1, std::memory_order_relaxed) + 1 >= t.words * 16 / 2 * 10) {
    increments_.store(0, std::memory_order_relaxed);
    halve(t);
  }
}

uint32_t FrequencySketch::estimate(uint64_t h) const {
  const Table& t = *table_.load(std::memory_order_acquire);
  const Pos p = position(h, t.mask);
  const uint64_t v = t.w[p.word].load(std::memory_order_relaxed);
  return static_cast<uint32_t>(std::min((v >> p.a) & 15, (v >> p.b) & 15));
}

void FrequencySketch::halve(Table& t) {
  for (size_t i = 0; i < t.words; ++i) {
    t.w[i].store((t.w[i].load(std::memory_order_relaxed) >> 1) & kLowBits,
                 std::memory_order_relaxed);
  }
}

size_t FrequencySketch::fit(size_t items) {
  // 16 counters per word, two per key: 8 keys per word.
  Table* old = table_.load(std::memory_order_relaxed);
  if (items <= old->words * 8) return 0;
  std::lock_guard<std::mutex> g(resize_mu_);
  old = table_.load(std::memory_order_relaxed);
  const size_t want = std::bit_ceil(std::max(kMinWords, items / 8 + 1));
  if (want <= old->words) return 0;
  Table* t = make_table(want);
  if (t == nullptr) return 0;  // keep counting in the small one
  tables_.push_back(t);
  table_.store(t, std::memory_order_release);
  increments_.store(0, std::memory_order_relaxed);
  madvise(old->w, old->words * 8, MADV_DONTNEED);
  return (t->words - old->words) * 8;
}

}  // namespace memshield::store
