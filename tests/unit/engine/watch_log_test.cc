// The watch event log: kinds parsed as memcached 1.6.18 accepts them, keys URI-encoded, a full
// watcher buffer drops lines and then says how many with "skipped=N", lines carry ts= and gid=.
#include "engine/watch_log.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace memshield::engine {
namespace {

TEST(WatchKinds, DefaultIsFetchersAndUnknownWordsAreRefused) {
  bool ok = false;
  EXPECT_EQ(parse_watch_kinds("", &ok), kWatchFetchers);
  EXPECT_TRUE(ok);
  EXPECT_EQ(parse_watch_kinds("mutations  evictions", &ok), kWatchMutations | kWatchEvictions);
  EXPECT_TRUE(ok);
  // memcached 1.6.19+'s kind (1.6.18 answers ERROR): taken.
  EXPECT_EQ(parse_watch_kinds("deletions", &ok), kWatchDeletions);
  EXPECT_TRUE(ok);
  parse_watch_kinds("FETCHERS", &ok);
  EXPECT_FALSE(ok);
}

TEST(WatchKeys, UriEncodedAsMemcached) {
  std::string out;
  uri_encode("a-b._~Z9 %#\x01", &out);
  EXPECT_EQ(out, "a-b._~Z9%20%25%23%01");
}

TEST(WatchLog, SlowWatcherDropsLinesThenGetsSkippedMarker) {
  EventLog log(256);
  auto w = log.add_watcher(kWatchFetchers);
  EXPECT_EQ(log.watchers(), 1u);
  for (int i = 0; i < 20; ++i) log.item_get("key" + std::to_string(i), store::Lookup::kMiss, 0, 7);
  EXPECT_GT(log.skipped(), 0u);
  std::string out;
  w->drain(&out, 1 << 20);
  EXPECT_LE(out.size(), 256u);
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(^ts=\d+\.\d+ gid=1 type=item_get key=key0 )"
                                                R"(status=not_found clsid=0 cfd=7 size=0\n)")));
  out.clear();
  log.item_get("after", store::Lookup::kHit, 3, 7);
  w->drain(&out, 1 << 20);
  EXPECT_TRUE(std::regex_match(out, std::regex(R"(skipped=\d+\nts=\S+ gid=\d+ type=item_get )"
                                               R"(key=after status=found clsid=1 cfd=7 size=3\n)")))
      << out;
  log.remove_watcher(w.get());
  EXPECT_EQ(log.watchers(), 0u);
  EXPECT_FALSE(log.wants(kWatchFetchers));
}

TEST(WatchLog, KindsGoOnlyToTheirWatchersAndEvictionsArmTheListener) {
  EventLog log(1 << 16);
  auto f = log.add_watcher(kWatchFetchers);
  EXPECT_FALSE(log.active.load());
  auto m = log.add_watcher(kWatchMutations | kWatchEvictions);
  EXPECT_TRUE(log.active.load());
  log.item_store("k", "stored", "set", 0, 4, 3);
  store::EvictedItem e;
  e.key = "old";
  e.value_size = 9;
  log.evicted(e);
  std::string a, b;
  f->drain(&a, 1 << 20);
  m->drain(&b, 1 << 20);
  EXPECT_EQ(a, "");
  EXPECT_TRUE(std::regex_search(b, std::regex(R"(type=item_store key=k status=stored cmd=set )"
                                              R"(ttl=0 clsid=1 cfd=3 size=4\n)")));
  EXPECT_TRUE(std::regex_search(b, std::regex(R"(type=eviction key=old fetch=no ttl=-1 la=0 )"
                                              R"(clsid=1 size=9\n$)")));
  log.remove_watcher(m.get());
  EXPECT_FALSE(log.active.load());
}

// watch deletions (memcached 1.6.19+): memcached 1.6.45's "deleted" line, only to its watchers.
TEST(WatchLog, DeletionsLineFormat) {
  EventLog log(1 << 16);
  auto d = log.add_watcher(kWatchDeletions);
  auto m = log.add_watcher(kWatchMutations);
  log.deleted("k y", "md", 0);
  log.item_store("k", "stored", "set", 0, 4, 3);
  std::string a, b;
  d->drain(&a, 1 << 20);
  m->drain(&b, 1 << 20);
  EXPECT_TRUE(std::regex_match(a, std::regex(R"(ts=\d+\.\d+ gid=\d+ type=deleted key=k%20y cmd=md )"
                                             R"(clsid=1 size=0\n)")));
  EXPECT_EQ(b.find("deleted"), std::string::npos);
}

}  // namespace
}  // namespace memshield::engine
