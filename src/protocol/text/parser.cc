// Text protocol parsing; see parser.h. The arity checks and the order of the checks within each
// command follow memcached 1.6's, since together they decide which error a bad line gets.
#include "protocol/text/parser.h"

#include <climits>
#include <cstring>

#include "common/number_parse.h"
#include "protocol/text/keys.h"
#include "protocol/text/meta_parser.h"
#include "protocol/text/tokenizer.h"

namespace memshield::protocol::text {
namespace {

constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument";

void reply(Request* r, std::string_view text) {
  r->cmd = Cmd::kReply;
  r->reply = text;
}

// The line from the start of token i to its end: the keys of a get.
std::string_view from_token(std::string_view line, const Tokens& t, size_t i) {
  if (i >= t.n) return {};
  return line.substr(t.tok[i].data() - line.data());
}

bool keys_ok(std::string_view keys) {
  bool ok = true;
  for_each_key(keys, [&](std::string_view key) { return ok = key.size() <= kKeyMaxLength; });
  return ok;
}

void parse_get(std::string_view line, const Tokens& t, Cmd cmd, Request* r) {
  r->cmd = cmd;
  size_t first_key = 1;
  if (cmd == Cmd::kGat || cmd == Cmd::kGats) {
    if (!parse_i32(t.tok[1], &r->exptime)) return reply(r, kBadExptime);
    first_key = 2;
  }
  r->keys = from_token(line, t, first_key);
  // The tokens are the keys already split; only past the 23rd token is there more to walk.
  for (size_t i = first_key; i < t.n; ++i) {
    if (t.tok[i].size() > kKeyMaxLength) return reply(r, kBadFormat);
  }
  if (t.has_rest && !keys_ok(t.rest)) return reply(r, kBadFormat);
}

void parse_update(const Tokens& t, Cmd cmd, Request* r) {
  r->noreply = t.last_is_noreply();
  if (t.tok[1].size() > kKeyMaxLength) return reply(r, kBadFormat);
  r->key = t.tok[1];
  int32_t vlen = 0;
  if (!parse_u32(t.tok[2], &r->flags) || !parse_i32(t.tok[3], &r->exptime) ||
      !parse_i32(t.tok[4], &vlen)) {
    return reply(r, kBadFormat);
  }
  if (cmd == Cmd::kCas && !parse_u64(t.tok[5], &r->cas_unique)) return reply(r, kBadFormat);
  if (vlen < 0 || vlen > INT_MAX - 2) return reply(r, kBadFormat);
  r->vlen = static_cast<uint32_t>(vlen);
  r->cmd = cmd;
}

void parse_arithmetic(const Tokens& t, Cmd cmd, Request* r) {
  r->noreply = t.last_is_noreply();
  if (t.tok[1].size() > kKeyMaxLength) return reply(r, kBadFormat);
  r->key = t.tok[1];
  if (!parse_u64(t.tok[2], &r->delta)) {
    return reply(r, "CLIENT_ERROR invalid numeric delta argument");
  }
  r->cmd = cmd;
}

void parse_touch(const Tokens& t, Request* r) {
  r->noreply = t.last_is_noreply();
  if (t.tok[1].size() > kKeyMaxLength) return reply(r, kBadFormat);
  r->key = t.tok[1];
  if (!parse_i32(t.tok[2], &r->exptime)) return reply(r, kBadExptime);
  r->cmd = Cmd::kTouch;
}

void parse_delete(const Tokens& t, Request* r) {
  size_t nt = t.memcached_count();
  if (nt > 3) {
    bool hold_is_zero = t.tok[2] == "0";
    r->noreply = t.last_is_noreply();
    bool valid = (nt == 4 && (hold_is_zero || r->noreply)) ||
                 (nt == 5 && hold_is_zero && r->noreply);
    if (!valid) {
      return reply(r, "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]");
    }
  }
  if (t.tok[1].size() > kKeyMaxLength) return reply(r, kBadFormat);
  r->key = t.tok[1];
  r->cmd = Cmd::kDelete;
}

void parse_flush_all(const Tokens& t, Request* r) {
  r->noreply = t.last_is_noreply();
  r->cmd = Cmd::kFlushAll;
  if (t.memcached_count() != (r->noreply ? 3u : 2u)) {
    if (!parse_i32(t.tok[1], &r->exptime)) return reply(r, kBadExptime);
    r->has_delay = true;
  }
}

void parse_verbosity(const Tokens& t, Request* r) {
  r->noreply = t.last_is_noreply();
  if (!parse_u32(t.tok[1], &r->verbosity)) return reply(r, kBadFormat);
  r->cmd = Cmd::kVerbosity;
}

bool arity(const Tokens& t, size_t a, size_t b) {
  size_t nt = t.memcached_count();
  return nt == a || nt == b;
}

// "cache_memlimit <MB> [noreply]": memcached 1.6.18 reads the number as an unsigned long
// (digits only; overflow is ERROR), keeps its low 32 bits, and then refuses below 8 and above
// 1,000,000,000 megabytes, with these strings.
void parse_cache_memlimit(const Tokens& t, Request* r) {
  r->noreply = t.last_is_noreply();
  uint32_t mb = 0;
  if (!parse_u32(t.tok[1], &mb)) return reply(r, "ERROR");
  if (mb < 8) return reply(r, "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
  if (mb > 1000000000) {
    return reply(r, "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
  }
  r->cmd = Cmd::kCacheMemlimit;
  r->delta = mb;
}

// "slabs automove <0-2>" and "slabs reassign <src> <dst>", with memcached's answers and checks.
// memshield has no slab classes to move pages between: a reassign between two valid classes
// finds no spare page, and automove has nothing to act on, so its OK changes nothing.
void parse_slabs(const Tokens& t, Request* r) {
  constexpr int32_t kMaxClass = 63;  // memcached's largest slab class id
  const size_t nt = t.memcached_count();
  r->noreply = t.last_is_noreply();
  if ((nt == 4 || nt == 5) && t.tok[1] == "automove") {
    uint32_t level = 0;
    if (!parse_u32(t.tok[2], &level)) return reply(r, kBadFormat);
    return reply(r, level <= 2 ? "OK" : "ERROR");
  }
  if ((nt == 5 || (nt == 6 && r->noreply)) && t.tok[1] == "reassign") {
    int32_t src = 0, dst = 0;
    if (!parse_i32(t.tok[2], &src) || !parse_i32(t.tok[3], &dst)) return reply(r, kBadFormat);
    if (src == dst) return reply(r, "SAME src and dst class are identical");
    if (src < 0 || src > kMaxClass || dst < 0 || dst > kMaxClass) {
      return reply(r, "BADCLASS invalid src or dst class id");
    }
    return reply(r, "NOSPARE source class has no spare pages");
  }
  r->noreply = false;
  reply(r, "ERROR");
}

// "get <keys>" and "gets <keys>", the commonest lines, without the tokenizer: it would store a
// view per key that nobody reads (the engine walks the keys again as it answers). The outcome
// is the tokenizer path's: ERROR without a key, the format error if any key is too long. Lines
// that start otherwise (leading spaces, "gat", ...) take the general path.
bool parse_plain_get(std::string_view line, Request* r) {
  size_t skip;
  if (line.starts_with("get ")) {
    r->cmd = Cmd::kGet;
    skip = 4;
  } else if (line.starts_with("gets ")) {
    r->cmd = Cmd::kGets;
    skip = 5;
  } else {
    return false;
  }
  r->keys = line.substr(skip);
  if (r->keys.find_first_not_of(' ') == std::string_view::npos) {
    reply(r, "ERROR");
  } else if (!keys_ok(r->keys)) {
    reply(r, kBadFormat);
  }
  return true;
}

}  // namespace

LineStatus find_line(std::string_view in, Line* line) {
  const char* start = in.data();
  const char* nl = static_cast<const char*>(memchr(start, '\n', in.size()));
  if (nl == nullptr) {
    if (in.size() <= kMaxLineWithoutNewline) return LineStatus::kNeedMore;
    // Only a large multi-get may be this long (memcached's rule); anything else is garbage.
    size_t i = 0;
    while (i < in.size() && in[i] == ' ') ++i;
    std::string_view rest = in.substr(i);
    bool is_get = rest.substr(0, 4) == "get " || rest.substr(0, 5) == "gets ";
    if (i > 100 || !is_get || in.size() > kMaxGetLine) return LineStatus::kTooLong;
    return LineStatus::kNeedMore;
  }
  size_t len = nl - start;
  line->consumed = len + 1;
  if (len > 1 && start[len - 1] == '\r') --len;
  const char* nul = static_cast<const char*>(memchr(start, '\0', len));
  if (nul != nullptr) len = nul - start;
  line->text = std::string_view(start, len);
  return LineStatus::kLine;
}

void parse_line(std::string_view line, Request* r) {
  *r = Request{};
  if (parse_plain_get(line, r)) return;
  Tokens t;
  tokenize(line, &t);
  if (t.n == 0 || t.tok[0].size() < 2) return reply(r, "ERROR");
  std::string_view c = t.tok[0];
  const size_t nt = t.memcached_count();
  if (is_meta_command(c)) {
    r->cmd = Cmd::kMeta;
    r->args = line;
    return;
  }
  switch (c[0]) {
    case 'g':
      if (nt < 3) return reply(r, "ERROR");
      if (c == "get") return parse_get(line, t, Cmd::kGet, r);
      if (c == "gets") return parse_get(line, t, Cmd::kGets, r);
      if (c == "gat") return parse_get(line, t, Cmd::kGat, r);
      if (c == "gats") return parse_get(line, t, Cmd::kGats, r);
      return reply(r, "ERROR");
    case 's':
      if (c == "set") {
        if (!arity(t, 6, 7)) return reply(r, "ERROR");
        return parse_update(t, Cmd::kSet, r);
      }
      if (c == "stats") {
        r->cmd = Cmd::kStats;
        r->args = t.n > 1 ? from_token(line, t, 1) : std::string_view{};
        return;
      }
      if (c == "shield") {
        r->cmd = Cmd::kShield;
        r->args = t.n > 1 ? from_token(line, t, 1) : std::string_view{};
        return;
      }
      if (c == "slabs") return parse_slabs(t, r);
      if (c == "shutdown") {
        r->cmd = Cmd::kShutdown;
        r->args = t.n > 1 ? from_token(line, t, 1) : std::string_view{};
        return;
      }
      return reply(r, "ERROR");
    case 'a':
      if (c == "add" || c == "append") {
        if (!arity(t, 6, 7)) return reply(r, "ERROR");
        return parse_update(t, c == "add" ? Cmd::kAdd : Cmd::kAppend, r);
      }
      return reply(r, "ERROR");
    case 'c':
      if (c == "cas") {
        if (!arity(t, 7, 8)) return reply(r, "ERROR");
        return parse_update(t, Cmd::kCas, r);
      }
      if (c == "cache_memlimit") {
        if (!arity(t, 3, 4)) return reply(r, "ERROR");
        return parse_cache_memlimit(t, r);
      }
      return reply(r, "ERROR");
    case 'i':
      if (c == "incr") {
        if (!arity(t, 4, 5)) return reply(r, "ERROR");
        return parse_arithmetic(t, Cmd::kIncr, r);
      }
      return reply(r, "ERROR");
    case 'd':
      if (c == "delete") {
        if (nt < 3 || nt > 5) return reply(r, "ERROR");
        return parse_delete(t, r);
      }
      if (c == "decr") {
        if (!arity(t, 4, 5)) return reply(r, "ERROR");
        return parse_arithmetic(t, Cmd::kDecr, r);
      }
      return reply(r, "ERROR");
    case 'w':
      if (c == "watch") {
        r->cmd = Cmd::kWatch;
        r->noreply = t.last_is_noreply();
        r->args = t.n > 1 ? from_token(line, t, 1) : std::string_view{};
        return;
      }
      break;
    case 't':
      if (c == "touch") {
        if (!arity(t, 4, 5)) return reply(r, "ERROR");
        return parse_touch(t, r);
      }
      return reply(r, "ERROR");
    default:
      break;
  }
  if (c == "replace" || c == "prepend") {
    if (!arity(t, 6, 7)) return reply(r, "ERROR");
    return parse_update(t, c == "replace" ? Cmd::kReplace : Cmd::kPrepend, r);
  }
  if (c == "bget") {  // memcached still accepts this ancient alias of get
    if (nt < 3) return reply(r, "ERROR");
    return parse_get(line, t, Cmd::kGet, r);
  }
  if (c == "flush_all") {
    if (nt < 2 || nt > 4) return reply(r, "ERROR");
    return parse_flush_all(t, r);
  }
  if (c == "version") {
    r->cmd = Cmd::kVersion;
    return;
  }
  if (c == "quit") {
    r->cmd = Cmd::kQuit;
    return;
  }
  if (c == "verbosity") {
    if (!arity(t, 3, 4)) return reply(r, "ERROR");
    return parse_verbosity(t, r);
  }
  if (c == "lru_crawler" || c == "lru") {  // admin commands: the engine checks their words
    r->cmd = c == "lru" ? Cmd::kLru : Cmd::kLruCrawler;
    r->args = t.n > 1 ? from_token(line, t, 1) : std::string_view{};
    return;
  }
  if (c == "refresh_certs") {  // any further tokens are ignored, as memcached does
    r->cmd = Cmd::kRefreshCerts;
    r->noreply = t.last_is_noreply();
    return;
  }
  // An unknown command whose last word starts with "HTTP/" is someone speaking HTTP to the
  // cache: memcached hangs up without a word (malicious-commands.t), and so do we. Only on this
  // path: a known command letter (a, c, d, g, i, s, t) answers ERROR above, as memcached does.
  if (t.tok[t.n - 1].substr(0, 5) == "HTTP/") {
    r->cmd = Cmd::kQuit;
    r->args = t.tok[t.n - 1];  // not empty: a protocol error (watch connevents: reason=error)
    return;
  }
  return reply(r, "ERROR");
}

}  // namespace memshield::protocol::text
