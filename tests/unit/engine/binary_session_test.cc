// The binary session end to end against a real store: every opcode family, quiet batching,
// values split across reads, refused packets, SASL.
#include "engine/binary_session.h"
#include "engine/binary_stats.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_fixture.h"
#include "protocol/binary/header.h"

namespace memshield::engine {
namespace {

namespace bin = protocol::binary;

class FakeHooks : public Hooks {
 public:
  void stats(std::string_view args, OutBuffer& out) override {
    if (args.empty())
      out.append("STAT pid 42\r\nSTAT uptime 7\r\nEND\r\n");
    else if (args == "reset")
      out.append("RESET\r\n");
    else if (args == "detail on" || args == "detail off")
      out.append("OK\r\n");
    else if (args == "detail dump")
      out.append("PREFIX a get 1 hit 1 set 0 del 0\r\nEND\r\n");
    else if (args == "settings" || args == "items")
      out.append("STAT " + std::string(args) + " 1\r\nEND\r\n");
    else
      out.append("ERROR\r\n");
  }
  void shutdown(bool) override {}
  void shield(std::string_view, const sockaddr_storage*, OutBuffer& out) override {}
  bool check_password(std::string_view user, std::string_view password) override {
    return user == "u" && password == "p";
  }
};

struct Reply {
  uint8_t opcode;
  uint16_t status;
  uint32_t opaque;
  uint64_t cas;
  std::string extras, key, value;
};

std::string req(uint8_t opcode, std::string_view key = "", std::string_view extras = "",
                std::string_view value = "", uint64_t cas = 0, uint32_t opaque = 0) {
  bin::Header h;
  h.magic = bin::kRequestMagic;
  h.opcode = opcode;
  h.key_length = static_cast<uint16_t>(key.size());
  h.extras_length = static_cast<uint8_t>(extras.size());
  h.body_length = static_cast<uint32_t>(key.size() + extras.size() + value.size());
  h.opaque = opaque;
  h.cas = cas;
  std::string s(bin::kHeaderSize, '\0');
  bin::encode_header(h, s.data());
  return s.append(extras).append(key).append(value);
}

std::string be32(uint32_t v) {
  std::string s(4, '\0');
  bin::store_be32(s.data(), v);
  return s;
}
std::string be64(uint64_t v) {
  std::string s(8, '\0');
  bin::store_be64(s.data(), v);
  return s;
}
std::string set_extras(uint32_t flags, uint32_t exptime) { return be32(flags) + be32(exptime); }
std::string delta_extras(uint64_t by, uint64_t initial, uint32_t exptime) {
  return be64(by) + be64(initial) + be32(exptime);
}

std::vector<Reply> parse(const std::string& s) {
  std::vector<Reply> out;
  size_t pos = 0;
  bin::Header h;
  while (bin::decode_header(std::string_view(s).substr(pos), &h)) {
    EXPECT_EQ(h.magic, bin::kResponseMagic);
    std::string_view body = std::string_view(s).substr(pos + bin::kHeaderSize, h.body_length);
    out.push_back({h.opcode, h.vbucket_or_status, h.opaque, h.cas,
                   std::string(body.substr(0, h.extras_length)),
                   std::string(body.substr(h.extras_length, h.key_length)),
                   std::string(body.substr(h.extras_length + h.key_length))});
    pos += bin::kHeaderSize + h.body_length;
  }
  EXPECT_EQ(pos, s.size());
  return out;
}

class BinarySessionTest : public EngineFixture<FakeHooks> {
 protected:
  std::vector<Reply> run(std::string_view in, size_t chunk = SIZE_MAX, bool* closed = nullptr) {
    OutBuffer out;
    BinarySession s(ctx_, stats_, 3);
    if (feed_in_chunks(s, in, chunk, out) && closed) *closed = true;
    return parse(out.to_string());
  }
};

TEST_F(BinarySessionTest, SetGetAndKeyedGet) {
  auto r = run(req(bin::op::kSet, "k", set_extras(5, 0), "val") + req(bin::op::kGet, "k") +
               req(bin::op::kGetK, "k", "", "", 0, 77));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status, 0);
  EXPECT_NE(r[0].cas, 0u);
  EXPECT_EQ(r[1].extras, be32(5));
  EXPECT_EQ(r[1].value, "val");
  EXPECT_EQ(r[1].key, "");
  EXPECT_EQ(r[1].cas, r[0].cas);
  EXPECT_EQ(r[2].key, "k");
  EXPECT_EQ(r[2].opaque, 77u);
}

TEST_F(BinarySessionTest, SplitAcrossReadsByteByByte) {
  std::string value(3000, 'v');
  auto r = run(req(bin::op::kSet, "key", set_extras(0, 0), value) + req(bin::op::kGet, "key"), 1);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].value, value);
}

