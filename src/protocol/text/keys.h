// Walking the keys of a multi-key get: space-separated, runs of spaces allowed, as memcached's
// tokenizer reads them.
#pragma once

#include <string_view>

namespace memshield::protocol::text {

// Calls f(key) for each key in order; stops early if f returns false.
template <class F>
void for_each_key(std::string_view keys, F&& f) {
  size_t i = 0;
  while (i < keys.size()) {
    while (i < keys.size() && keys[i] == ' ') ++i;
    size_t start = i;
    while (i < keys.size() && keys[i] != ' ') ++i;
    if (i == start) return;
    if (!f(keys.substr(start, i - start))) return;
  }
}

}  // namespace memshield::protocol::text
