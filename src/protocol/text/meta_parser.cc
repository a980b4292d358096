// Meta-protocol parsing; see meta_parser.h. The checks run in memcached 1.6.18's order (token
// count, key length, data length, flag count, then each flag), which decides the error a bad line
// gets; md and ma report every flag error with one generic string, as memcached does.
#include "protocol/text/meta_parser.h"

#include <climits>

#include "common/number_parse.h"
#include "protocol/text/tokenizer.h"

namespace memshield::protocol::text {
namespace {

constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
constexpr std::string_view kBadToken = "CLIENT_ERROR bad token in command line format";
constexpr size_t kMaxTokens = 20;  // memcached's MFLAG_MAX_OPT_LENGTH, terminal token included
constexpr size_t kMaxOpaque = 32;  // MFLAG_MAX_OPAQUE_LENGTH, the 'O' included

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Reads the flag tokens. Returns false on an error that stops parsing at once.
bool read_flags(const Tokens& t, size_t first, MetaRequest* r, std::string_view* err) {
  bool seen[128] = {};
  for (size_t i = first; i < t.n; ++i) {
    std::string_view tok = t.tok[i];
    auto o = static_cast<unsigned char>(tok[0]);
    std::string_view arg = tok.substr(1);
    switch (o) {
      case 'b':
        r->key_binary = true;
        break;
      case 'N':
        r->vivify = true;
        if (!parse_i32(arg, &r->vivify_ttl)) *err = kBadToken;
        break;
      case 'T':
        r->has_ttl = true;
        if (!parse_i32(arg, &r->ttl)) *err = kBadToken;
        break;
      case 'R':
        r->has_recache = true;
        if (!parse_i32(arg, &r->recache)) *err = kBadToken;
        break;
      case 'l':
      case 'O':
      case 'P':
      case 'L':
      case 'k':
      case 's':
      case 't':
      case 'c':
      case 'f':
      case 'h':
        break;
      case 'v':
        r->value = true;
        break;
      case 'u':
        r->no_update = true;
        break;
      case 'q':
        r->quiet = true;
        break;
      case 'F':
        if (!parse_u32(arg, &r->client_flags)) *err = kBadFormat;
        break;
      case 'C':
        r->has_cas = true;
        if (!parse_u64(arg, &r->cas)) *err = kBadToken;
        break;
      case 'M':
        if (tok.size() != 2) {
          *err = "CLIENT_ERROR incorrect length for M token";
        } else {
          r->mode = tok[1];
        }
        break;
      case 'J':
        if (!parse_u64(arg, &r->initial)) *err = "CLIENT_ERROR invalid numeric initial value";
        break;
      case 'D':
        if (!parse_u64(arg, &r->delta)) *err = "CLIENT_ERROR invalid numeric delta value";
        break;
      case 'I':
        r->invalidate = true;
        break;
      case 'x':  // md only: memcached 1.6.18 rejects it, 1.6.19+ empties the value
        if (r->cmd != MetaCmd::kDelete) {
          *err = "CLIENT_ERROR invalid flag";
          return false;
        }
        r->strip_value = true;
        break;
      default:
        *err = "CLIENT_ERROR invalid flag";
        return false;
    }
    if (seen[o]) {
      *err = "CLIENT_ERROR duplicate flag";
      return false;
    }
    seen[o] = true;
    r->flags[r->nflags++] = tok;
  }
  return true;
}

bool mode_ok(MetaCmd cmd, char m) {
  if (m == 0) return true;
  static constexpr std::string_view kSet = "EAPRS";  // memcached 1.6.18: upper case only
  static constexpr std::string_view kArith = "I+D-";
  return (cmd == MetaCmd::kSet ? kSet : kArith).find(m) != std::string_view::npos;
}

void fail(MetaRequest* r, std::string_view e, bool swallow = false) {
  r->error = e;
  r->swallow = swallow;
}

}  // namespace

size_t base64_decode(std::string_view in, char* out, size_t cap) {
  if (in.empty() || in.size() % 4 != 0) return 0;
  size_t n = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    int a = b64_value(in[i]), b = b64_value(in[i + 1]);
    if (a < 0 || b < 0) return 0;
    bool pad2 = in[i + 2] == '=', pad3 = in[i + 3] == '=';
    if (pad2 && !pad3) return 0;
    int c = pad2 ? 0 : b64_value(in[i + 2]);
    int d = pad3 ? 0 : b64_value(in[i + 3]);
    if (c < 0 || d < 0) return 0;
    size_t bytes = pad2 ? 1 : pad3 ? 2 : 3;
    if (n + bytes > cap) return 0;
    uint32_t v = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c) << 6) | uint32_t(d);
    out[n++] = static_cast<char>(v >> 16);
    if (bytes > 1) out[n++] = static_cast<char>((v >> 8) & 0xff);
    if (bytes > 2) out[n++] = static_cast<char>(v & 0xff);
    if (bytes < 3) break;  // memcached stops at the first padded quad
  }
  return n;
}

