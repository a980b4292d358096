// How often each key was asked for lately, hit or miss (TinyLFU's sketch): 4-bit counters, two
// per key in one 64-bit word (a blocked count-min, so a lookup is one cache line), halved every
// 10 x width increments so old popularity fades. Eviction keeps an item whose key is popular
// even if it was not read since the last pass, which is what lifts the hit ratio of a skewed
// (zipfian) load above LRU's. Lock-free and approximate: concurrent updates may be lost.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace memshield::store {

class FrequencySketch {
 public:
  FrequencySketch();
  ~FrequencySketch();
  FrequencySketch(const FrequencySketch&) = delete;
  FrequencySketch& operator=(const FrequencySketch&) = delete;

  void record(uint64_t h);
  uint32_t estimate(uint64_t h) const;
  // Keeps about one counter pair per item: called as the item count grows (cheap when no
  // resize is due). Counts restart from zero in a bigger table. Returns the bytes added.
  size_t fit(size_t items);
  // Memory of the live table.
  size_t bytes() const { return table_.load(std::memory_order_relaxed)->words * 8; }

 private:
  struct Table {
    std::atomic<uint64_t>* w = nullptr;  // an anonymous mapping
    size_t words = 0;
    size_t mask = 0;
  };
  static Table* make_table(size_t words);
  void halve(Table& t);

  std::atomic<Table*> table_{nullptr};
  std::atomic<uint64_t> increments_{0};
  std::mutex resize_mu_;
  // A replaced table may still be read by a thread that loaded it just before the swap, so it
  // stays mapped until destruction, its pages given back to the system (reads then see zeros).
  std::vector<Table*> tables_;
};

}  // namespace memshield::store
