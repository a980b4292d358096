#include "protocol/text/scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "protocol/text/keys.h"

namespace memshield::protocol::text {
namespace {

// Every length up to three 16-byte chunks and every space position, including none: the
// chunked scan must agree with std::find, and never look past the end (checked under ASan by
// scanning a buffer whose last byte is the end of its allocation).
TEST(NextSpace, AgreesWithFindForEveryLengthAndPosition) {
  for (size_t len = 0; len <= 48; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      auto* buf = new char[len == 0 ? 1 : len];
      std::fill(buf, buf + len, 'k');
      if (at < len) buf[at] = ' ';
      const char* got = next_space(buf, buf + len);
      EXPECT_EQ(got, std::find(buf, buf + len, ' ')) << "len " << len << " at " << at;
      delete[] buf;
    }
  }
}

TEST(NextSpace, RandomLinesSplitLikeTheReference) {
  std::mt19937 rng(11);
  for (int i = 0; i < 5000; ++i) {
    std::string line;
    const size_t n = rng() % 300;
    for (size_t k = 0; k < n; ++k) line += (rng() % 7 == 0) ? ' ' : static_cast<char>('a' + rng() % 26);
    std::vector<std::string> want, got;
    std::string cur;
    for (char c : line) {
      if (c == ' ') {
        if (!cur.empty()) want.push_back(cur);
        cur.clear();
      } else {
        cur += c;
      }
    }
    if (!cur.empty()) want.push_back(cur);
    for_each_key(line, [&](std::string_view k) {
      got.emplace_back(k);
      return true;
    });
    ASSERT_EQ(got, want) << line;
  }
}

}  // namespace
}  // namespace memshield::protocol::text
