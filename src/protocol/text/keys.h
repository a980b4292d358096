// Walking the keys of a multi-key get: space-separated, runs of spaces allowed, as memcached's
// tokenizer reads them.
#pragma once

#include <string_view>

#include "protocol/text/scan.h"

namespace memshield::protocol::text {

// Calls f(key) for each key in order; stops early if f returns false.
template <class F>
void for_each_key(std::string_view keys, F&& f) {
  const char* p = keys.data();
  const char* const end = p + keys.size();
  while (p < end) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    const char* const key_end = next_space(p, end);
    if (!f(std::string_view(p, static_cast<size_t>(key_end - p)))) return;
    p = key_end;
  }
}

}  // namespace memshield::protocol::text
