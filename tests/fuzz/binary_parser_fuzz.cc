// libFuzzer target for the binary protocol: the header codec and request checks on arbitrary
// headers, then a whole engine::BinarySession (real 1 MiB store) fed the input in fuzzer-chosen
// chunks. Checks that accepted requests keep their lengths consistent, that every answer is a
// well-formed response packet, and that a lying length never makes the session buffer or
// allocate more than the store allows.
//
// Input: byte 0 = configuration (bits 0-3: chunk size - 1 in bytes, 4: -S on, 5: chunk size
// x64); the rest is the byte stream of one connection.
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/log.h"
#include "common/out_buffer.h"
#include "engine/binary_session.h"
#include "engine/context.h"
#include "engine/thread_stats.h"
#include "fuzz_check.h"
#include "protocol/binary/header.h"
#include "store/store.h"

namespace {

using namespace memshield;
namespace bin = protocol::binary;

class NoopHooks final : public engine::Hooks {
 public:
  void stats(std::string_view args, OutBuffer& out) override {
    out.append(args.empty() ? "STAT pid 1\r\nEND\r\n" : "ERROR\r\n");
  }
  void shutdown(bool) override {}
  void shield(std::string_view, const sockaddr_storage*, OutBuffer&) override {}
  bool check_password(std::string_view user, std::string_view password) override {
    return user == "u" && password == "p";
  }
};

// The pure checks on the first 24 bytes, whatever they are.
void check_header(std::string_view in, bool sasl) {
  bin::Header h;
  if (!bin::decode_header(in, &h)) {
    FUZZ_CHECK(in.size() < bin::kHeaderSize);
    return;
  }
  char again[bin::kHeaderSize];
  bin::encode_header(h, again);
  FUZZ_CHECK(std::string_view(again, bin::kHeaderSize) == in.substr(0, bin::kHeaderSize));
  if (bin::check_request(h, sasl) != bin::Check::kOk) return;
  FUZZ_CHECK(uint64_t{h.key_length} + h.extras_length <= h.body_length);
  FUZZ_CHECK(h.key_length <= 250 || h.opcode == bin::op::kStat);
  if (!bin::has_value(h.opcode)) FUZZ_CHECK(h.body_length <= 255 + 65535 + 1024);
}

// Every byte the session wrote is a sequence of whole response packets.
void check_responses(const std::string& out) {
  size_t pos = 0;
  bin::Header h;
  while (bin::decode_header(std::string_view(out).substr(pos), &h)) {
    FUZZ_CHECK(h.magic == bin::kResponseMagic);
    FUZZ_CHECK(uint64_t{h.key_length} + h.extras_length <= h.body_length);
    pos += bin::kHeaderSize + h.body_length;
    FUZZ_CHECK(pos <= out.size());
  }
  FUZZ_CHECK(pos == out.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = (log::set_verbosity(0), true);
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t config = data[0];
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool sasl = config & 0x10;
  check_header(stream, sasl);

  Clock clock;
  store::Config sc;
  sc.memory_limit = 1u << 20;
  sc.item_size_max = 64u << 10;
  store::Store store(sc, clock);
  NoopHooks hooks;
  engine::Context ctx;
  ctx.store = &store;
  ctx.clock = &clock;
  ctx.hooks = &hooks;
  ctx.options.require_auth = sasl;
  engine::ThreadStats stats;
  engine::BinarySession session(ctx, stats, 1);

  size_t chunk = (config & 0x0f) + 1;
  if (config & 0x20) chunk *= 64;
  std::string pending;
  OutBuffer out;
  size_t pos = 0;
  bool closed = false;
  while (pos < stream.size() && !closed) {
    size_t n = std::min(chunk, stream.size() - pos);
    pending.append(stream.substr(pos, n));
    pos += n;
    engine::BinarySession::Result r = session.process(pending, out, 1u << 16);
    FUZZ_CHECK(r.consumed <= pending.size());
    pending.erase(0, r.consumed);
    // Nothing the peer says makes the session hold more than one bounded request.
    FUZZ_CHECK(pending.size() <= bin::kHeaderSize + 255 + 65535 + 1024 + chunk);
    closed = r.close;
    if (out.size() > (1u << 20)) out.clear();
  }
  check_responses(out.to_string());
  FUZZ_CHECK(store.stats().bytes <= sc.memory_limit);
  return 0;
}
