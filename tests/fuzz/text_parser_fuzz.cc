// libFuzzer target for the text protocol's pure codec: find_line, parse_line and the tokenizer
// on arbitrary bytes. Beyond "no crash, no UB", it checks the promises the engine relies on:
// lines and tokens are views inside the input, keys of accepted commands fit memcached's 250
// bytes, and a storage command's vlen is the number the client sent.
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "fuzz_check.h"
#include "protocol/text/keys.h"
#include "protocol/text/parser.h"
#include "protocol/text/request.h"
#include "protocol/text/tokenizer.h"

namespace {

using memshield::protocol::text::Cmd;
using memshield::protocol::text::kKeyMaxLength;
using memshield::protocol::text::Line;
using memshield::protocol::text::LineStatus;
using memshield::protocol::text::Request;
using memshield::protocol::text::Tokens;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;  // an empty view may point anywhere
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

void check_tokens(std::string_view line) {
  Tokens t;
  memshield::protocol::text::tokenize(line, &t);
  FUZZ_CHECK(t.n <= Tokens::kMax);
  FUZZ_CHECK(!t.has_rest || t.n == Tokens::kMax);
  size_t token_bytes = 0;
  const char* prev_end = line.data();
  for (size_t i = 0; i < t.n; ++i) {
    std::string_view tok = t.tok[i];
    FUZZ_CHECK(!tok.empty());
    FUZZ_CHECK(inside(tok, line));
    FUZZ_CHECK(tok.find(' ') == std::string_view::npos);
    FUZZ_CHECK(tok.data() >= prev_end);  // in order, never overlapping
    prev_end = tok.data() + tok.size();
    token_bytes += tok.size();
  }
  // Every non-space byte before the unsplit rest belongs to exactly one token.
  size_t scanned = t.has_rest ? static_cast<size_t>(t.rest.data() - line.data()) : line.size();
  FUZZ_CHECK(!t.has_rest || inside(t.rest, line));
  size_t non_space = 0;
  for (size_t i = 0; i < scanned; ++i) non_space += line[i] != ' ';
  FUZZ_CHECK(non_space == token_bytes);
}

void check_request(std::string_view line) {
  Request req;
  memshield::protocol::text::parse_line(line, &req);
  Request again;
  memshield::protocol::text::parse_line(line, &again);
  FUZZ_CHECK(req.cmd == again.cmd && req.reply == again.reply && req.vlen == again.vlen);

  FUZZ_CHECK(inside(req.key, line) && inside(req.keys, line) && inside(req.args, line));
  if (req.cmd == Cmd::kReply) {
    // A fixed answer: never empty, never able to smuggle a line break into the output.
    FUZZ_CHECK(!req.reply.empty());
    FUZZ_CHECK(req.reply.find_first_of("\r\n") == std::string_view::npos);
    FUZZ_CHECK(req.reply.find('\0') == std::string_view::npos);
    return;
  }
  switch (req.cmd) {
    case Cmd::kGet:
    case Cmd::kGets:
    case Cmd::kGat:
    case Cmd::kGats: {
      size_t keys = 0;
      memshield::protocol::text::for_each_key(req.keys, [&](std::string_view key) {
        FUZZ_CHECK(!key.empty() && key.size() <= kKeyMaxLength);
        FUZZ_CHECK(key.find(' ') == std::string_view::npos);
        ++keys;
        return true;
      });
      // "get" alone is an ERROR; "gat 10" is a zero-key gat (memcached answers END), so only
      // get and gets must carry a key.
      FUZZ_CHECK(keys > 0 || req.cmd == Cmd::kGat || req.cmd == Cmd::kGats);
      break;
    }
    case Cmd::kDelete:
    case Cmd::kIncr:
    case Cmd::kDecr:
    case Cmd::kTouch:
      FUZZ_CHECK(!req.key.empty() && req.key.size() <= kKeyMaxLength);
      break;
    default:
      break;
  }
  if (memshield::protocol::text::is_storage(req.cmd)) {
    FUZZ_CHECK(!req.key.empty() && req.key.size() <= kKeyMaxLength);
    FUZZ_CHECK(req.key.find(' ') == std::string_view::npos);
    // The engine adds 2 for the CRLF; that must not overflow an int, as in memcached.
    FUZZ_CHECK(req.vlen <= static_cast<uint32_t>(INT_MAX - 2));
    Tokens t;
    memshield::protocol::text::tokenize(line, &t);
    FUZZ_CHECK(t.n >= 5);
    std::string_view len_tok = t.tok[4];
    if (all_digits(len_tok) && len_tok.size() <= 9) {
      uint32_t sent = 0;
      for (char c : len_tok) sent = sent * 10 + static_cast<uint32_t>(c - '0');
      FUZZ_CHECK(req.vlen == sent);
    }
  } else {
    FUZZ_CHECK(req.vlen == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const bool has_newline = memchr(data, '\n', size) != nullptr;

  Line first;
  LineStatus st = memshield::protocol::text::find_line(in, &first);
  FUZZ_CHECK(st != LineStatus::kLine || has_newline);
  FUZZ_CHECK(st != LineStatus::kTooLong ||
             (!has_newline && size > memshield::protocol::text::kMaxLineWithoutNewline));
  if (has_newline) FUZZ_CHECK(st == LineStatus::kLine);

  // Walk the input as a connection would, line by line.
  size_t pos = 0;
  while (pos < in.size()) {
    std::string_view rest = in.substr(pos);
    Line line;
    if (memshield::protocol::text::find_line(rest, &line) != LineStatus::kLine) break;
    FUZZ_CHECK(line.consumed >= 1 && line.consumed <= rest.size());
    FUZZ_CHECK(rest[line.consumed - 1] == '\n');
    FUZZ_CHECK(memchr(rest.data(), '\n', line.consumed - 1) == nullptr);
    FUZZ_CHECK(line.text.data() == rest.data() && line.text.size() < line.consumed);
    FUZZ_CHECK(line.text.find('\0') == std::string_view::npos);
    FUZZ_CHECK(line.text.find('\n') == std::string_view::npos);
    check_tokens(line.text);
    check_request(line.text);
    pos += line.consumed;
  }

  // The raw input as one line too: the parser must cope with bytes find_line never hands it.
  check_tokens(in);
  check_request(in);
  return 0;
}
