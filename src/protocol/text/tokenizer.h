// memcached's command-line tokenizer: split on single spaces (never tabs), at most 23 tokens,
// the unsplit remainder kept for multi-key gets. Reproduced exactly because token counts decide
// which error a malformed line gets.
#pragma once

#include <cstddef>
#include <cstring>
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

// memchr finds each separator (a multi-key get is mostly key bytes: a byte-by-byte loop spent
// most of the parse there).
inline void tokenize(std::string_view line, Tokens* t) {
  t->n = 0;
  t->has_rest = false;
  t->rest = {};
  const char* p = line.data();
  const char* const end = p + line.size();
  while (p < end) {
    const auto* sp = static_cast<const char*>(memchr(p, ' ', static_cast<size_t>(end - p)));
    const char* tok_end = sp != nullptr ? sp : end;
    if (tok_end != p) {
      t->tok[t->n++] = std::string_view(p, static_cast<size_t>(tok_end - p));
      if (t->n == Tokens::kMax) {
        if (tok_end + 1 < end) {
          t->rest = std::string_view(tok_end + 1, static_cast<size_t>(end - tok_end - 1));
          t->has_rest = true;
        }
        return;
      }
    }
    if (sp == nullptr) return;
    p = sp + 1;
  }
}

}  // namespace memshield::protocol::text