TEST_F(BinarySessionTest, MissesAndErrorsCarryMemcachedsText) {
  auto r = run(req(bin::op::kGet, "no") + req(bin::op::kGetK, "no") +
               req(bin::op::kSet, "k", set_extras(0, 0), "1") +
               req(bin::op::kAdd, "k", set_extras(0, 0), "1") +
               req(bin::op::kReplace, "no", set_extras(0, 0), "1") +
               req(bin::op::kAppend, "no", "", "x") + req(bin::op::kDelete, "no") +
               req(bin::op::kSet, "k", set_extras(0, 0), "1", 999) + req(0x55));
  ASSERT_EQ(r.size(), 9u);
  EXPECT_EQ(r[0].status, 1);
  EXPECT_EQ(r[0].value, "Not found");
  EXPECT_EQ(r[1].status, 1);
  EXPECT_EQ(r[1].key, "no");
  EXPECT_EQ(r[1].value, "");
  EXPECT_EQ(r[3].status, 2);
  EXPECT_EQ(r[3].value, "Data exists for key.");
  EXPECT_EQ(r[4].status, 1);
  EXPECT_EQ(r[5].status, 5);
  EXPECT_EQ(r[5].value, "Not stored.");
  EXPECT_EQ(r[6].status, 1);
  EXPECT_EQ(r[7].status, 2);
  EXPECT_EQ(r[8].status, 0x81);
  EXPECT_EQ(r[8].value, "Unknown command");
}

TEST_F(BinarySessionTest, QuietVariantsSuppressSuccessAndMisses) {
  auto r = run(req(bin::op::kSetQ, "a", set_extras(0, 0), "1") +
               req(bin::op::kAddQ, "a", set_extras(0, 0), "1") +  // exists: answered
               req(bin::op::kGetQ, "missing") + req(bin::op::kGetKQ, "a") +
               req(bin::op::kIncrementQ, "a", delta_extras(1, 0, 0)) +
               req(bin::op::kDeleteQ, "missing") + req(bin::op::kDeleteQ, "a") +
               req(bin::op::kFlushQ) + req(bin::op::kNoop));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].opcode, bin::op::kAddQ);
  EXPECT_EQ(r[0].status, 2);
  EXPECT_EQ(r[1].opcode, bin::op::kGetKQ);
  EXPECT_EQ(r[1].value, "1");
  EXPECT_EQ(r[2].opcode, bin::op::kDeleteQ);
  EXPECT_EQ(r[2].status, 1);
  EXPECT_EQ(r[3].opcode, bin::op::kNoop);
}

TEST_F(BinarySessionTest, IncrDecrWithInitialValue) {
  auto r = run(req(bin::op::kIncrement, "n", delta_extras(5, 10, 0)) +
               req(bin::op::kIncrement, "n", delta_extras(5, 10, 0)) +
               req(bin::op::kDecrement, "n", delta_extras(100, 0, 0)) +
               req(bin::op::kIncrement, "m", delta_extras(1, 0, 0xffffffff)) +
               req(bin::op::kSet, "s", set_extras(0, 0), "abc") +
               req(bin::op::kIncrement, "s", delta_extras(1, 0, 0)));
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].value, be64(10));
  EXPECT_EQ(r[1].value, be64(15));
  EXPECT_EQ(r[2].value, be64(0));
  EXPECT_EQ(r[3].status, 1);
  EXPECT_EQ(r[5].status, 6);
  EXPECT_EQ(r[5].value, "Non-numeric server-side value for incr or decr");
}

