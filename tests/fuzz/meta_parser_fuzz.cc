// libFuzzer target for the meta-protocol codec: parse_meta and the base64 key codec on arbitrary
// lines. Beyond "no crash, no UB", it checks what the engine relies on: an error is a single
// line with no line break, keys fit 250 bytes and point into the line or the decoded buffer,
// flag tokens are non-empty views of the line, and base64 round-trips what it decodes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "protocol/text/meta_parser.h"
#include "protocol/text/meta_request.h"
#include "protocol/text/parser.h"

namespace {

using memshield::protocol::text::MetaCmd;
using memshield::protocol::text::MetaRequest;

bool inside(std::string_view part, const char* base, size_t size) {
  if (part.empty()) return true;
  return part.data() >= base && part.data() + part.size() <= base + size;
}

void check_line(std::string_view line) {
  MetaRequest r;
  memshield::protocol::text::parse_meta(line, &r);
  if (!r.error.empty()) {
    FUZZ_CHECK(r.error.find_first_of("\r\n") == std::string_view::npos);
    FUZZ_CHECK(!r.swallow || r.cmd == MetaCmd::kSet);
    return;
  }
  FUZZ_CHECK(r.nflags <= MetaRequest::kMaxFlags);
  for (size_t i = 0; i < r.nflags; ++i) {
    FUZZ_CHECK(!r.flags[i].empty() && inside(r.flags[i], line.data(), line.size()));
  }
  if (r.cmd == MetaCmd::kNoop) return;
  FUZZ_CHECK(!r.key.empty() && r.key.size() <= MetaRequest::kMaxKey);
  if (r.key_binary) {
    FUZZ_CHECK(inside(r.key, r.key_buf, sizeof(r.key_buf)));
    std::string enc;
    memshield::protocol::text::base64_encode(r.key, &enc);
    char again[MetaRequest::kMaxKey];
    size_t n = memshield::protocol::text::base64_decode(enc, again, sizeof(again));
    FUZZ_CHECK(n == r.key.size() && memcmp(again, r.key.data(), n) == 0);
  } else {
    FUZZ_CHECK(inside(r.key, line.data(), line.size()));
  }
  if (r.cmd == MetaCmd::kSet) FUZZ_CHECK(r.vlen <= 0x7ffffffdu);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  while (pos < in.size()) {
    memshield::protocol::text::Line line;
    if (memshield::protocol::text::find_line(in.substr(pos), &line) !=
        memshield::protocol::text::LineStatus::kLine) {
      check_line(in.substr(pos, std::min<size_t>(in.size() - pos, 4096)));
      break;
    }
    check_line(line.text);
    pos += line.consumed;
  }
  return 0;
}
