// `lru_crawler metadump`: memcached 1.6.18's line format, key encoding and class lists, and the
// dump streamed in chunks through the text session (other commands' answers wait for its END).
#include "engine/key_dump.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/text_session.h"
#include "engine_fixture.h"

namespace memshield::engine {
namespace {

TEST(KeyDumpFormat, UriEncodesLikeMemcached) {
  std::string out;
  append_uri_encoded(out, "a/b:c~d-e.f_g!*()@,;+$&=?#[] %");
  EXPECT_EQ(out, "a%2Fb%3Ac~d-e.f_g%21%2A%28%29%40%2C%3B%2B%24%26%3D%3F%23%5B%5D%20%25");
}

TEST(KeyDumpFormat, ClassListsAsMemcachedParsesThem) {
  bool items = false;
  EXPECT_TRUE(parse_dump_classes("all", &items) && items);
  EXPECT_TRUE(parse_dump_classes("hash", &items) && items);
  EXPECT_TRUE(parse_dump_classes("1,2", &items) && items);
  EXPECT_TRUE(parse_dump_classes("2", &items) && !items);
  EXPECT_TRUE(parse_dump_classes("63", &items));
  EXPECT_FALSE(parse_dump_classes("0", &items));
  EXPECT_FALSE(parse_dump_classes("64", &items));
  EXPECT_FALSE(parse_dump_classes("x", &items));
  EXPECT_FALSE(parse_dump_classes("1,x", &items));
}

class DumpHooks : public NullHooks {
 public:
  std::string_view metadump_refusal() override { return refusal; }
  std::string_view refusal;
};

class MetadumpTest : public EngineFixture<DumpHooks> {};

TEST_F(MetadumpTest, LinesInMemcachedsFormat) {
  TextSession s(ctx_, stats_, 7);
  OutBuffer out;
  s.process("set a 0 0 1\r\nx\r\nset b%20c 0 100 2\r\nxy\r\nget a\r\n", out);
  out.clear();
  auto r = s.process("lru_crawler metadump all\r\n", out);
  while (r.more_output) r = s.process("", out);
  const std::string text = out.to_string();
  const std::string started = std::to_string(clock_.process_started() + clock_.now());
  EXPECT_NE(text.find("key=a exp=-1 la=" + started + " cas=1 fetch=yes cls=1 size=61\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("key=b%2520c exp=" + std::to_string(clock_.unix_now() + 100) + " la=" +
                      started + " cas=2 fetch=no cls=1 size=66\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.substr(text.size() - 5), "END\r\n");
}

// `lru_crawler mgdump` (memcached 1.6.19+; 1.6.18 answers ERROR): OK, an mg line per item (a
// base64 key as "<base64> b"), then EN, as memcached 1.6.45.
TEST_F(MetadumpTest, MgdumpLinesAsMemcached1645) {
  TextSession s(ctx_, stats_, 7);
  OutBuffer out;
  s.process("set a 0 0 1\r\nx\r\nms Zm9v 2 b\r\nab\r\n", out);
  out.clear();
  auto r = s.process("lru_crawler mgdump all\r\n", out);
  while (r.more_output) r = s.process("", out);
  const std::string text = out.to_string();
  EXPECT_EQ(text.substr(0, 4), "OK\r\n");
  EXPECT_NE(text.find("mg a\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("mg Zm9v b\r\n"), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 4), "EN\r\n");
  EXPECT_EQ(text.size(), 4 + 6 + 11 + 4u);
  out.clear();
  s.process("lru_crawler mgdump\r\nlru_crawler mgdump all x\r\n", out);
  s.process("lru_crawler mgdump 0\r\n", out);
  EXPECT_EQ(out.to_string(), "ERROR\r\nERROR\r\nBADCLASS invalid class id\r\n");
}

TEST_F(MetadumpTest, StreamsInChunksAndThenServesPipelinedCommands) {
  TextSession s(ctx_, stats_, 7);
  OutBuffer out;
  std::string sets;
  for (int i = 0; i < 20000; ++i) sets += "set key" + std::to_string(i) + " 0 0 1 noreply\r\nv\r\n";
  s.process(sets, out);
  out.clear();
  auto r = s.process("lru_crawler metadump hash\r\nversion\r\n", out);
  EXPECT_TRUE(r.more_output);
  EXPECT_TRUE(r.yield);  // other connections get a turn between chunks
  EXPECT_LT(out.size(), 20000u * 40);
  size_t consumed = r.consumed;
  std::string rest = std::string("lru_crawler metadump hash\r\nversion\r\n").substr(consumed);
  EXPECT_EQ(rest, "version\r\n");  // waits until the dump is over
  int turns = 1;
  std::string text = out.to_string();
  out.clear();  // the socket took it
  while (r.more_output) {
    r = s.process(rest, out);
    EXPECT_LE(out.size(), (256u + 70u) << 10);  // never more than the backlog and a chunk
    rest = rest.substr(r.consumed);
    text += out.to_string();
    out.clear();
    ++turns;
  }
  EXPECT_GT(turns, 2);
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 20000u + 2);  // items, END, VERSION
  EXPECT_NE(text.find("END\r\nVERSION "), std::string::npos);
}

TEST_F(MetadumpTest, RefusalsInMemcachedsOrder) {
  TextSession s(ctx_, stats_, 7);
  OutBuffer out;
  std::string answers;
  for (const char* line : {"lru_crawler metadump\r\n", "lru_crawler metadump 0\r\n",
                           "lru_crawler metadump 2\r\n"}) {
    s.process(line, out);  // each in a read of its own, as the answers go out in between
    answers += out.to_string();
    out.clear();
  }
  EXPECT_EQ(answers, "ERROR\r\nBADCLASS invalid class id\r\nEND\r\n");
  s.process("mg nokey v\r\nlru_crawler metadump all\r\n", out);
  EXPECT_EQ(out.to_string(), "EN\r\nERROR cannot pipeline other commands before metadump\r\n");
  out.clear();
  s.process("mn\r\nlru_crawler metadump all\r\n", out);  // mn flushes memcached's pipeline
  EXPECT_EQ(out.to_string(), "MN\r\nEND\r\n");
  out.clear();
  hooks_.refusal = "ERROR metadump not allowed";
  s.process("lru_crawler metadump all\r\n", out);
  EXPECT_EQ(out.to_string(), "ERROR metadump not allowed\r\n");
}

}  // namespace
}  // namespace memshield::engine