// memcached rewrites a shorter incr/decr result in place, padded, unless a get/touch reply of the
// same input still references the item: then the item is replaced, unpadded (difffuzz).
TEST_F(BinarySessionTest, DeltaOnAnItemReadInTheSameInputIsNotInPlace) {
  run(req(bin::op::kSet, "h", set_extras(0, 0), "100") +
      req(bin::op::kSet, "f", set_extras(0, 0), "100") +
      req(bin::op::kSet, "g", set_extras(0, 0), "100"));
  run(req(bin::op::kGetQ, "h") + req(bin::op::kDecrement, "h", delta_extras(1, 0, 0)) +
      req(bin::op::kDecrement, "h", delta_extras(94, 0, 0)));
  EXPECT_EQ(run(req(bin::op::kGet, "h"))[0].value, "5 ");  // 99 replaced "100"; 5 padded in it
  run(req(bin::op::kDecrement, "f", delta_extras(95, 0, 0)));
  EXPECT_EQ(run(req(bin::op::kGet, "f"))[0].value, "5  ");
  // A noop makes memcached write what it has queued: the item is no longer referenced.
  run(req(bin::op::kGetQ, "g") + req(bin::op::kNoop) +
      req(bin::op::kDecrement, "g", delta_extras(95, 0, 0)));
  EXPECT_EQ(run(req(bin::op::kGet, "g"))[0].value, "5  ");
  // So does an error reply (here a miss), but not a quiet miss, which sends nothing.
  run(req(bin::op::kSet, "g", set_extras(0, 0), "100") +
      req(bin::op::kSet, "e", set_extras(0, 0), "100"));
  run(req(bin::op::kGetQ, "g") + req(bin::op::kTouch, "nope", be32(0)) +
      req(bin::op::kDecrement, "g", delta_extras(95, 0, 0)) + req(bin::op::kGetQ, "e") +
      req(bin::op::kGetKQ, "nope") + req(bin::op::kDecrement, "e", delta_extras(95, 0, 0)));
  EXPECT_EQ(run(req(bin::op::kGet, "g"))[0].value, "5  ");
  EXPECT_EQ(run(req(bin::op::kGet, "e"))[0].value, "5");
  // A keyed miss (getk/gatk) is not an error write: the item stays referenced.
  run(req(bin::op::kSet, "g", set_extras(0, 0), "100"));
  run(req(bin::op::kGetQ, "g") + req(bin::op::kGetK, "nope") +
      req(bin::op::kDecrement, "g", delta_extras(95, 0, 0)));
  EXPECT_EQ(run(req(bin::op::kGet, "g"))[0].value, "5");
}

TEST_F(BinarySessionTest, TouchAndGat) {
  auto r = run(req(bin::op::kSet, "k", set_extras(7, 0), "v") +
               req(bin::op::kTouch, "k", be32(100)) + req(bin::op::kGat, "k", be32(100)) +
               req(bin::op::kGatKQ, "no", be32(100)) + req(bin::op::kTouch, "no", be32(1)));
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[1].extras, be32(7));
  EXPECT_EQ(r[1].value, "");
  EXPECT_EQ(r[2].value, "v");
  EXPECT_EQ(r[3].status, 1);
}

TEST_F(BinarySessionTest, TooLargeIsSwallowedWithoutAllocating) {
  bin::Header h;
  h.magic = bin::kRequestMagic;
  h.opcode = bin::op::kSet;
  h.key_length = 1;
  h.extras_length = 8;
  h.body_length = 0xffffffff;
  std::string p(bin::kHeaderSize, '\0');
  bin::encode_header(h, p.data());
  p += set_extras(0, 0) + "k" + std::string(5000, 'x');
  bool closed = false;
  auto r = run(p, 700, &closed);
  // 4 GB announced: memcached answers at once (its length turns negative); the value is still
  // discarded, not run as requests.
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 3);
  EXPECT_EQ(r[0].value, "Too large.");
  EXPECT_FALSE(closed);
  EXPECT_EQ(store_->stats().curr_items, 0u);
}

// memcached 1.6.18 reads a refused value to its end before answering "Too large.", so a client
// that writes the whole request before reading (PHP's memcache) stays in step.
TEST_F(BinarySessionTest, TooLargeAnsweredAfterTheWholeValueThenInStep) {
  const std::string big((1u << 20) + 100, 'x');  // over the default -I 1m
  std::string set = req(bin::op::kSet, "big", set_extras(0, 0), big, 0, 77);
  OutBuffer out;
  BinarySession s(ctx_, stats_, 3);
  std::string_view in(set);
  const size_t cut = in.size() - 1;
  EXPECT_FALSE(feed_in_chunks(s, in.substr(0, cut), 4096, out));
  EXPECT_EQ(out.size(), 0u) << "answered before the value was read";
  EXPECT_FALSE(feed_in_chunks(s, std::string(in.substr(cut)) + req(bin::op::kGet, "big", "", "", 0, 78) +
                                     req(bin::op::kNoop), SIZE_MAX, out));
  auto r = parse(out.to_string());
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].opaque, 77u);
  EXPECT_EQ(r[0].status, 3);
  EXPECT_EQ(r[0].value, "Too large.");
  EXPECT_EQ(r[1].opaque, 78u);
  EXPECT_EQ(r[1].status, 1);
  EXPECT_EQ(r[2].opcode, bin::op::kNoop);
}

TEST_F(BinarySessionTest, LyingLengthsCloseTheConnection) {
  bool closed = false;
  std::string p = req(bin::op::kGet, "k");
  p[11] = 0;  // body length 0 < key length 1
  auto r = run(req(bin::op::kNoop) + p + req(bin::op::kNoop), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].status, 0x81);

  closed = false;
  r = run(req(bin::op::kGet, "k", "xxxx"), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].value, "Invalid arguments");

  closed = false;
  r = run(req(bin::op::kNoop) + "get k\r\n" + std::string(20, ' '), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(r.size(), 1u);
}

