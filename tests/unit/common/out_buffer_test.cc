// The response chain: appends of every size come out in order, in one or more iovecs.
#include "common/out_buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace memshield {
namespace {

TEST(OutBuffer, AppendConsumeRoundTrip) {
  OutBuffer b;
  std::string expect;
  for (int i = 0; i < 1000; ++i) {
    std::string piece(static_cast<size_t>((i * 37) % 3000), static_cast<char>('a' + i % 26));
    b.append(piece);
    expect += piece;
  }
  b.append(std::string(100000, 'Z'));
  expect += std::string(100000, 'Z');
  EXPECT_EQ(b.size(), expect.size());
  EXPECT_EQ(b.to_string(), expect);
  std::string got;
  while (!b.empty()) {
    iovec iov[4];
    int n = b.fill_iov(iov, 4);
    ASSERT_GT(n, 0);
    size_t take = std::min<size_t>(iov[0].iov_len, 777);
    got.append(static_cast<char*>(iov[0].iov_base), take);
    b.consume(take);
  }
  EXPECT_EQ(got, expect);
  b.append("again");
  EXPECT_EQ(b.to_string(), "again");
}

TEST(OutBuffer, ReserveCommit) {
  OutBuffer b;
  char* p = b.reserve(5);
  memcpy(p, "hello", 5);
  b.commit(5);
  EXPECT_EQ(b.to_string(), "hello");
}

}  // namespace
}  // namespace memshield
