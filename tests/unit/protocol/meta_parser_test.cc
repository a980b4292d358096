// Meta-protocol parsing: flags, their values, base64 keys, and memcached 1.6.18's exact errors in
// its order of checks (verified against the real binary by tests/compat/test_meta_protocol.py).
#include "protocol/text/meta_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/text/parser.h"

namespace memshield::protocol::text {
namespace {

MetaRequest parse(std::string_view line) {
  MetaRequest r;
  parse_meta(line, &r);
  return r;
}

void expect_error(std::string_view line, std::string_view error, bool swallow = false) {
  MetaRequest r = parse(line);
  EXPECT_EQ(r.error, error) << line;
  EXPECT_EQ(r.swallow, swallow) << line;
}

TEST(MetaParser, TextParserRoutesTwoLetterMCommands) {
  Request r;
  parse_line("mg foo v", &r);
  EXPECT_EQ(r.cmd, Cmd::kMeta);
  EXPECT_EQ(r.args, "mg foo v");
  parse_line("mx", &r);
  EXPECT_EQ(r.cmd, Cmd::kMeta);
  parse_line("mgg foo", &r);
  EXPECT_EQ(r.cmd, Cmd::kReply);
  EXPECT_EQ(r.reply, "ERROR");
}

TEST(MetaParser, GetFlags) {
  MetaRequest r = parse("mg key s v f t c h l k O123 q u T30 N5 R7");
  EXPECT_TRUE(r.error.empty());
  EXPECT_EQ(r.cmd, MetaCmd::kGet);
  EXPECT_EQ(r.key, "key");
  EXPECT_TRUE(r.value && r.quiet && r.no_update && r.has_ttl && r.vivify && r.has_recache);
  EXPECT_EQ(r.ttl, 30);
  EXPECT_EQ(r.vivify_ttl, 5);
  EXPECT_EQ(r.recache, 7);
  ASSERT_EQ(r.nflags, 14u);
  EXPECT_EQ(r.flags[8], "O123");
}

TEST(MetaParser, SetArithDefaults) {
  MetaRequest r = parse("ms k 5 F9 C12 MA I");
  EXPECT_EQ(r.cmd, MetaCmd::kSet);
  EXPECT_EQ(r.vlen, 5u);
  EXPECT_EQ(r.client_flags, 9u);
  EXPECT_TRUE(r.has_cas && r.invalidate);
  EXPECT_EQ(r.cas, 12u);
  EXPECT_EQ(r.mode, 'A');
  r = parse("ma k");
  EXPECT_EQ(r.delta, 1u);
  EXPECT_EQ(r.initial, 0u);
  r = parse("ma k J5 D7 M-");
  EXPECT_EQ(r.delta, 7u);
  EXPECT_EQ(r.initial, 5u);
  EXPECT_EQ(r.mode, '-');
}

TEST(MetaParser, Errors) {
  expect_error("mg", "ERROR");
  expect_error("mz k", "ERROR");
  expect_error("mg k v v", "CLIENT_ERROR duplicate flag");
  expect_error("mg k x", "CLIENT_ERROR invalid flag");
  expect_error("mg k E5", "CLIENT_ERROR invalid flag");
  expect_error("mg k Tx", "CLIENT_ERROR bad token in command line format");
  expect_error("mg k O123456789012345678901234567890123", "CLIENT_ERROR opaque token too long");
  expect_error("mg " + std::string(251, 'a'), "CLIENT_ERROR bad command line format");
  expect_error("mg k O1 O2 O3 O4 O5 O6 O7 O8 O9 P0 P1 P2 P3 P4 P5 P6 P7 P8",
               "CLIENT_ERROR options flags are too long");
  expect_error("ms k", "CLIENT_ERROR bad command line format");
  expect_error("ms k x", "CLIENT_ERROR bad command line format");
  expect_error("ms k 2 Tx", "CLIENT_ERROR bad token in command line format", true);
  expect_error("ms k 2 Fx", "CLIENT_ERROR bad command line format", true);
  expect_error("ms k 2 MX", "CLIENT_ERROR invalid mode for ms M token", true);
  expect_error("ms k 2 Ma", "CLIENT_ERROR invalid mode for ms M token", true);
  expect_error("ms k 2 MAA", "CLIENT_ERROR incorrect length for M token", true);
  expect_error("md k z", "CLIENT_ERROR invalid or duplicate flag");
  expect_error("ma k Dx", "CLIENT_ERROR invalid or duplicate flag");
  expect_error("ma k Mx", "CLIENT_ERROR invalid mode for ma M token");
  expect_error("me", "CLIENT_ERROR bad command line format");
  EXPECT_TRUE(parse("mn anything here").error.empty());
}

TEST(MetaParser, Base64Keys) {
  MetaRequest r = parse("mg ZDE= b k");
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.key_binary);
  EXPECT_EQ(r.key, "d1");
  EXPECT_EQ(parse("mg ZA==ZA== b").key, "d");  // stops at the first padded quad
  expect_error("mg ZDE b", "CLIENT_ERROR error decoding key");
  expect_error("mg Z=== b", "CLIENT_ERROR error decoding key");
  expect_error("ms !!!! 1 b", "CLIENT_ERROR error decoding key", true);
  expect_error("md ZDE b", "CLIENT_ERROR invalid or duplicate flag");
  std::string enc;
  base64_encode("d1", &enc);
  EXPECT_EQ(enc, "ZDE=");
  enc.clear();
  base64_encode("abc", &enc);
  EXPECT_EQ(enc, "YWJj");
}

}  // namespace
}  // namespace memshield::protocol::text