TEST_F(BinarySessionTest, StatsAsPairsEndingInAnEmptyPacket) {
  auto r = run(req(bin::op::kStat) + req(bin::op::kStat, "reset") + req(bin::op::kStat, "x"));
  ASSERT_EQ(r.size(), 5u);
  EXPECT_EQ(r[0].key, "pid");
  EXPECT_EQ(r[0].value, "42");
  EXPECT_EQ(r[2].key, "");
  EXPECT_EQ(r[2].value, "");
  EXPECT_EQ(r[3].key, "");
  EXPECT_EQ(r[4].status, 1);
}

// memcached 1.6.18 answers these STAT keys over binary (observed byte for byte): "detail on|off"
// and "reset" with one empty packet, "detail dump" with one "detailed" packet holding the text
// dump, "settings..." by prefix, and "Not found" for "detail", "conns", "cachedump" and the rest.
TEST_F(BinarySessionTest, StatGroupsAsMemcachedFramesThem) {
  auto r = run(req(bin::op::kStat, "detail on") + req(bin::op::kStat, "detail off") +
               req(bin::op::kStat, "detail dump") + req(bin::op::kStat, "settingsX") +
               req(bin::op::kStat, "items") + req(bin::op::kStat, "detail") +
               req(bin::op::kStat, "conns") + req(bin::op::kStat, "cachedump 1 1") +
               req(bin::op::kStat, "itemsX") + req(bin::op::kStat, "resetX"));
  ASSERT_EQ(r.size(), 13u);
  EXPECT_EQ(r[0].status, 0);
  EXPECT_EQ(r[0].key + r[0].value, "");
  EXPECT_EQ(r[1].key + r[1].value, "");
  EXPECT_EQ(r[2].key, "detailed");
  EXPECT_EQ(r[2].value, "PREFIX a get 1 hit 1 set 0 del 0\r\nEND\r\n");
  EXPECT_EQ(r[3].key + r[3].value, "");
  EXPECT_EQ(r[4].key, "settings");
  EXPECT_EQ(r[5].key, "");
  EXPECT_EQ(r[6].key, "items");
  EXPECT_EQ(r[7].key, "");
  for (int i = 8; i < 12; ++i) {
    EXPECT_EQ(r[i].status, 1) << i;
    EXPECT_EQ(r[i].value, "Not found") << i;
  }
  EXPECT_EQ(r[12].status, 0);
  EXPECT_EQ(r[12].key + r[12].value, "");
  EXPECT_EQ(route_stat_key("detail  on").form, StatForm::kNotFound);
  EXPECT_EQ(route_stat_key("detail onX").form, StatForm::kEmpty);
}

TEST_F(BinarySessionTest, VersionQuitAndQuietQuit) {
  bool closed = false;
  auto r =
      run(req(bin::op::kVersion) + req(bin::op::kQuit) + req(bin::op::kNoop), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].value, "1.6.18");
  closed = false;
  r = run(req(bin::op::kQuitQ), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(r.empty());
}

TEST_F(BinarySessionTest, SaslGuardsEverythingButVersionAndAuth) {
  ctx_.options.require_auth = true;
  bool closed = false;
  auto r = run(req(bin::op::kVersion) + req(bin::op::kGet, "k"), SIZE_MAX, &closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1].status, 0x20);
  EXPECT_EQ(r[1].value, "Auth failure.");

  using namespace std::string_literals;
  closed = false;
  r = run(req(bin::op::kSaslListMechs) + req(bin::op::kSaslAuth, "PLAIN", "", "\0u\0wrong"s) +
              req(bin::op::kSaslAuth, "PLAIN", "", "\0u\0p"s) + req(bin::op::kGet, "k"),
          SIZE_MAX, &closed);
  EXPECT_FALSE(closed);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].value, "PLAIN");
  EXPECT_EQ(r[1].status, 0x20);
  EXPECT_EQ(r[2].status, 0);
  EXPECT_EQ(r[2].value, "Authenticated");
  EXPECT_EQ(r[3].status, 1);
  EXPECT_EQ(stats_.auth_cmds.get(), 2u);
  EXPECT_EQ(stats_.auth_errors.get(), 1u);
}

TEST_F(BinarySessionTest, SaslOpcodesUnknownWithoutDashS) {
  auto r = run(req(bin::op::kSaslListMechs));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, 0x81);
}

}  // namespace
}  // namespace memshield::engine
