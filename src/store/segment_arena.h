// Item memory: items are appended into fixed-size segments (a few per write head), sealed
// segments form one FIFO, and memory is reclaimed a segment at a time. This replaces malloc per
// item (8-24 bytes of chunk header and rounding per item) and gives eviction its order: the
// store compacts a victim segment, keeping the items it is asked to keep (FIFO with reinsertion,
// i.e. CLOCK over insertion order) and dropping the rest. Knows nothing of keys or tables: what
// to keep is the store's callback.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "common/function_ref.h"

namespace memshield::store {

// Lives at the start of its own aligned mapping, so any item pointer finds its segment by
// masking (SegmentArena::segment_of).
struct alignas(64) Segment {
  char* data = nullptr;
  size_t cap = 0;        // usable bytes from data
  size_t used = 0;       // bytes holding items (live or dead)
  size_t map_bytes = 0;  // the whole mapping, header included
  bool large = false;    // holds exactly one item bigger than half a normal segment
  // Items handed out from here and not yet linked or released; a segment with any is never
  // compacted, since an unlinked item's bytes are still being written.
  std::atomic<uint32_t> pending{0};
  // Bytes of items unlinked or abandoned since the last compaction (an upper bound).
  std::atomic<uint64_t> dead{0};
  Segment* prev = nullptr;  // FIFO neighbours while sealed
  Segment* next = nullptr;
};

// What a compaction keeps: every live item (-M, where nothing may be evicted), live items read
// since their last pass (eviction), or nothing (memory is going back to the system).
enum class Keep : uint8_t { kLive, kHot, kNothing };

class SegmentArena {
 public:
  // Compacts a victim in place: moves the items to keep to the front and returns the bytes
  // they now use.
  using Compact = FunctionRef<size_t(Segment&, Keep)>;

  SegmentArena(size_t limit, bool evict);
  ~SegmentArena();
  SegmentArena(const SegmentArena&) = delete;
  SegmentArena& operator=(const SegmentArena&) = delete;

  Segment* segment_of(const void* item) const {
    return reinterpret_cast<Segment*>(reinterpret_cast<uintptr_t>(item) & ~(seg_size_ - 1));
  }

  // Room for `size` bytes, counted as pending in *seg; nullptr when the limit is reached and
  // nothing can be evicted (or reclaimed, with eviction off).
  char* allocate(size_t size, Segment** seg, Compact compact);
  // The item from allocate() is linked, or abandoned (then its bytes are dead).
  static void linked(Segment* seg) { seg->pending.fetch_sub(1, std::memory_order_release); }
  static void abandoned(Segment* seg, size_t bytes) {
    seg->dead.fetch_add(bytes, std::memory_order_relaxed);
    seg->pending.fetch_sub(1, std::memory_order_release);
  }

  // Memory held outside segments that counts against the limit (the hash tables).
  void add_external(int64_t delta) { reserved_.fetch_add(delta, std::memory_order_relaxed); }
  // Gives back old segments until the total is under the limit again (after a table grew).
  void trim(Compact compact);
  int64_t reserved() const { return reserved_.load(std::memory_order_relaxed); }

 private:
  struct alignas(64) Head {
    std::mutex mu;
    Segment* seg = nullptr;
  };
  static constexpr size_t kMaxHeads = 4;

  char* allocate_large(size_t size, Segment** seg, Compact compact);
  Segment* take_segment(size_t need, Compact compact);
  bool make_room(int64_t bytes, Compact compact);
  Segment* pop_victim(size_t need);
  void push_sealed(Segment* s);
  Segment* new_segment(size_t item_bytes, bool large);
  void free_segment(Segment* s);

  const int64_t limit_;
  const bool evict_;
  size_t seg_size_;
  size_t nheads_;
  Head heads_[kMaxHeads];
  std::atomic<int64_t> reserved_{0};  // segment mappings + external
  std::mutex mu_;                     // the FIFO
  Segment* oldest_ = nullptr;
  Segment* newest_ = nullptr;
};

}  // namespace memshield::store
