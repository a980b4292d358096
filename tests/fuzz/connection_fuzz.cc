// libFuzzer target for a whole text-protocol connection: two engine::TextSessions sharing a real
// store::Store (1 MiB, 64 KiB items), fed the input in chunks at fuzzer-chosen boundaries, with
// the clock moved forward between chunks. Checks that every answer is a well-formed reply, that
// the store never passes its memory limit, and (through ASan/LSan) that nothing leaks or breaks.
//
// Input: byte 0 = configuration (bits 0-2: number of chunk descriptors, 3-4: output limit,
// 5: shutdown command on, 6: CAS off, 7: eviction off); then the descriptors; then the stream.
// Descriptor bits 0-5: chunk length - 1 (63: the whole rest), bit 6: which connection, bit 7:
// advance the clock by 2^(bits 0-5 mod 22) seconds and run the background reclaimer first.
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/log.h"
#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/text_session.h"
#include "engine/thread_stats.h"
#include "fuzz_check.h"
#include "reply_check.h"
#include "store/store.h"

namespace {

using namespace memshield;

class NoopHooks final : public engine::Hooks {
 public:
  void stats(std::string_view, OutBuffer& out) override { out.append("END\r\n"); }
  void shutdown(bool) override {}
  void shield(std::string_view, const sockaddr_storage*, OutBuffer& out) override {
    out.append("ERROR\r\n");
  }
};

constexpr size_t kOutLimits[4] = {4u << 20, 0, 64, 2048};

struct Conn {
  explicit Conn(engine::Context& ctx, engine::ThreadStats& stats, int id)
      : session(ctx, stats, id) {}
  engine::TextSession session;
  std::string pending;  // bytes received but not yet consumed, as the network layer keeps them
  bool closed = false;
};

// Hands `chunk` to the connection and drains its answers until it wants more input.
void feed(Conn& c, std::string_view chunk, size_t out_limit, const store::Store& store) {
  if (c.closed) return;
  c.pending.append(chunk);
  for (;;) {
    OutBuffer out;
    engine::TextSession::Result r = c.session.process(c.pending, out, out_limit);
    FUZZ_CHECK(r.consumed <= c.pending.size());
    fuzz::check_replies(out.to_string());
    store::Stats s = store.stats();
    FUZZ_CHECK(s.bytes <= s.limit_maxbytes);
    c.pending.erase(0, r.consumed);
    if (r.close) {
      c.closed = true;
      c.pending.clear();
      return;
    }
    if (r.consumed == 0) return;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  log::set_verbosity(0);  // `verbosity 2` in an earlier input must not flood the log
  const uint8_t config = data[0];
  size_t ndesc = config & 7;
  if (ndesc > size - 1) ndesc = size - 1;
  const uint8_t* desc = data + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1 + ndesc), size - 1 - ndesc);

  Clock clock;
  store::Config sc;
  sc.memory_limit = 1u << 20;
  sc.item_size_max = 64u << 10;
  sc.shards_log2 = 2;
  sc.use_cas = !(config & 0x40);
  sc.evict = !(config & 0x80);
  store::Store store(sc, clock);
  NoopHooks hooks;
  engine::Context ctx;
  ctx.store = &store;
  ctx.clock = &clock;
  ctx.hooks = &hooks;
  ctx.options.shutdown_command = (config & 0x20) != 0;
  engine::ThreadStats stats;
  Conn conns[2] = {Conn(ctx, stats, 1), Conn(ctx, stats, 2)};
  const size_t out_limit = kOutLimits[(config >> 3) & 3];

  size_t pos = 0;
  for (size_t i = 0; pos < stream.size(); ++i) {
    size_t len = stream.size() - pos;
    Conn* c = &conns[0];
    if (ndesc > 0) {
      const uint8_t d = desc[i % ndesc];
      if ((d & 0x3f) != 0x3f) len = std::min<size_t>(len, (d & 0x3f) + 1u);
      c = &conns[(d >> 6) & 1];
      if (d & 0x80) {
        clock.advance_for_testing(RelTime{1} << ((d & 0x3f) % 22));
        store.reclaim_expired(64);
      }
    }
    feed(*c, stream.substr(pos, len), out_limit, store);
    pos += len;
  }
  // Both connections end here, one possibly in the middle of a value: its unfinished item must
  // go back to the store (LeakSanitizer watches).
  return 0;
}
