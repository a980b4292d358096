// `lru_crawler metadump`: memcached 1.6.18's key dump, produced in chunks as the client's socket
// drains. A shard at a time (store.h's iterator), what each line needs is copied under that
// shard's lock; the lines are formatted after the lock is gone, about 64 KB per step, and the
// session then yields so other connections run between chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/out_buffer.h"
#include "store/store.h"

namespace memshield::engine {

// memcached's class-list argument: "all", "hash", or comma-separated ids 1..63. False: invalid
// (memcached: "BADCLASS invalid class id"). *includes_items: whether the list names class 1,
// where memshield reports every item (`stats items`, `stats slabs`).
bool parse_dump_classes(std::string_view arg, bool* includes_items);

// Appends `key` percent-encoded as memcached's metadump does: letters, digits and "-._~" as
// they are, every other byte as %XX (upper case).
void append_uri_encoded(std::string& out, std::string_view key);

class KeyDump {
 public:
  // Starts a dump of every live item (items false: of none; only END is sent). mg: memcached
  // 1.6.19+'s `lru_crawler mgdump`: "mg <key>\r\n" lines ("mg <base64> b" for a binary key),
  // then "EN\r\n".
  void start(bool items, bool mg = false) {
    mg_ = mg;
    shard_ = items ? 0 : SIZE_MAX;
    next_ = 0;
    entries_.clear();
    active_ = true;
  }
  bool active() const { return active_; }
  // Appends the next chunk; after the last one, "END\r\n", and the dump is no longer active.
  void step(const store::Store& store, const Clock& clock, OutBuffer& out);

 private:
  struct Entry {
    uint32_t key_offset;
    uint32_t key_size;
    RelTime exptime;
    RelTime last_access;
    uint64_t cas;
    uint32_t size;
    bool fetched;
    bool key_binary;
  };
  bool active_ = false;
  bool mg_ = false;
  size_t shard_ = 0;
  std::vector<Entry> entries_;  // one shard's items, copied under its lock
  size_t next_ = 0;             // the next of entries_ to format
  std::string keys_;
  std::string line_;
};

}  // namespace memshield::engine
