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
#include <string>
#include <vector>

#include "common/function_ref.h"
#include "common/futex_lock.h"
#include "store/restart_meta.h"

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

// What a compaction does with the live items it meets. kLive: keeps all (-M, where nothing may be
// evicted); kHot: keeps, in place, those whose frequency says so (the store's rule), one read
// colder;
// kPromote (a window segment) and kMoveHot (a main one): moves those worth keeping to the main
// head through allocate_main() and drops the rest, leaving the segment empty for new items;
// kNothing: drops all (memory going back).
enum class Keep : uint8_t { kLive, kHot, kPromote, kMoveHot, kNothing };

class SegmentArena {
 public:
  // Compacts a victim: moves the items to keep to its front (or, kPromote, out to the main
  // queue) and returns the bytes it still uses.
  using Compact = FunctionRef<size_t(Segment&, Keep)>;

  SegmentArena(size_t limit, bool evict);
  ~SegmentArena();

  // -e FILE: segments are carved from FILE (mapped shared, on tmpfs in practice) instead of
  // anonymous memory. Called once, before the first allocation. The file is a sparse span of
  // slots of one segment size each, twice what the limit allows plus the largest item, so a
  // large item finds contiguous free slots; freed slots are punched out (their memory goes
  // back). `fresh`: discard what the file held. False, with *error, if it cannot be set up.
  // `fd` >= 0: the file already open (passed over by a takeover, its lock held with it);
  // the arena owns it from here, success or not.
  bool open_file(const std::string& path, size_t item_size_max, bool fresh, std::string* error,
                 int fd = -1);
  int file_fd() const { return file_fd_; }
  // The size open_file() gives the file for these settings.
  uint64_t planned_file_bytes(size_t item_size_max) const;
  bool file_backed() const { return file_base_ != nullptr; }
  size_t segment_size() const { return seg_size_; }
  uint64_t file_bytes() const { return file_bytes_; }
  // The file's segments in queue order, with a checksum of each one's items (write heads are
  // listed after their queue). Only with no allocation in flight (workers stopped).
  void snapshot(std::vector<SegmentRecord>* out) const;
  // Rebuilds segments and queues from a snapshot taken by an earlier process on the same file.
  // A record out of bounds, overlapping another, or whose bytes fail their checksum is dropped
  // (its slots punched out); index(seg) must check every item's bounds before linking any, and
  // return false (nothing linked) if one is malformed: the segment is then dropped too.
  // Returns the number of segments dropped.
  size_t adopt(const std::vector<SegmentRecord>& records, FunctionRef<bool(Segment&)> index);
  SegmentArena(const SegmentArena&) = delete;
  SegmentArena& operator=(const SegmentArena&) = delete;

  Segment* segment_of(const void* item) const {
    return reinterpret_cast<Segment*>(reinterpret_cast<uintptr_t>(item) & ~(seg_size_ - 1));
  }

  // Room for `size` bytes, counted as pending in *seg; nullptr when the limit is reached and
  // nothing can be evicted (or reclaimed, with eviction off). New items enter the window queue.
  char* allocate(size_t size, Segment** seg, Compact compact);
  // Room in the main queue for an item promoted out of a window segment being compacted; makes
  // room by compacting main segments in place (never promoting), so it does not recurse.
  char* allocate_main(size_t size, Segment** seg, Compact compact);
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
  int64_t limit() const { return limit_.load(std::memory_order_relaxed); }
  // A new limit (cache_memlimit); the segment size stays the one chosen at start.
  void set_limit(size_t limit);
  // Gives back up to `max_segments` whole segments while over the limit; true while still over.
  bool shrink(size_t max_segments, Compact compact);

 private:
  struct alignas(64) Head {
    FutexLock mu;
    Segment* seg = nullptr;
  };
  struct Fifo {
    Segment* oldest = nullptr;
    Segment* newest = nullptr;
    size_t count = 0;
  };
  static constexpr size_t kMaxHeads = 4;

  char* bump(Head& h, size_t size, Segment** seg, Compact compact, bool main);
  char* allocate_large(size_t size, Segment** seg, Compact compact);
  Segment* fresh_segment();
  Segment* take_segment(size_t need, Compact compact);
  Segment* take_main_segment(size_t need, Compact compact);
  bool make_room(int64_t bytes, Compact compact);
  Segment* pop_victim(Fifo& q, size_t need);
  Segment* pop_any();
  Segment* pop_balanced(bool* from_window);
  bool reuse(Segment* v, size_t kept, bool over, size_t need, Fifo& back);
  Fifo& large_queue() { return evict_ ? main_ : window_; }
  void push_sealed(Fifo& q, Segment* s);
  Segment* new_segment(size_t item_bytes, bool large);
  void free_segment(Segment* s);

  // -e: the memory file's mapping, size in bytes and slots (one segment size each), and which
  // slots segments occupy (guarded by file_mu_; taken only when a segment is made or freed).
  bool claim_slots(size_t first, size_t n);
  void release_slots(size_t first, size_t n);
  char* file_base_ = nullptr;
  uint64_t file_bytes_ = 0;
  int file_fd_ = -1;
  std::mutex file_mu_;
  std::vector<uint8_t> slot_used_;
  size_t free_hint_ = 0;  // no slot below this one is free

  std::atomic<int64_t> limit_;
  const bool evict_;
  size_t seg_size_;
  size_t nheads_;
  size_t window_target_;   // guarded by mu_; sealed window segments above which the window is
                           // compacted first
  Head heads_[kMaxHeads];  // write heads of the window queue
  Head main_head_;         // where promoted items go
  std::atomic<int64_t> reserved_{0};  // segment mappings + external
  std::mutex mu_;                     // both FIFOs
  // New items enter the window; what a window compaction finds read or frequent enough is
  // promoted to main, the rest leave early (S3-FIFO's small queue, W-TinyLFU's window). Without
  // eviction (-M) only the window is used. Large items go straight to main.
  Fifo window_, main_;
};

}  // namespace memshield::store
