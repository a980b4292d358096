// Warm restart (-e): a store on a memory file saves its metadata, a second store on the same
// file restores every item (value, flags, CAS, expiry) and the CAS counter; corrupt metadata is
// refused; changed settings, a bad segment or a truncated file give a clean start, not a crash.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "common/clock.h"
#include "common/hash.h"
#include "store/restart_meta.h"
#include "store/segment_arena.h"
#include "store/store.h"
#include "store_test_util.h"

namespace memshield::store {
namespace {

using testing::get;
using testing::put;

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(shm) + "/memshield_unit_restart." + std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    meta_ = path_ + ".meta";
    Cleanup();
  }
  void TearDown() override { Cleanup(); }
  void Cleanup() {
    unlink(path_.c_str());
    unlink(meta_.c_str());
  }
  Config MakeConfig(size_t mb = 8) {
    Config c;
    c.memory_limit = mb << 20;
    c.memory_file = path_;
    return c;
  }
  // A store on the file holding n items "k<i>" -> "v<i>..." (flags i, every third with a TTL).
  void Fill(Store& s, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string k = "k" + std::to_string(i);
      ASSERT_EQ(put(s, k, "v" + std::to_string(i) + std::string(i % 50, 'x'), Mode::kSet,
                    static_cast<uint32_t>(i), i % 3 == 0 ? clock_.now() + 1000 : 0),
                StoreResult::kStored);
    }
  }
  std::string path_, meta_;
  Clock clock_;
};

TEST_F(RestartTest, SaveAndRestoreKeepsEveryItem) {
  constexpr int kItems = 20000;
  Config c = MakeConfig();
  std::vector<testing::Got> before;
  {
    Store s(c, clock_);
    ASSERT_EQ(s.warm_start(), WarmStart::kCold);
    Fill(s, kItems);
    ASSERT_TRUE(s.remove("k7"));
    ASSERT_EQ(put(s, "big", std::string(600000, 'b')), StoreResult::kStored);  // a large segment
    for (int i = 0; i < kItems; ++i) before.push_back(get(s, "k" + std::to_string(i)));
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error)) << error;
  }
  RestartMeta meta;
  std::string error;
  ASSERT_EQ(read_meta_file(meta_, &meta, &error), MetaRead::kOk) << error;
  c.restore = &meta;
  Store s(c, clock_);
  ASSERT_EQ(s.warm_start(), WarmStart::kRestored) << s.warm_start_message();
  EXPECT_EQ(s.stats().curr_items, kItems);  // minus k7, plus big
  for (int i = 0; i < kItems; ++i) {
    const testing::Got g = get(s, "k" + std::to_string(i));
    ASSERT_EQ(g.result, before[i].result) << i;
    EXPECT_EQ(g.value, before[i].value);
    EXPECT_EQ(g.flags, before[i].flags);
    EXPECT_EQ(g.cas, before[i].cas);
    EXPECT_EQ(g.exptime, before[i].exptime);
  }
  EXPECT_EQ(get(s, "k7").result, Lookup::kMiss);
  EXPECT_EQ(get(s, "big").value, std::string(600000, 'b'));
  // The CAS counter continues: a new store gets a CAS above every restored one.
  uint64_t cas = 0;
  ASSERT_EQ(put(s, "new", "n", Mode::kSet, 0, 0, 0, &cas), StoreResult::kStored);
  EXPECT_EQ(cas, meta.last_cas + 1);
}

TEST_F(RestartTest, PendingFlushStaysPending) {
  Config c = MakeConfig();
  {
    Store s(c, clock_);
    ASSERT_EQ(put(s, "a", "1"), StoreResult::kStored);
    s.flush(clock_.now() + 100);
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error)) << error;
  }
  RestartMeta meta;
  std::string error;
  ASSERT_EQ(read_meta_file(meta_, &meta, &error), MetaRead::kOk);
  c.restore = &meta;
  Store s(c, clock_);
  EXPECT_EQ(get(s, "a").result, Lookup::kHit);
  clock_.advance_for_testing(101);
  EXPECT_EQ(get(s, "a").result, Lookup::kFlushed);
}

TEST_F(RestartTest, CorruptMetadataIsRefused) {
  {
    std::ofstream(meta_).close();  // empty
    RestartMeta m;
    std::string error;
    EXPECT_EQ(read_meta_file(meta_, &m, &error), MetaRead::kInvalid);
    EXPECT_NE(error.find("empty"), std::string::npos) << error;
  }
  {
    Store s(MakeConfig(), clock_);
    Fill(s, 100);
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error));
  }
  std::string bytes;
  {
    std::ifstream in(meta_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  RestartMeta m;
  std::string error;
  ASSERT_TRUE(decode_meta(bytes, &m, &error)) << error;
  for (size_t i = 0; i < bytes.size(); i += 7) {  // any flipped byte, any truncation
    std::string bad = bytes;
    bad[i] ^= 0x40;
    EXPECT_FALSE(decode_meta(bad, &m, &error)) << i;
    EXPECT_FALSE(decode_meta(bytes.substr(0, i), &m, &error)) << i;
  }
  EXPECT_EQ(read_meta_file(path_ + ".absent", &m, &error), MetaRead::kAbsent);
}

TEST_F(RestartTest, ChangedSettingsStartClean) {
  {
    Store s(MakeConfig(8), clock_);
    Fill(s, 100);
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error));
  }
  RestartMeta meta;
  std::string error;
  ASSERT_EQ(read_meta_file(meta_, &meta, &error), MetaRead::kOk);
  Config c = MakeConfig(16);
  c.restore = &meta;
  Store s(c, clock_);
  EXPECT_EQ(s.warm_start(), WarmStart::kCold);
  EXPECT_NE(s.warm_start_message().find("[maxbytes]"), std::string::npos) << s.warm_start_message();
  EXPECT_EQ(s.stats().curr_items, 0u);
  EXPECT_EQ(get(s, "k1").result, Lookup::kMiss);
  EXPECT_EQ(put(s, "k1", "fresh"), StoreResult::kStored);

  Config c2 = MakeConfig(8);
  c2.item_size_max = 2 << 20;
  c2.restore = &meta;
  c2.memory_file = path_ + ".2";
  Store s2(c2, clock_);
  EXPECT_NE(s2.warm_start_message().find("[item_size_max]"), std::string::npos);
  unlink(c2.memory_file.c_str());
}

