// Text protocol parsing: line framing, tokenizing, and memcached's exact errors per command.
#include "protocol/text/parser.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "protocol/text/keys.h"
#include "protocol/text/tokenizer.h"

namespace memshield::protocol::text {
namespace {

Request parse(std::string_view line) {
  Request r;
  parse_line(line, &r);
  return r;
}

void expect_reply(std::string_view line, std::string_view reply) {
  Request r = parse(line);
  EXPECT_EQ(r.cmd, Cmd::kReply) << line;
  EXPECT_EQ(r.reply, reply) << line;
}

TEST(FindLine, StripsCrLfAndLfAndCutsAtNul) {
  Line l;
  ASSERT_EQ(find_line("get a\r\nrest", &l), LineStatus::kLine);
  EXPECT_EQ(l.text, "get a");
  EXPECT_EQ(l.consumed, 7u);
  ASSERT_EQ(find_line("get a\nrest", &l), LineStatus::kLine);
  EXPECT_EQ(l.text, "get a");
  EXPECT_EQ(l.consumed, 6u);
  ASSERT_EQ(find_line(std::string_view("get a\0b\r\n", 9), &l), LineStatus::kLine);
  EXPECT_EQ(l.text, "get a");
  ASSERT_EQ(find_line("\r\n", &l), LineStatus::kLine);
  EXPECT_EQ(l.text, "\r");  // memcached strips '\r' only from lines longer than one byte
}

TEST(FindLine, LongLinesCloseUnlessMultiGet) {
  Line l;
  EXPECT_EQ(find_line(std::string(2048, 'x'), &l), LineStatus::kNeedMore);
  EXPECT_EQ(find_line(std::string(2049, 'x'), &l), LineStatus::kTooLong);
  EXPECT_EQ(find_line("get " + std::string(5000, 'k'), &l), LineStatus::kNeedMore);
  EXPECT_EQ(find_line("gets " + std::string(5000, 'k'), &l), LineStatus::kNeedMore);
  EXPECT_EQ(find_line(std::string(101, ' ') + "get " + std::string(5000, 'k'), &l),
            LineStatus::kTooLong);
}

TEST(Tokenizer, SplitsOnSpacesOnlyAndKeepsTheRest) {
  Tokens t;
  tokenize("  set  a\tb 0 ", &t);
  ASSERT_EQ(t.n, 3u);
  EXPECT_EQ(t.tok[1], "a\tb");
  std::string line = "get";
  for (int i = 0; i < 30; ++i) line += " k" + std::to_string(i);
  tokenize(line, &t);
  EXPECT_EQ(t.n, Tokens::kMax);
  EXPECT_TRUE(t.has_rest);
  EXPECT_EQ(t.rest.substr(0, 3), "k22");
}

// The memchr-based tokenizer and key walk against a byte-by-byte reading of memcached's rule, on
// random lines of spaces, other bytes and NULs, up to past the 23-token limit.
TEST(Tokenizer, MatchesAByteByByteSplit) {
  std::mt19937 rng(11);
  const char alphabet[] = {' ', ' ', ' ', 'a', 'b', '\t', '\0', 'k'};
  for (int round = 0; round < 20000; ++round) {
    std::string line(rng() % 80, ' ');
    for (char& c : line) c = alphabet[rng() % sizeof(alphabet)];
    std::vector<std::string_view> want;
    std::string_view want_rest;
    bool want_has_rest = false;
    size_t i = 0;
    while (i < line.size()) {
      if (line[i] == ' ') {
        ++i;
        continue;
      }
      size_t start = i;
      while (i < line.size() && line[i] != ' ') ++i;
      if (want.size() == Tokens::kMax) break;
      want.emplace_back(line.data() + start, i - start);
      if (want.size() == Tokens::kMax && i + 1 < line.size()) {
        want_rest = std::string_view(line).substr(i + 1);
        want_has_rest = true;
        break;
      }
    }
    Tokens t;
    tokenize(line, &t);
    ASSERT_EQ(t.n, want.size()) << round;
    for (size_t k = 0; k < t.n; ++k) ASSERT_EQ(t.tok[k], want[k]) << round;
    ASSERT_EQ(t.has_rest, want_has_rest) << round;
    ASSERT_EQ(t.rest, want_rest) << round;

    std::vector<std::string_view> keys;
    for_each_key(line, [&](std::string_view k) {
      keys.push_back(k);
      return true;
    });
    std::vector<std::string_view> all;
    for (size_t j = 0; j < line.size();) {
      if (line[j] == ' ') {
        ++j;
        continue;
      }
      size_t start = j;
      while (j < line.size() && line[j] != ' ') ++j;
      all.emplace_back(line.data() + start, j - start);
    }
    ASSERT_EQ(keys, all) << round;
  }
}

TEST(Parse, Storage) {
  Request r = parse("set foo 5 100 3");
  EXPECT_EQ(r.cmd, Cmd::kSet);
  EXPECT_EQ(r.key, "foo");
  EXPECT_EQ(r.flags, 5u);
  EXPECT_EQ(r.exptime, 100);
  EXPECT_EQ(r.vlen, 3u);
  EXPECT_FALSE(r.noreply);
  EXPECT_TRUE(parse("add foo 0 0 1 noreply").noreply);
  EXPECT_FALSE(parse("add foo 0 0 1 nope").noreply);
  r = parse("cas foo 0 0 1 99");
  EXPECT_EQ(r.cmd, Cmd::kCas);
  EXPECT_EQ(r.cas_unique, 99u);
  EXPECT_EQ(parse("set a 4294967296 0 1").flags, 0u);  // memcached truncates to 32 bits
  EXPECT_EQ(parse("set a +5 0 1").flags, 5u);
}

TEST(Parse, StorageErrors) {
  expect_reply("set a 0 0", "ERROR");
  expect_reply("set a 0 0 1 noreply extra", "ERROR");
  expect_reply("cas a 0 0 1", "ERROR");
  expect_reply("set a b 0 1", "CLIENT_ERROR bad command line format");
  expect_reply("set a -1 0 1", "CLIENT_ERROR bad command line format");
  expect_reply("set a 0 0 -1", "CLIENT_ERROR bad command line format");
  expect_reply("set a 0 x 1", "CLIENT_ERROR bad command line format");
  expect_reply("cas a 0 0 1 x", "CLIENT_ERROR bad command line format");
  expect_reply("set " + std::string(251, 'k') + " 0 0 1", "CLIENT_ERROR bad command line format");
  EXPECT_EQ(parse("set " + std::string(250, 'k') + " 0 0 1").cmd, Cmd::kSet);
  EXPECT_TRUE(parse("set a b 0 1 noreply").noreply);  // errors obey noreply, as in memcached
}

TEST(Parse, GetFamily) {
  Request r = parse("get a b  c");
  EXPECT_EQ(r.cmd, Cmd::kGet);
  EXPECT_EQ(r.keys, "a b  c");
  r = parse("gat 10 a b");
  EXPECT_EQ(r.cmd, Cmd::kGat);
  EXPECT_EQ(r.exptime, 10);
  EXPECT_EQ(r.keys, "a b");
  EXPECT_EQ(parse("gats 10").keys, "");
  expect_reply("get", "ERROR");
  expect_reply("gat x a", "CLIENT_ERROR invalid exptime argument");
  expect_reply("get a " + std::string(251, 'k') + " b", "CLIENT_ERROR bad command line format");
  expect_reply("GET a", "ERROR");
  EXPECT_EQ(parse("bget a").cmd, Cmd::kGet);
}

// "get"/"gets" lines skip the tokenizer (parse_plain_get); the answers must be the general
// path's, which the other spellings of the same lines ("bget", a leading space) still take.
TEST(Parse, PlainGetAgreesWithTheTokenizerPath) {
  std::vector<std::string> keys_lists = {
      "a", "a b  c", "  a", "a  ", " ", "   ", "", "a\tb c", std::string(250, 'k'),
      "a " + std::string(251, 'k'), std::string(251, 'k') + " a", "a b c d e f g h i j k l",
  };
  std::string many;  // past the tokenizer's 23 tokens, the long key among the rest
  for (int i = 0; i < 30; ++i) many.append("k").append(std::to_string(i)).append(" ");
  keys_lists.push_back(many);
  keys_lists.push_back(many + std::string(251, 'k'));
  for (const std::string& keys : keys_lists) {
    for (const bool gets : {false, true}) {
      const std::string fast = (gets ? "gets " : "get ") + keys;
      const std::string general = (gets ? " gets " : " get ") + keys;  // leading space
      Request a = parse(fast);
      Request b = parse(general);
      EXPECT_EQ(a.cmd, b.cmd) << fast;
      EXPECT_EQ(a.reply, b.reply) << fast;
      if (a.cmd == Cmd::kReply) continue;
      EXPECT_EQ(a.cmd, gets ? Cmd::kGets : Cmd::kGet);
      std::vector<std::string_view> ka, kb;
      for_each_key(a.keys, [&](std::string_view k) { ka.push_back(k); return true; });
      for_each_key(b.keys, [&](std::string_view k) { kb.push_back(k); return true; });
      EXPECT_EQ(ka, kb) << fast;
    }
  }
  expect_reply("get ", "ERROR");
  expect_reply("gets    ", "ERROR");
}

TEST(Parse, OtherCommands) {
  EXPECT_EQ(parse("delete a").cmd, Cmd::kDelete);
  EXPECT_EQ(parse("delete a 0").cmd, Cmd::kDelete);
  EXPECT_TRUE(parse("delete a noreply").noreply);
  EXPECT_TRUE(parse("delete a 0 noreply").noreply);
  const char* usage = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
  expect_reply("delete a 1", usage);
  expect_reply("delete a 1 noreply", usage);
  expect_reply("delete a 0 0", usage);
  Request r = parse("incr a 18446744073709551615");
  EXPECT_EQ(r.cmd, Cmd::kIncr);
  EXPECT_EQ(r.delta, UINT64_MAX);
  expect_reply("incr a x", "CLIENT_ERROR invalid numeric delta argument");
  expect_reply("decr a -1", "CLIENT_ERROR invalid numeric delta argument");
  expect_reply("incr a", "ERROR");
  EXPECT_EQ(parse("touch a 10").cmd, Cmd::kTouch);
  expect_reply("touch a x", "CLIENT_ERROR invalid exptime argument");
  EXPECT_EQ(parse("flush_all").cmd, Cmd::kFlushAll);
  EXPECT_FALSE(parse("flush_all noreply").has_delay);
  r = parse("flush_all 10 noreply");
  EXPECT_TRUE(r.has_delay);
  EXPECT_EQ(r.exptime, 10);
  expect_reply("flush_all x", "CLIENT_ERROR invalid exptime argument");
  expect_reply("flush_all 1 2 3", "ERROR");
  EXPECT_EQ(parse("verbosity 1").verbosity, 1u);
  expect_reply("verbosity", "ERROR");
  expect_reply("verbosity x", "CLIENT_ERROR bad command line format");
  EXPECT_EQ(parse("version").cmd, Cmd::kVersion);
  EXPECT_EQ(parse("quit").cmd, Cmd::kQuit);
  EXPECT_EQ(parse("stats settings").args, "settings");
  EXPECT_EQ(parse("refresh_certs").cmd, Cmd::kRefreshCerts);
  EXPECT_FALSE(parse("refresh_certs").noreply);
  EXPECT_TRUE(parse("refresh_certs noreply").noreply);
  EXPECT_EQ(parse("refresh_certs extra tokens").cmd, Cmd::kRefreshCerts);  // as memcached
  expect_reply("REFRESH_CERTS", "ERROR");
  EXPECT_EQ(parse("lru_crawler metadump all").cmd, Cmd::kLruCrawler);  // the engine checks words
  EXPECT_EQ(parse("lru_crawler metadump all").args, "metadump all");
  EXPECT_EQ(parse("lru_crawler").args, "");
  EXPECT_EQ(parse("lru mode flat").cmd, Cmd::kLru);
  EXPECT_EQ(parse("lru mode flat").args, "mode flat");
  expect_reply("", "ERROR");
  expect_reply("x", "ERROR");
  expect_reply("foo", "ERROR");
}

// malicious-commands.t: an unknown command ending in an "HTTP/..." word is an HTTP client;
// memcached hangs up (parsed as quit). Commands under a letter memcached dispatches first still
// answer ERROR, and a known command keeps its own answer.
TEST(Parse, HttpRequestLineClosesTheConnection) {
  EXPECT_EQ(parse("GET / HTTP/1.0").cmd, Cmd::kQuit);
  EXPECT_EQ(parse("PUT /asdf/asd/fasdfasdf/sadf HTTP/1.1").cmd, Cmd::kQuit);
  EXPECT_EQ(parse("DELETE HTTP/1.1").cmd, Cmd::kQuit);
  EXPECT_EQ(parse("HTTP/1.1").cmd, Cmd::kQuit);
  expect_reply("gex / HTTP/1.0", "ERROR");
  expect_reply("sss HTTP/1.1", "ERROR");
  expect_reply("GET / HTTP/1.0 x", "ERROR");
  expect_reply("GET / http/1.0", "ERROR");
  EXPECT_EQ(parse("get / HTTP/1.0").cmd, Cmd::kGet);
}

// strtol-testing.t and memcached's slabs answers (memshield has no slab pages to move).
TEST(Parse, SlabsCommands) {
  expect_reply("slabs automove invalid", "CLIENT_ERROR bad command line format");
  expect_reply("slabs automove 1", "OK");
  expect_reply("slabs automove 0 x", "OK");
  expect_reply("slabs automove 3", "ERROR");
  expect_reply("slabs automove", "ERROR");
  EXPECT_TRUE(parse("slabs automove 2 noreply").noreply);
  expect_reply("slabs reassign x y", "CLIENT_ERROR bad command line format");
  expect_reply("slabs reassign 1 1", "SAME src and dst class are identical");
  expect_reply("slabs reassign 99 1", "BADCLASS invalid src or dst class id");
  expect_reply("slabs reassign -1 2", "BADCLASS invalid src or dst class id");
  expect_reply("slabs reassign 0 2", "NOSPARE source class has no spare pages");
  expect_reply("slabs reassign 1 2 3", "ERROR");
  expect_reply("slabs", "ERROR");
  expect_reply("verbosity invalid", "CLIENT_ERROR bad command line format");
}

TEST(Parse, CacheMemlimitChecksAsMemcached1618) {
  Request r = parse("cache_memlimit 64");
  EXPECT_EQ(r.cmd, Cmd::kCacheMemlimit);
  EXPECT_EQ(r.delta, 64u);
  EXPECT_EQ(parse("cache_memlimit 8 noreply").noreply, true);
  EXPECT_EQ(parse("cache_memlimit 8 x").cmd, Cmd::kCacheMemlimit);  // a third word is ignored
  expect_reply("cache_memlimit", "ERROR");
  expect_reply("cache_memlimit abc", "ERROR");
  expect_reply("cache_memlimit -5", "ERROR");
  expect_reply("cache_memlimit 8 x y", "ERROR");
  expect_reply("cache_memlimit 7", "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
  // The number's low 32 bits count, as memcached's safe_strtoul into a uint32_t.
  expect_reply("cache_memlimit 17592186044416",
               "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m");
  expect_reply("cache_memlimit 99999999999",
               "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes");
  EXPECT_EQ(parse("cache_memlimit 5000000000000").cmd, Cmd::kCacheMemlimit);
}

TEST(Parse, WatchTakesItsWordsAndHttpIsAnErrorClose) {
  Request r = parse("watch fetchers mutations");
  EXPECT_EQ(r.cmd, Cmd::kWatch);
  EXPECT_EQ(r.args, "fetchers mutations");
  EXPECT_EQ(parse("watch").cmd, Cmd::kWatch);
  r = parse("GET / HTTP/1.1");
  EXPECT_EQ(r.cmd, Cmd::kQuit);
  EXPECT_EQ(r.args, "HTTP/1.1");  // inside the line, as every view the parser returns
  EXPECT_TRUE(parse("quit").args.empty());
}

}  // namespace
}  // namespace memshield::protocol::text
