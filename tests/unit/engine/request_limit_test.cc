// memcached's -R (requests per event) in both protocols: a session stops after that many
// requests while more wait, says so (Result::yield), and resumes where it stopped.
#include <gtest/gtest.h>

#include <string>

#include "engine/binary_session.h"
#include "engine/text_session.h"
#include "engine_fixture.h"
#include "protocol/binary/header.h"

namespace memshield::engine {
namespace {

namespace bin = protocol::binary;

class RequestLimitTest : public EngineFixture<NullHooks> {};

// Runs `in` through `session` with a limit of `limit` requests per call, as the worker does
// between turns; returns the number of calls that yielded.
template <class Session>
int turns_yielding(Session& session, const std::string& in, uint32_t limit, OutBuffer& out) {
  size_t pos = 0;
  int yields = 0;
  while (pos < in.size()) {
    typename Session::Result r =
        session.process(std::string_view(in).substr(pos), out, 4u << 20, limit);
    EXPECT_TRUE(r.consumed > 0 || r.yield);
    pos += r.consumed;
    yields += r.yield;
  }
  return yields;
}

TEST_F(RequestLimitTest, BinarySessionYieldsAfterItsLimit) {
  BinarySession s(ctx_, stats_, 3);
  bin::Header h;
  h.magic = bin::kRequestMagic;
  h.opcode = bin::op::kNoop;
  std::string one(bin::kHeaderSize, '\0');
  bin::encode_header(h, one.data());
  std::string in;
  for (int i = 0; i < 6; ++i) in += one;
  OutBuffer out;
  EXPECT_EQ(turns_yielding(s, in, 1, out), 5);
  EXPECT_EQ(out.size(), 6 * bin::kHeaderSize);  // six NOOP answers
}

TEST_F(RequestLimitTest, TextSessionYieldsAfterItsLimitAndNotWithout) {
  std::string in;
  for (int i = 0; i < 6; ++i) in += "set foobar 0 0 5\r\nBubba\r\n";
  OutBuffer out;
  TextSession limited(ctx_, stats_, 7);
  EXPECT_EQ(turns_yielding(limited, in, 1, out), 5);
  TextSession unlimited(ctx_, stats_, 8);
  EXPECT_EQ(turns_yielding(unlimited, in, 0, out), 0);
  std::string stored;
  for (int i = 0; i < 12; ++i) stored += "STORED\r\n";
  EXPECT_EQ(out.to_string(), stored);
}

}  // namespace
}  // namespace memshield::engine
