// The text session end to end against a real store: answers, noreply, values split across
// reads, swallowing of refused values, back-pressure.
#include "engine/text_session.h"

#include <gtest/gtest.h>

#include <string>

#include "engine_fixture.h"

namespace memshield::engine {
namespace {

class TextSessionTest : public EngineFixture<NullHooks> {
 protected:
  // Feeds `in` in chunks of `chunk` bytes to a new session and returns everything answered.
  std::string run(std::string_view in, size_t chunk = SIZE_MAX, bool* closed = nullptr) {
    OutBuffer out;
    TextSession s(ctx_, stats_, 7);
    if (feed_in_chunks(s, in, chunk, out) && closed) *closed = true;
    return out.to_string();
  }
};

TEST_F(TextSessionTest, SetGetDelete) {
  EXPECT_EQ(run("set a 5 0 3\r\nabc\r\nget a b\r\ndelete a\r\ndelete a\r\n"),
            "STORED\r\nVALUE a 5 3\r\nabc\r\nEND\r\nDELETED\r\nNOT_FOUND\r\n");
  EXPECT_EQ(stats_.cmd_set.get(), 1u);
  EXPECT_EQ(stats_.get_hits.get(), 1u);
  EXPECT_EQ(stats_.get_misses.get(), 1u);
}

TEST_F(TextSessionTest, SameAnswersWhateverTheChunking) {
  std::string script =
      "set k 0 0 5\r\nhello\r\nappend k 0 0 1\r\n!\r\ngets k\r\nincr n 1\r\nset n 0 0 3\r\n100"
      "\r\ndecr n 1\r\nget n k\r\nbogus\r\ntouch k 100\r\nversion\r\n";
  std::string whole = run(script);
  store_->flush(0);
  clock_.advance_for_testing(1);
  std::string bytewise = run(script, 1);
  auto strip_cas = [](std::string s) {
    size_t p = s.find("VALUE k 0 6 ");
    if (p != std::string::npos) s.erase(p + 12, s.find("\r\n", p) - (p + 12));
    return s;
  };
  EXPECT_EQ(strip_cas(whole), strip_cas(bytewise));
  EXPECT_NE(whole.find("VALUE n 0 3\r\n99 \r\n"), std::string::npos) << whole;
  EXPECT_NE(whole.find("VERSION 1.6.18\r\n"), std::string::npos);
}

TEST_F(TextSessionTest, NoreplySuppressesEverythingIncludingErrors) {
  // The bad set's error is suppressed too; its data line then reads as an unknown command.
  EXPECT_EQ(run("set a 0 0 1 noreply\r\nx\r\nset a b 0 1 noreply\r\ny\r\nget a\r\n"),
            "ERROR\r\nVALUE a 0 1\r\nx\r\nEND\r\n");
}

TEST_F(TextSessionTest, BadDataChunkKeepsConnection) {
  EXPECT_EQ(run("set a 0 0 3\r\nab\r\n\r\nget a\r\n"),
            "CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n");
}

TEST_F(TextSessionTest, TooLargeIsSwallowedAndOldValueDropped) {
  std::string big(1048517, 'x');
  std::string out = run("set a 0 0 1\r\n1\r\nset a 0 0 1048517\r\n" + big + "\r\nget a\r\n", 4096);
  EXPECT_EQ(out, "STORED\r\nSERVER_ERROR object too large for cache\r\nEND\r\n");
  std::string fits(1048516, 'y');
  out = run("set a 0 0 1048516\r\n" + fits + "\r\n", 100000);
  EXPECT_EQ(out, "STORED\r\n");
}

TEST_F(TextSessionTest, GarbageLineCloses) {
  bool closed = false;
  EXPECT_EQ(run(std::string(3000, 'x'), SIZE_MAX, &closed), "");
  EXPECT_TRUE(closed);
}

TEST_F(TextSessionTest, QuitCloses) {
  bool closed = false;
  EXPECT_EQ(run("version\r\nquit\r\nversion\r\n", SIZE_MAX, &closed), "VERSION 1.6.18\r\n");
  EXPECT_TRUE(closed);
}

TEST_F(TextSessionTest, CasFlow) {
  std::string out = run("cas a 0 0 1 1\r\nx\r\nset a 0 0 1\r\nx\r\ngets a\r\n");
  EXPECT_EQ(out.substr(0, 19), "NOT_FOUND\r\nSTORED\r\n");
  size_t p = out.find("VALUE a 0 1 ");
  ASSERT_NE(p, std::string::npos);
  std::string cas = out.substr(p + 12, out.find("\r\n", p) - p - 12);
  EXPECT_EQ(run("cas a 0 0 1 " + cas + "\r\ny\r\ncas a 0 0 1 " + cas + "\r\nz\r\n"),
            "STORED\r\nEXISTS\r\n");
}

// Without -Z the server keeps the hook's default answer; errors ignore noreply, OK does not.
TEST_F(TextSessionTest, RefreshCerts) {
  EXPECT_EQ(run("refresh_certs\r\nrefresh_certs noreply\r\n"),
            "Error TLS not enabled\r\nError TLS not enabled\r\n");
  class Reloading : public NullHooks {
   public:
    bool refresh_certs(std::string* error) override {
      if (++calls == 3) *error = "Error loading the key: k : reason";
      return calls != 3;
    }
    int calls = 0;
  } reloading;
  ctx_.hooks = &reloading;
  EXPECT_EQ(run("refresh_certs\r\nrefresh_certs noreply\r\nrefresh_certs noreply\r\n"),
            "OK\r\nError loading the key: k : reason\r\n");
  EXPECT_EQ(reloading.calls, 3);
  ctx_.hooks = &hooks_;
}

TEST_F(TextSessionTest, BackPressureStopsEarly) {
  std::string value(100000, 'v');
  run("set big 0 0 100000\r\n" + value + "\r\n");
  OutBuffer out;
  TextSession s(ctx_, stats_, 1);
  std::string reqs;
  for (int i = 0; i < 100; ++i) reqs += "get big\r\n";
  TextSession::Result r = s.process(reqs, out, 1u << 20);
  EXPECT_LT(r.consumed, reqs.size());
  EXPECT_GT(out.size(), 1u << 20);
  EXPECT_LT(out.size(), (1u << 20) + 200000);
}

// stats-detail.t: with `stats detail on`, gets (hit or miss), sets (even refused ones) and
// deletes (found or not) are counted per key prefix; keys without the delimiter are not; off,
// nothing is counted.
TEST_F(TextSessionTest, DetailStatsCountPerPrefixOnlyWhileOn) {
  PrefixStats detail(':', false);
  ctx_.detail = &detail;
  run("set foo:1 0 0 1\r\nx\r\nget foo:1\r\n");
  EXPECT_EQ(detail.size(), 0u);
  detail.set_on(true);
  run("set foo:123 0 0 6\r\nfooval\r\nget foo:123 foo:124 plain\r\ndelete foo:125\r\n"
      "set bar:1 0 0 2000000\r\n");
  OutBuffer out;
  detail.dump(out);
  EXPECT_EQ(out.to_string(),
            "PREFIX foo get 2 hit 1 set 1 del 1\r\nPREFIX bar get 0 hit 0 set 1 del 0\r\nEND\r\n");
  detail.set_on(false);
  run("get foo:123\r\n");
  detail.reset();
  OutBuffer empty;
  detail.dump(empty);
  EXPECT_EQ(empty.to_string(), "END\r\n");
  ctx_.detail = nullptr;
}

// issue_61.t: with a request limit (-R) the session stops after that many requests while more
// wait, and says so (the worker then gives other connections a turn).
TEST_F(TextSessionTest, RequestLimitYieldsWithRequestsLeft) {
  TextSession s(ctx_, stats_, 7);
  OutBuffer out;
  std::string in;
  for (int i = 0; i < 3; ++i) in += "set k 0 0 1\r\nx\r\n";
  size_t pos = 0;
  int turns = 0, yields = 0;
  while (pos < in.size()) {
    TextSession::Result r = s.process(std::string_view(in).substr(pos), out, 4u << 20, 1);
    pos += r.consumed;
    ++turns;
    yields += r.yield;
  }
  EXPECT_EQ(turns, 3);
  EXPECT_EQ(yields, 2);
  EXPECT_EQ(out.to_string(), "STORED\r\nSTORED\r\nSTORED\r\n");
}

}  // namespace
}  // namespace memshield::engine
