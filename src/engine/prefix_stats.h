// memcached's per-prefix statistics (`stats detail on|off|dump`, -D): for each key prefix (the
// bytes before the first delimiter, ':' by default) how many gets, get hits, sets and deletes the
// text protocol saw. Off by default; while off it costs a request one relaxed load and a branch
// (on()), and while on a short mutex-protected map update per key, as in memcached.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/out_buffer.h"

namespace memshield::engine {

class PrefixStats {
 public:
  explicit PrefixStats(char delimiter = ':', bool enabled = false)
      : delimiter_(delimiter), on_(enabled) {}
  PrefixStats(const PrefixStats&) = delete;
  PrefixStats& operator=(const PrefixStats&) = delete;

  // An instance that is never turned on, for sessions built without one.
  static PrefixStats& disabled();

  bool on() const { return on_.load(std::memory_order_relaxed); }
  void set_on(bool on) { on_.store(on, std::memory_order_relaxed); }
  char delimiter() const { return delimiter_; }

  // Keys without the delimiter are not counted (memcached's rule).
  void record_get(std::string_view key, bool hit);
  void record_set(std::string_view key);
  void record_delete(std::string_view key);

  // "PREFIX <prefix> get <n> hit <n> set <n> del <n>" per prefix, in the order first seen,
  // then END.
  void dump(OutBuffer& out) const;
  // stats reset: forgets every prefix.
  void reset();
  size_t size() const;

  // Beyond this many distinct prefixes new ones are not tracked (memcached has no bound; a
  // client inventing prefixes would otherwise grow this map without limit, outside -m).
  static constexpr size_t kMaxPrefixes = 65536;

 private:
  struct Counts {
    uint64_t get = 0, hit = 0, set = 0, del = 0;
  };
  Counts* find(std::string_view key);  // with mu_ held; null: not counted

  const char delimiter_;
  std::atomic<bool> on_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, size_t> index_;        // prefix -> position in entries_
  std::vector<std::pair<std::string, Counts>> entries_;  // in the order first seen
};

}  // namespace memshield::engine
