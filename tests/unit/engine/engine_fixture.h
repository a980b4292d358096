// What the engine's session tests share: a real store on a hand-moved clock behind a Context,
// and the loop that feeds a session its input in chunks the way the network layer does.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/thread_stats.h"
#include "store/store.h"

namespace memshield::engine {

// Hooks that answer stats with an empty list, shield with ERROR, and count shutdowns.
class NullHooks : public Hooks {
 public:
  void stats(std::string_view, OutBuffer& out) override { out.append("END\r\n"); }
  void shutdown(bool) override { ++shutdowns; }
  void shield(std::string_view, const sockaddr_storage*, OutBuffer& out) override {
    out.append("ERROR\r\n");
  }
  int shutdowns = 0;
};

// A store of `memory_limit` bytes, its clock, `HooksT` and the Context wiring them together.
template <class HooksT>
class EngineFixture : public ::testing::Test {
 protected:
  explicit EngineFixture(size_t memory_limit = 64u << 20) {
    store::Config c;
    c.memory_limit = memory_limit;
    store_ = std::make_unique<store::Store>(c, clock_);
    ctx_.store = store_.get();
    ctx_.clock = &clock_;
    ctx_.hooks = &hooks_;
  }

  Clock clock_;
  std::unique_ptr<store::Store> store_;
  HooksT hooks_;
  Context ctx_;
  ThreadStats stats_;
};

// Feeds `in` to `session` `chunk` bytes at a time, keeping the bytes it has not consumed yet
// (as the network layer does), and stops once the session asks to close, which it returns.
template <class Session>
bool feed_in_chunks(Session& session, std::string_view in, size_t chunk, OutBuffer& out) {
  std::string pending;
  size_t pos = 0;
  while (pos < in.size()) {
    size_t n = std::min(chunk, in.size() - pos);
    pending.append(in.substr(pos, n));
    pos += n;
    typename Session::Result r = session.process(pending, out);
    pending.erase(0, r.consumed);
    if (r.close) return true;
  }
  return false;
}

}  // namespace memshield::engine
