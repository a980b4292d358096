// Reading peers' replies: memcached text and binary answers, auth refusals, other protocols, and
// stats blocks, including hostile bytes.
#include "audit/reply.h"

#include <gtest/gtest.h>

namespace memshield::audit {
namespace {

TEST(Reply, TextClassification) {
  std::string v;
  EXPECT_EQ(classify_text_reply("VERSION 1.6.18\r\n", &v), ReplyKind::kVersion);
  EXPECT_EQ(v, "1.6.18");
  EXPECT_EQ(classify_text_reply("CLIENT_ERROR unauthenticated\r\n", &v), ReplyKind::kAuthRequired);
  EXPECT_EQ(classify_text_reply("ERROR\r\n", &v), ReplyKind::kError);
  EXPECT_EQ(classify_text_reply("SERVER_ERROR out of memory\r\n", &v), ReplyKind::kError);
  EXPECT_EQ(classify_text_reply("HTTP/1.0 400 Bad Request\r\n", &v), ReplyKind::kOther);
  EXPECT_EQ(classify_text_reply("SSH-2.0-OpenSSH_9.2\r\n", &v), ReplyKind::kOther);
}

TEST(Reply, Stats) {
  std::string block = "STAT pid 42\r\nSTAT version 1.6.18\r\nSTAT inter NULL\r\nEND\r\n";
  EXPECT_TRUE(stats_reply_complete(block));
  EXPECT_FALSE(stats_reply_complete(block.substr(0, 20)));
  EXPECT_TRUE(stats_reply_complete("ERROR\r\n"));
  auto m = parse_stats(block);
  EXPECT_EQ(m["pid"], "42");
  EXPECT_EQ(m["inter"], "NULL");
  EXPECT_EQ(m.size(), 3u);
}

TEST(Reply, Binary) {
  std::string req = binary_version_request();
  ASSERT_EQ(req.size(), 24u);
  EXPECT_EQ(static_cast<uint8_t>(req[0]), 0x80);
  EXPECT_EQ(req[1], 0x0b);
  std::string auth(24, '\0');
  auth[0] = static_cast<char>(0x81);
  auth[7] = 0x20;
  std::string v;
  EXPECT_EQ(classify_binary_reply(auth, &v), BinaryReply::kAuthRequired);
  EXPECT_EQ(classify_binary_reply(auth.substr(0, 10), &v), BinaryReply::kIncomplete);
  std::string ok(24, '\0');
  ok[0] = static_cast<char>(0x81);
  ok[11] = 6;
  EXPECT_EQ(classify_binary_reply(ok, &v), BinaryReply::kIncomplete);
  ok += "1.6.18";
  EXPECT_EQ(classify_binary_reply(ok, &v), BinaryReply::kVersion);
  EXPECT_EQ(v, "1.6.18");
  EXPECT_EQ(classify_binary_reply("HTTP/1.0", &v), BinaryReply::kOther);
}

TEST(Reply, ExcerptIsPrintableAndBounded) {
  std::string e = printable_excerpt(std::string("ab\x01\xff\r\ncd", 8), 60);
  EXPECT_EQ(e, "ab.. cd");
  EXPECT_EQ(printable_excerpt(std::string(500, 'x'), 10).size(), 13u);
}

TEST(Reply, Wildcard) {
  EXPECT_TRUE(listens_on_all_interfaces("NULL"));
  EXPECT_TRUE(listens_on_all_interfaces("0.0.0.0"));
  EXPECT_TRUE(listens_on_all_interfaces("127.0.0.1:11211,[::]:11211"));
  EXPECT_FALSE(listens_on_all_interfaces("127.0.0.1"));
  EXPECT_FALSE(listens_on_all_interfaces("127.0.0.1:11211,[::1]:11211"));
  EXPECT_FALSE(listens_on_all_interfaces("10.0.0.5"));
}

}  // namespace
}  // namespace memshield::audit
