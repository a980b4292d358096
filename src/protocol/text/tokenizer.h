// memcached's command-line tokenizer: split on single spaces (never tabs), at most 23 tokens,
// the unsplit remainder kept for multi-key gets. Reproduced exactly because token counts decide
// which error a malformed line gets.
#pragma once

#include <cstddef>
#include <string_view>

#include "protocol/text/scan.h"

namespace memshield::protocol::text {

struct Tokens {
  static constexpr size_t kMax = 23;  // memcached: MAX_TOKENS 24, one slot for the terminal
  // Only tok[0, n) is ever set or read (every parser checks the count first). A member of an
  // anonymous union is not initialized by the constructor: zeroing all 23 views cost about 50
  // instructions per request (callgrind, a set line).
  union {
    std::string_view tok[kMax];
  };
  size_t n = 0;            // real tokens
  std::string_view rest;   // text after the 23rd token's separator, if any
  bool has_rest = false;

  Tokens() {}  // NOLINT(modernize-use-equals-default): "= default" would be deleted (the union)
  // memcached counts a terminal token too; its arity checks are written in those terms.
  size_t memcached_count() const { return n + 1; }
  // memcached's set_noreply_maybe(): the last real token is exactly "noreply".
  bool last_is_noreply() const { return n > 0 && tok[n - 1] == "noreply"; }
};

// next_space() finds each separator 16 bytes at a time (a multi-key get is mostly key bytes: a
// byte-by-byte loop spent most of the parse there, and libc's memchr most of the rest in call
// set-up).
inline void tokenize(std::string_view line, Tokens* t) {
  t->n = 0;
  t->has_rest = false;
  t->rest = {};
  const char* p = line.data();
  const char* const end = p + line.size();
  while (p < end) {
    const char* const tok_end = next_space(p, end);
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
    if (tok_end == end) return;
    p = tok_end + 1;
  }
}

}  // namespace memshield::protocol::text
