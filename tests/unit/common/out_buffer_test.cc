// The response chain: appends of every size come out in order, in one or more iovecs.
#include "common/out_buffer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// A drained buffer holds no block: it goes back to the thread's cache, and the next buffer to
// need one (any buffer on this thread) gets that same block.
TEST(OutBuffer, DrainedBlocksGoBackToTheThreadAndAreReused) {
  OutBuffer a, b;
  a.append("VALUE k 0 1\r\nx\r\nEND\r\n");
  const size_t cached = OutBuffer::cached_blocks();
  iovec iov[2];
  ASSERT_EQ(a.fill_iov(iov, 2), 1);
  const void* block = iov[0].iov_base;
  a.consume(a.size());
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.fill_iov(iov, 2), 0);
  EXPECT_EQ(OutBuffer::cached_blocks(), cached + 1);
  b.append("STORED\r\n");
  ASSERT_EQ(b.fill_iov(iov, 2), 1);
  EXPECT_EQ(iov[0].iov_base, block);
  EXPECT_EQ(OutBuffer::cached_blocks(), cached);
  // Partly sent: the block stays with its bytes; a large value's own block is not cached.
  b.append(std::string(OutBuffer::kBlockSize * 3, 'v'));
  b.consume(3);
  EXPECT_EQ(b.to_string(), "RED\r\n" + std::string(OutBuffer::kBlockSize * 3, 'v'));
  b.consume(b.size());
  EXPECT_EQ(OutBuffer::cached_blocks(), cached + 1);
  a.append("again");
  EXPECT_EQ(a.to_string(), "again");
  a.clear();
  EXPECT_EQ(OutBuffer::cached_blocks(), cached + 1);
}

// Many buffers with output pending at once each hold their own block; the cache keeps a few.
TEST(OutBuffer, CacheStaysSmall) {
  std::vector<OutBuffer> many(100);
  for (OutBuffer& b : many) b.append("x");
  for (OutBuffer& b : many) b.consume(1);
  EXPECT_LE(OutBuffer::cached_blocks(), 16u);
}

}  // namespace
}  // namespace memshield
