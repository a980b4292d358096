// The text session's -Y gate: nothing before authentication, every token answer, the token
// split across reads at every byte, the counters.
#include "engine/ascii_auth.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/text_session.h"
#include "engine_fixture.h"

namespace memshield::engine {
namespace {

class OneUser : public Authenticator {
 public:
  bool check(std::string_view user, std::string_view password) const override {
    return user == "alice" && password == "secret";
  }
};

class NoHooks : public Hooks {
 public:
  void stats(std::string_view, OutBuffer& out) override { out.append("END\r\n"); }
  void shutdown(bool) override {}
  void shield(std::string_view, const sockaddr_storage*, OutBuffer& out) override {}
};

class AsciiAuthTest : public EngineFixture<NoHooks> {
 protected:
  AsciiAuthTest() : EngineFixture(16u << 20) { ctx_.ascii_auth = &auth_; }
  // Feeds `in` to one session `chunk` bytes at a time; returns all answers.
  std::string run(std::string_view in, size_t chunk = SIZE_MAX) {
    OutBuffer out;
    TextSession s(ctx_, stats_, 1);
    feed_in_chunks(s, in, chunk, out);
    return out.to_string();
  }
  OneUser auth_;
};

TEST_F(AsciiAuthTest, RefusesEverythingAndDropsTheRest) {
  EXPECT_EQ(run("version\r\nversion\r\n"), "CLIENT_ERROR unauthenticated\r\n");
  EXPECT_EQ(run("set k 0 0 -1\r\n"), "CLIENT_ERROR unauthenticated\r\n");
  EXPECT_EQ(run("set k 0 0\r\n"), "CLIENT_ERROR unauthenticated\r\n");
}

TEST_F(AsciiAuthTest, Answers) {
  EXPECT_EQ(run("set k 0 0 12\r\nalice secret\r\nversion\r\n"), "STORED\r\nVERSION 1.6.18\r\n");
  EXPECT_EQ(run("set k 0 0 11\r\nalice wrong\r\n"), "CLIENT_ERROR authentication failure\r\n");
  EXPECT_EQ(run("set k 0 0 11\r\nalicesecret\r\n"),
            "CLIENT_ERROR bad authentication token format\r\n");
  EXPECT_EQ(run("set k 0 0 12\r\nalice secretXX"), "CLIENT_ERROR bad command line termination\r\n");
  EXPECT_EQ(run("set k 0 0 12 noreply\r\nalice secret\r\n"), "STORED\r\n");
  EXPECT_EQ(stats_.auth_cmds.get(), 3u);
  EXPECT_EQ(stats_.auth_errors.get(), 1u);
  EXPECT_EQ(stats_.cmd_set.get(), 0u);
}

TEST_F(AsciiAuthTest, SplitAtEveryByte) {
  const std::string in = "set k 0 0 12\r\nalice secret\r\nget k\r\n";
  for (size_t chunk = 1; chunk < in.size(); ++chunk) {
    EXPECT_EQ(run(in, chunk), "STORED\r\nEND\r\n") << chunk;
  }
}

TEST_F(AsciiAuthTest, OversizedTokenSwallowed) {
  std::string token = "alice secret" + std::string(5000, ' ');
  EXPECT_EQ(run("set k 0 0 " + std::to_string(token.size()) + "\r\n" + token +
                "\r\nset k 0 0 12\r\nalice secret\r\n"),
            "CLIENT_ERROR bad authentication token format\r\nSTORED\r\n");
}

}  // namespace
}  // namespace memshield::engine
