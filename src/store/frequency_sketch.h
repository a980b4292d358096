// How often each key was asked for lately, hit or miss (TinyLFU's sketch): 4-bit counters, four
// per key, each in another word of one 64-byte block (a blocked count-min, so a lookup is one
// cache line), with conservative update (only the counters at the key's minimum go up), all
// halved every 20 x (keys the table is sized for) records so old popularity fades. About 4-8
// bytes per item: admission from the window compares estimates of rarely seen keys, where a
// smaller table's collisions drown the signal (measured: 1-2 bytes per item lost about a point
// of zipf hit ratio). Lock-free and approximate: concurrent updates may be lost.
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
  // Starts loading the key's counters (one cache line) so a record() a little later does not
  // wait for memory: the store issues it before its table lookup.
  void prefetch(uint64_t h) const;
  uint32_t estimate(uint64_t h) const;
  // Keeps about eight counters per item (two keys per word): called as the item count grows
  // (cheap when no resize is due). Counts restart from zero in a bigger table. Returns the
  // bytes added.
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
  std::atomic<uint64_t> records_{0};  // since the last halving
  std::mutex resize_mu_;
  // A replaced table may still be read by a thread that loaded it just before the swap, so it
  // stays mapped until destruction, its pages given back to the system (reads then see zeros).
  std::vector<Table*> tables_;
};

}  // namespace memshield::store