namespace memshield::protocol::text {
namespace {

// memcached 1.6.18 treats the key of `me` as base64 only when the very next token is "b".
TEST(MetaParser, DebugBase64OnlyWithExactBRightAfterTheKey) {
  MetaRequest r = parse("me Zm9v b");
  EXPECT_TRUE(r.key_binary);
  EXPECT_EQ(r.key, "foo");
  r = parse("me Zm9v x b");
  EXPECT_FALSE(r.key_binary);
  EXPECT_EQ(r.key, "Zm9v");
  r = parse("me Zm9v bx");
  EXPECT_FALSE(r.key_binary);
  EXPECT_EQ(r.key, "Zm9v");
}

}  // namespace
// memcached 1.6.19+ (taken, as 1.6.18 rejects it): md's x flag. Only md takes it; the other
// commands still answer 1.6.18's (and 1.6.45's) "invalid flag".
TEST(MetaParser, MdStripValueFlagX) {
  MetaRequest r = parse("md k x I T5");
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.strip_value && r.invalidate && r.has_ttl);
  r = parse("md k xy");  // like every flag without an argument, the rest is ignored
  EXPECT_TRUE(r.error.empty());
  EXPECT_TRUE(r.strip_value);
  EXPECT_EQ(parse("md k x x").error, "CLIENT_ERROR invalid or duplicate flag");  // 1.6.18 string
  EXPECT_EQ(parse("mg k x").error, "CLIENT_ERROR invalid flag");
  EXPECT_EQ(parse("ma k x").error, "CLIENT_ERROR invalid or duplicate flag");
}

// E (explicit new CAS, memcached 1.6.19+) is not taken: 1.6.18's errors stay.
TEST(MetaParser, ExplicitCasFlagENotTaken) {
  EXPECT_EQ(parse("mg k E5").error, "CLIENT_ERROR invalid flag");
  EXPECT_EQ(parse("md k E5").error, "CLIENT_ERROR invalid or duplicate flag");
  EXPECT_EQ(parse("ma k E5").error, "CLIENT_ERROR invalid or duplicate flag");
}

}  // namespace memshield::protocol::text
