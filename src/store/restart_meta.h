// Warm restart's metadata file (-e FILE writes FILE.meta at a graceful stop): the settings that
// shape the memory file, the clock, CAS and flush state, each shard's table size, and the list
// of segments in queue order with a checksum of each one's bytes. Binary, with a magic, a
// version and an XXH3 checksum over the whole file, so an empty, truncated or edited file is
// refused as a whole. Pure data in and out: no store, no I/O beyond the one file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace memshield::store {

// Which queue a segment was in when saved; the order of records within a queue is its FIFO
// order, oldest first. Write heads are restored as sealed segments at the new end.
enum class SegmentQueue : uint8_t { kWindow = 0, kMain = 1 };

struct SegmentRecord {
  uint64_t offset = 0;     // from the start of the memory file; a multiple of the segment size
  uint64_t map_bytes = 0;  // bytes the segment spans from offset (header included)
  uint64_t used = 0;       // bytes of items after the header
  uint64_t checksum = 0;   // XXH3 of those bytes
  uint8_t queue = 0;       // SegmentQueue
  uint8_t large = 0;
};

// The settings that decide the memory file's layout and meaning; a restart with any of them
// different starts clean (see mismatch()).
struct LayoutSettings {
  uint64_t memory_limit = 0;   // -m
  uint64_t item_size_max = 0;  // -I
  uint64_t segment_size = 0;   // derived from -m, checked as a guard on the derivation
  uint64_t file_bytes = 0;     // the memory file's size
  uint32_t shards_log2 = 0;
  uint8_t use_cas = 0;  // -C
  uint8_t evict = 0;    // -M (items then always carry an expiry field)

  // The name of the first setting that differs (memcached's names), or "" when all match.
  std::string mismatch(const LayoutSettings& now, std::string* old_value) const;
};

struct RestartMeta {
  LayoutSettings layout;
  int64_t process_started = 0;  // unix time of relative time 0
  int64_t stop_time = 0;        // unix time of the save
  uint32_t current_time = 0;    // relative time at the save
  uint64_t last_cas = 0;
  uint64_t oldest_cas = 0;
  uint32_t oldest_live = 0;
  uint8_t flush_pending = 0;
  std::vector<uint64_t> table_capacity;  // one per shard
  std::vector<SegmentRecord> segments;
};

enum class MetaRead : uint8_t { kAbsent, kOk, kInvalid };

std::string encode_meta(const RestartMeta& m);
// False (and *error says why) unless `bytes` is a whole, unaltered encode_meta() output.
bool decode_meta(const std::string& bytes, RestartMeta* m, std::string* error);

// Writes path atomically (a temporary file, fsync, rename).
bool write_meta_file(const std::string& path, const RestartMeta& m, std::string* error);
// kAbsent when there is no file; kInvalid (with *error) when it cannot be read or decoded.
MetaRead read_meta_file(const std::string& path, RestartMeta* m, std::string* error);

}  // namespace memshield::store