void base64_encode(std::string_view in, std::string* out) {
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v =
        (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out->push_back(kAlphabet[(v >> s) & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 0) return;
  uint32_t v = uint32_t(uint8_t(in[i])) << 16;
  if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
  out->push_back(kAlphabet[(v >> 18) & 63]);
  out->push_back(kAlphabet[(v >> 12) & 63]);
  out->push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
  out->push_back('=');
}

void parse_meta(std::string_view line, MetaRequest* r) {
  Tokens t;
  tokenize(line, &t);
  const size_t nt = t.has_rest ? Tokens::kMax + 2 : t.memcached_count();
  std::string_view c = t.n > 0 ? t.tok[0] : std::string_view{};
  if (!is_meta_command(c)) return fail(r, "ERROR");
  switch (c[1]) {
    case 'g':
      r->cmd = MetaCmd::kGet;
      break;
    case 's':
      r->cmd = MetaCmd::kSet;
      break;
    case 'd':
      r->cmd = MetaCmd::kDelete;
      break;
    case 'a':
      r->cmd = MetaCmd::kArith;
      break;
    case 'n':
      r->cmd = MetaCmd::kNoop;
      return;
    case 'e':
      r->cmd = MetaCmd::kDebug;
      if (nt < 3 || t.tok[1].size() > MetaRequest::kMaxKey) return fail(r, kBadFormat);
      r->key = t.tok[1];
      // memcached reads only an exact "b" right after the key; anything else is ignored.
      r->key_binary = t.n >= 3 && t.tok[2] == "b";
      if (r->key_binary) {
        size_t n = base64_decode(r->key, r->key_buf, sizeof(r->key_buf));
        if (n == 0) return fail(r, kBadFormat);
        r->key = std::string_view(r->key_buf, n);
      }
      return;
    default:
      return fail(r, "ERROR");
  }
  if (nt < 3) return fail(r, "ERROR");
  if (t.tok[1].size() > MetaRequest::kMaxKey) return fail(r, kBadFormat);
  r->key = t.tok[1];
  size_t first = 2;
  if (r->cmd == MetaCmd::kSet) {
    int32_t vlen = -1;
    if (nt == 3 || !parse_i32(t.tok[2], &vlen) || vlen < 0 || vlen > INT_MAX - 2) {
      return fail(r, kBadFormat);
    }
    r->vlen = static_cast<uint32_t>(vlen);
    first = 3;
  }
  if (nt > kMaxTokens) {
    return fail(r, r->cmd == MetaCmd::kGet ? "CLIENT_ERROR options flags are too long"
                                           : "CLIENT_ERROR options flags too long");
  }
  const bool generic = r->cmd == MetaCmd::kDelete || r->cmd == MetaCmd::kArith;
  const bool swallow = r->cmd == MetaCmd::kSet;
  std::string_view err;
  read_flags(t, first, r, &err);
  if (err.empty() && r->key_binary) {
    size_t n = base64_decode(r->key, r->key_buf, sizeof(r->key_buf));
    if (n == 0) {
      err = "CLIENT_ERROR error decoding key";
    } else {
      r->key = std::string_view(r->key_buf, n);
    }
  }
  if (!err.empty())
    return fail(r, generic ? "CLIENT_ERROR invalid or duplicate flag" : err, swallow);
  if ((r->cmd == MetaCmd::kSet || r->cmd == MetaCmd::kArith) && !mode_ok(r->cmd, r->mode)) {
    return fail(r,
                r->cmd == MetaCmd::kSet ? "CLIENT_ERROR invalid mode for ms M token"
                                        : "CLIENT_ERROR invalid mode for ma M token",
                swallow);
  }
  for (size_t i = 0; i < r->nflags; ++i) {
    if (r->flags[i][0] == 'O' && r->flags[i].size() > kMaxOpaque) {
      if (r->cmd == MetaCmd::kGet) {
        r->opaque_error_at = static_cast<size_t>(r->flags[i].data() - line.data());
      }
      return fail(r, "CLIENT_ERROR opaque token too long", swallow);
    }
  }
}

}  // namespace memshield::protocol::text
