// Meta commands through a text session against a real store, with the clock moved by hand so
// the time-dependent return flags (t, l, me's exp/la) are checked exactly, which the
// differential suite can only compare loosely.
#include "engine/meta_commands.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/text_session.h"
#include "engine_fixture.h"

namespace memshield::engine {
namespace {

// One session for the whole test (the store's default 64 MiB), so state carries across run()s.
class MetaCommandsTest : public EngineFixture<NullHooks> {
 protected:
  std::string run(std::string_view in, size_t chunk = SIZE_MAX) {
    OutBuffer out;
    feed_in_chunks(session_, in, chunk, out);  // no meta test asks to close
    return out.to_string();
  }

  TextSession session_{ctx_, stats_, 1};
};

TEST_F(MetaCommandsTest, SetThenGetEchoesFlagsInOrder) {
  EXPECT_EQ(run("ms a 2 F5 T100 c k O9\r\nhi\r\n"), "HD c1 ka O9\r\n");
  EXPECT_EQ(run("mg a k O1 s v f c h t l\r\n"), "VA 2 ka O1 s2 f5 c1 h0 t100 l0\r\nhi\r\n");
  clock_.advance_for_testing(70);
  EXPECT_EQ(run("mg a t l h\r\n"), "HD t30 l70 h1\r\n");
  EXPECT_EQ(run("mg a t T50\r\nmg a T60 t\r\n"), "HD t30\r\nHD t60\r\n");
}

TEST_F(MetaCommandsTest, MissesQuietAndNoop) {
  EXPECT_EQ(run("mg nope v k O5\r\n"), "EN knope O5\r\n");
  EXPECT_EQ(run("mg nope q v\r\nmd nope q\r\nma nope q\r\nmn\r\n"), "NF\r\nNF\r\nMN\r\n");
  EXPECT_EQ(run("ms q1 1 q\r\nx\r\nms q1 1 q ME\r\nx\r\nmd q1 q\r\nmn\r\n"), "NS\r\nMN\r\n");
}

TEST_F(MetaCommandsTest, ValueSplitAcrossReads) {
  std::string script = "ms s 5 T0\r\nhello\r\nmg s v\r\nms s 1\r\nxyz\r\nmg s v\r\n";
  std::string want =
      "HD\r\nVA 5\r\nhello\r\nCLIENT_ERROR bad data chunk\r\nERROR\r\nVA 5\r\nhello\r\n";
  EXPECT_EQ(run(script, 1), want);
  EXPECT_EQ(run(script, 3), want);
}

TEST_F(MetaCommandsTest, ErrorsSwallowTheDataBlockOnlyWhenMemcachedDoes) {
  EXPECT_EQ(run("ms e 2 Tx\r\nhi\r\n"), "CLIENT_ERROR bad token in command line format\r\n");
  EXPECT_EQ(run("ms e xx\r\nhi\r\n"), "CLIENT_ERROR bad command line format\r\nERROR\r\n");
}

TEST_F(MetaCommandsTest, StaleWhileRevalidate) {
  run("ms w 3\r\nold\r\n");
  EXPECT_EQ(run("md w I T30\r\n"), "HD\r\n");
  EXPECT_EQ(run("mg w v c\r\n"), "VA 3 c2 X W\r\nold\r\n");
  EXPECT_EQ(run("mg w v c\r\n"), "VA 3 c2 Z X\r\nold\r\n");
  EXPECT_EQ(run("ms w 3 C1 I\r\nbad\r\nmg w v\r\n"), "HD\r\nVA 3 Z X\r\nbad\r\n");
  EXPECT_EQ(run("ms w 3\r\nnew\r\nmg w v\r\n"), "HD\r\nVA 3\r\nnew\r\n");
}

// memcached keeps the old item's TTL on a stale store (metaget.t "TTL wasn't modified"), whether
// or not the ms carries a T of its own.
TEST_F(MetaCommandsTest, StaleStoreKeepsTheOldTtl) {
  run("ms st 3\r\nmoo\r\n");
  EXPECT_EQ(run("md st I T30\r\n"), "HD\r\n");
  EXPECT_EQ(run("ms st 1 I T90 C1\r\nf\r\nmg st t v\r\n"), "HD\r\nVA 1 t30 X W\r\nf\r\n");
  EXPECT_EQ(run("ms st 1 I C1\r\ng\r\nmg st t v\r\n"), "HD\r\nVA 1 t30 Z X\r\ng\r\n");
  run("ms sn 3\r\nmoo\r\nmd sn I\r\n");
  EXPECT_EQ(run("ms sn 1 I T90 C1\r\nf\r\nmg sn t\r\n"), "HD\r\nHD t-1 X W\r\n");
}

// memcached applies mg's T and R in request order: R before T judges the old TTL (difffuzz).
TEST_F(MetaCommandsTest, RecacheAndTtlInRequestOrder) {
  run("ms rt 1 T5000\r\nx\r\nms tr 1 T5000\r\nx\r\n");
  EXPECT_EQ(run("mg rt R2000 T100 v\r\n"), "VA 1\r\nx\r\n");
  EXPECT_EQ(run("mg rt R2000 v\r\n"), "VA 1 W\r\nx\r\n");
  EXPECT_EQ(run("mg tr T100 R2000 v\r\n"), "VA 1 W\r\nx\r\n");
}

// me does not take the win token of a stale item: the next mg still wins (difffuzz).
TEST_F(MetaCommandsTest, MeDoesNotTakeTheWinToken) {
  run("ms m0 2\r\naa\r\nms m1 2\r\naa\r\n");
  EXPECT_EQ(run("ms m1 5 I C1\r\n0926g\r\n"), "HD\r\n");
  EXPECT_EQ(run("me m1\r\n").substr(0, 6), "ME m1 ");
  EXPECT_EQ(run("mg m1 v\r\nmg m1 v\r\n"), "VA 5 X W\r\n0926g\r\nVA 5 Z X\r\n0926g\r\n");
}

// memcached rewrites a shorter incr/decr result in place (padded with spaces) unless an mg hit of
// the same input (no mn since) answered the item, whose unsent reply still references it: then
// the result replaces the item, unpadded (difffuzz).
TEST_F(MetaCommandsTest, DeltaRightAfterMgIsNotInPlace) {
  run("set p1 0 0 3\r\n100\r\nset p2 0 0 3\r\n100\r\nset p3 0 0 3\r\n100\r\n");
  EXPECT_EQ(run("mg p1 s\r\ndecr p1 95\r\nget p1\r\n"), "HD s3\r\n5\r\nVALUE p1 0 1\r\n5\r\nEND\r\n");
  EXPECT_EQ(run("mg p2 s\r\nmn\r\ndecr p2 95\r\nmg p2 v\r\n"), "HD s3\r\nMN\r\n5\r\nVA 3\r\n5  \r\n");
  EXPECT_EQ(run("mg p3 s\r\nma p3 MD D95\r\nmg p3 v\r\n"), "HD s3\r\nHD\r\nVA 1\r\n5\r\n");
  run("set p5 0 0 3\r\n100\r\n");
  EXPECT_EQ(run("mg p5\r\ndecr p2 -1\r\ndecr p5 95\r\nmg p5 v\r\n"),
            "HD\r\nCLIENT_ERROR invalid numeric delta argument\r\n5\r\nVA 1\r\n5\r\n");
  // A get releases them (memcached writes out what it queued).
  run("set p6 0 0 3\r\n12 \r\n");
  EXPECT_EQ(run("mg p6 t\r\ngets nope\r\nma p6 D0 T100\r\nmg p6 v h\r\n"),
            "HD t-1\r\nEND\r\nHD\r\nVA 3 h1\r\n12 \r\n");
  run("set p4 0 0 3\r\n100\r\n");
  EXPECT_EQ(run("mg p4 s\r\n"), "HD s3\r\n");
  EXPECT_EQ(run("decr p4 95\r\nget p4\r\n"), "5\r\nVALUE p4 0 3\r\n5  \r\nEND\r\n");
}

// A vivified item (mg N, ma N) takes the TTL of whichever of N and T comes last; a TTL already
// past prints as memcached's unsigned 32-bit difference (difffuzz).
TEST_F(MetaCommandsTest, VivifyTtlIsTheLastOfNAndT) {
  EXPECT_EQ(run("mg v1 N100 T50 t\r\nmg v1 t\r\n"), "HD t50 W\r\nHD t50 Z\r\n");
  EXPECT_EQ(run("mg v2 T50 N100 t\r\n"), "HD t100 W\r\n");
  EXPECT_EQ(run("ma v3 N50 T100 J5 t v\r\nma v4 T100 N50 J5 t\r\n"),
            "VA 1 t100\r\n5\r\nHD t50\r\n");
  const std::string past = std::to_string(uint32_t{1} - clock_.now());
  EXPECT_EQ(run("mg v5 N100 T-1 t\r\nmg v5 s\r\n"), "HD t" + past + " W\r\nEN\r\n");
  EXPECT_EQ(run("ms v6 1\r\n5\r\nma v6 T-1 t\r\n"), "HD\r\nHD t" + past + "\r\n");
}

// mg and ma apply T and N in request order, and t shows the TTL as of its own position (difffuzz).
TEST_F(MetaCommandsTest, TtlFlagShowsTheTtlAsOfItsPosition) {
  EXPECT_EQ(run("mg o1 N100 t T50\r\nmg o1 t\r\n"), "HD t100 W\r\nHD t50 Z\r\n");
  EXPECT_EQ(run("ms o2 1 T50\r\n5\r\nma o2 t D2 N100 T100\r\nma o2 t\r\n"),
            "HD\r\nHD t50\r\nHD t100\r\n");
  EXPECT_EQ(run("ma o3 t N100 J5\r\nma o4 N100 J5 t T200\r\nma o4 t\r\n"),
            "HD t-1\r\nHD t100\r\nHD t200\r\n");
}

// Only ms makes an item remember that its key came base64-encoded; an item vivified by mg N or
// ma N does not (memcached's), so a later k echoes it plain (difffuzz).
TEST_F(MetaCommandsTest, VivifiedItemsDoNotRememberABase64Key) {
  EXPECT_EQ(run("ms azM= 1 b\r\nx\r\nmg k3 k\r\n"), "HD\r\nHD kazM= b\r\n");
  EXPECT_EQ(run("mg azQ= b N30 k\r\nmg k4 k\r\n"), "HD kk4 W\r\nHD kk4 Z\r\n");
  EXPECT_EQ(run("ma azU= b N0 J7 v\r\nma azU= b k\r\nmg k5 k\r\n"),
            "VA 1\r\n7\r\nHD kazU= b\r\nHD kk5\r\n");
}

TEST_F(MetaCommandsTest, VivifyAndRecache) {
  EXPECT_EQ(run("mg v t N30 v\r\nmg v t\r\n"), "VA 0 t-1 W\r\n\r\nHD t30 Z\r\n");
  EXPECT_EQ(run("mg v s\r\n"), "HD s0 Z\r\n");
  run("ms r 1 T100\r\nx\r\n");
  EXPECT_EQ(run("mg r R50\r\nmg r R200\r\nmg r R200\r\n"), "HD\r\nHD W\r\nHD Z\r\n");
}

TEST_F(MetaCommandsTest, Arithmetic) {
  EXPECT_EQ(run("ma n\r\nma n N0 J10 v t\r\nma n v D5\r\nma n MD D100 v\r\nma n q\r\nmn\r\n"),
            "NF\r\nVA 2 t-1\r\n10\r\nVA 2\r\n15\r\nVA 1\r\n0\r\nMN\r\n");
  run("ms x 1\r\nz\r\n");
  EXPECT_EQ(run("ma x\r\n"), "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
  EXPECT_EQ(run("ma n C999\r\n"), "EX\r\n");
}

TEST_F(MetaCommandsTest, DebugOutput) {
  run("ms d1 2\r\nhi\r\n");
  EXPECT_EQ(run("me d1\r\n"), "ME d1 exp=-1 la=0 cas=1 fetch=no cls=1 size=63\r\n");
  run("ms j1 1 F7 T100\r\nx\r\nmg j1\r\n");
  clock_.advance_for_testing(3);
  EXPECT_EQ(run("me j1\r\n"), "ME j1 exp=-97 la=3 cas=2 fetch=yes cls=1 size=66\r\n");
  EXPECT_EQ(run("me nope\r\n"), "EN\r\n");
}

TEST_F(MetaCommandsTest, Base64KeysRememberedByTheItem) {
  EXPECT_EQ(run("ms ZDE= 2 b k\r\nhi\r\n"), "HD kZDE= b\r\n");
  EXPECT_EQ(run("mg d1 k v\r\n"), "VA 2 kZDE= b\r\nhi\r\n");
  EXPECT_EQ(run("mg ZA== b k\r\n"), "EN kZA== b\r\n");
}

}  // namespace
// md x (memcached 1.6.19+): the item stays, replaced by an empty one with flags 0, no expiry,
// unread, and the same CAS; with I it is stale with a new CAS (and T's TTL). Answers as 1.6.45.
TEST_F(MetaCommandsTest, MdXEmptiesTheValueKeepsTheItemAndCas) {
  EXPECT_EQ(run("ms a 3 F7 T100 c\r\nabc\r\n"), "HD c1\r\n");
  EXPECT_EQ(run("mg a v\r\n"), "VA 3\r\nabc\r\n");
  EXPECT_EQ(run("md a x c k O1\r\n"), "HD ka O1\r\n");  // md has no c return flag
  EXPECT_EQ(run("mg a v c f t h s\r\n"), "VA 0 c1 f0 t-1 h0 s0\r\n\r\n");
  EXPECT_EQ(run("md a x I T50\r\n"), "HD\r\n");
  EXPECT_EQ(run("mg a v c f t h\r\n"), "VA 0 c2 f0 t50 h0 X W\r\n\r\n");
}

TEST_F(MetaCommandsTest, MdXCasMissAndQuiet) {
  EXPECT_EQ(run("ms b 2 c\r\nhi\r\n"), "HD c1\r\n");
  EXPECT_EQ(run("md b x C999\r\n"), "EX\r\n");
  EXPECT_EQ(run("md b x q\r\nmg b c v\r\n"), "VA 0 c1\r\n\r\n");
  EXPECT_EQ(run("md b x C1\r\n"), "HD\r\n");
  EXPECT_EQ(run("md zz x\r\nmd zz x q\r\n"), "NF\r\nNF\r\n");
  EXPECT_EQ(run("md b I x k\r\nmg b v\r\n"), "HD kb\r\nVA 0 X W\r\n\r\n");
}

}  // namespace memshield::engine
