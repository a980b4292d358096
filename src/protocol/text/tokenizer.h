// memcached's command-line tokenizer: split on single spaces (never tabs), at most 23 tokens,
// the unsplit remainder kept for multi-key gets. Reproduced exactly because token counts decide
// which error a malformed line gets.
#pragma once

#include <cstddef>
#include <string_view>

namespace memshield::protocol::text {

struct Tokens {
  static constexpr size_t kMax = 23;  // memcached: MAX_TOKENS 24, one slot for the terminal
  std::string_view tok[kMax];
  size_t n = 0;            // real tokens
  std::string_view rest;   // text after the 23rd token's separator, if any
  bool has_rest = false;

  // memcached counts a terminal token too; its arity checks are written in those terms.
  size_t memcached_count() const { return n + 1; }
  // memcached's set_noreply_maybe(): the last real token is exactly "noreply".
  bool last_is_noreply() const { return n > 0 && tok[n - 1] == "noreply"; }
};

inline void tokenize(std::string_view line, Tokens* t) {
  t->n = 0;
  t->has_rest = false;
  t->rest = {};
  const char* p = line.data();
  const char* end = p + line.size();
  const char* s = p;
  for (; p < end; ++p) {
    if (*p != ' ') continue;
    if (s != p) {
      t->tok[t->n++] = std::string_view(s, p - s);
      if (t->n == Tokens::kMax) {
        ++p;
        if (p < end) {
          t->rest = std::string_view(p, end - p);
          t->has_rest = true;
        }
        return;
      }
    }
    s = p + 1;
  }
  if (s != p) t->tok[t->n++] = std::string_view(s, p - s);
}

}  // namespace memshield::protocol::text