TEST_F(RestartTest, DamagedMemoryFileNeverServesADamagedItem) {
  {
    Store s(MakeConfig(), clock_);
    Fill(s, 5000);
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error));
  }
  RestartMeta meta;
  std::string error;
  ASSERT_EQ(read_meta_file(meta_, &meta, &error), MetaRead::kOk);
  ASSERT_GE(meta.segments.size(), 2u);
  // Scribble over the first segment's items: its checksum fails, it is dropped; the others
  // are served.
  {
    FILE* f = fopen(path_.c_str(), "r+");
    ASSERT_NE(f, nullptr);
    fseek(f, static_cast<long>(meta.segments[0].offset + 200), SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
  }
  // A record pointing out of the file is dropped too, not followed.
  meta.segments.push_back(meta.segments.back());
  meta.segments.back().offset = uint64_t{1} << 40;
  Config c = MakeConfig();
  c.restore = &meta;
  {
    Store s(c, clock_);
    ASSERT_EQ(s.warm_start(), WarmStart::kRestored);
    EXPECT_NE(s.warm_start_message().find("dropped 2"), std::string::npos)
        << s.warm_start_message();
    size_t hits = 0;
    for (int i = 0; i < 5000; ++i) {
      const testing::Got g = get(s, "k" + std::to_string(i));
      if (g.result == Lookup::kHit) {
        ++hits;
        EXPECT_EQ(g.value, "v" + std::to_string(i) + std::string(i % 50, 'x'));
      }
    }
    EXPECT_GT(hits, 0u);
    EXPECT_LT(hits, 5000u);
  }
  // A truncated memory file: its size no longer matches, so everything starts clean.
  ASSERT_EQ(truncate(path_.c_str(), 4096), 0);
  Store s(c, clock_);
  EXPECT_NE(s.warm_start(), WarmStart::kFailed);
  for (int i = 0; i < 5000; i += 97) {
    const testing::Got g = get(s, "k" + std::to_string(i));
    if (g.result == Lookup::kHit) {
      EXPECT_EQ(g.value, "v" + std::to_string(i) + std::string(i % 50, 'x'));
    }
  }
}

TEST_F(RestartTest, OneStorePerFile) {
  Store a(MakeConfig(), clock_);
  ASSERT_EQ(a.warm_start(), WarmStart::kCold);
  Store b(MakeConfig(), clock_);
  EXPECT_EQ(b.warm_start(), WarmStart::kFailed);
  EXPECT_NE(b.warm_start_message().find("in use"), std::string::npos) << b.warm_start_message();
}

// Garbage whose checksums were recomputed to match (what a bug, not a bit flip, could leave):
// the bounds checks alone must keep the restore from reading outside a segment. Run under
// ASan (MEMSHIELD_SANITIZE) this is the test of index_segment's checks.
TEST_F(RestartTest, GarbageWithMatchingChecksumsStaysInBounds) {
  {
    Store s(MakeConfig(), clock_);
    Fill(s, 3000);
    std::string error;
    ASSERT_TRUE(s.save_for_restart(meta_, &error));
  }
  RestartMeta meta;
  std::string error;
  ASSERT_EQ(read_meta_file(meta_, &meta, &error), MetaRead::kOk);
  std::string file;
  {
    std::ifstream in(path_, std::ios::binary);
    file.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint8_t>(seed >> 56);
  };
  for (int round = 0; round < 20; ++round) {
    std::string bad = file;
    RestartMeta m = meta;
    for (SegmentRecord& r : m.segments) {
      const size_t header = sizeof(Segment);  // the in-file header is rebuilt at restore
      char* data = bad.data() + r.offset + header;
      // Flip a few bytes, or (every fourth round) all of them; then vouch for the result.
      if (round % 4 == 0) {
        for (size_t i = 0; i < r.used; ++i) data[i] = static_cast<char>(next());
      } else {
        for (int k = 0; k < 8; ++k) data[next() * r.used / 256] ^= static_cast<char>(next() | 1);
      }
      r.checksum = XXH3_64bits(data, r.used);
    }
    {
      std::ofstream out(path_, std::ios::binary | std::ios::trunc);
      out.write(bad.data(), static_cast<std::streamsize>(bad.size()));
    }
    Config c = MakeConfig();
    c.restore = &m;
    Store s(c, clock_);
    ASSERT_EQ(s.warm_start(), WarmStart::kRestored);
    size_t n = 0;
    for (size_t sh = 0; sh < s.shard_count(); ++sh) {
      s.for_each_in_shard(sh, [&](const ItemView& v) {
        n += v.key.size() + v.value.size() > 0 ? 1 : 0;
        return true;
      });
    }
    EXPECT_LE(n, 3000u);
    EXPECT_EQ(put(s, "after", "ok"), StoreResult::kStored);
    EXPECT_EQ(get(s, "after").value, "ok");
  }
}

}  // namespace
}  // namespace memshield::store
