// The `lru_crawler` and `lru` subcommands' answers (memcached 1.6.18's), the settings they
// change, and a crawl reclaiming expired items on the crawler's thread.
#include "server/lru_admin.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/clock.h"

namespace memshield::server {
namespace {

class LruAdminTest : public ::testing::Test {
 protected:
  std::string crawler(std::string_view args) {
    OutBuffer out;
    admin_.lru_crawler(args, out);
    return out.to_string();
  }
  std::string lru(std::string_view args) {
    OutBuffer out;
    admin_.lru(args, out);
    return out.to_string();
  }
  void put(const std::string& key, RelTime exptime) {
    store::NewItem it;
    ASSERT_EQ(store_.allocate(key, 0, exptime, 1, &it), store::AllocStatus::kOk);
    size_t filled = 0;
    it.fill(&filled, "x");
    ASSERT_EQ(store_.store(std::move(it), store::Mode::kSet, 0), store::StoreResult::kStored);
  }

  Settings settings_;
  Clock clock_;
  store::Store store_{store::Config{}, clock_};
  LruState state_{settings_};
  LruAdmin admin_{store_, state_, true};
};

TEST_F(LruAdminTest, CrawlerSubcommandsAnswerAsMemcached) {
  EXPECT_EQ(crawler("enable"), "ERROR failed to start lru crawler thread\r\n");
  EXPECT_EQ(crawler("disable"), "OK\r\n");
  EXPECT_EQ(crawler("disable"), "OK\r\n");
  EXPECT_EQ(crawler("crawl 1"), "CLIENT_ERROR lru crawler disabled\r\n");
  EXPECT_EQ(admin_.metadump_refusal(), "CLIENT_ERROR lru crawler disabled");
  EXPECT_EQ(crawler("enable"), "OK\r\n");
  EXPECT_EQ(admin_.metadump_refusal(), "");
  EXPECT_EQ(crawler("sleep 10"), "OK\r\n");
  EXPECT_EQ(crawler("sleep 1000001"), "CLIENT_ERROR sleep must be one second or less\r\n");
  EXPECT_EQ(crawler("sleep x"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(crawler("tocrawl 5"), "OK\r\n");
  EXPECT_EQ(crawler("tocrawl x"), "CLIENT_ERROR bad command line format\r\n");
  EXPECT_EQ(state_.crawler_sleep.load(), 10u);
  EXPECT_EQ(state_.crawler_tocrawl.load(), 5u);
  EXPECT_EQ(crawler("crawl 0"), "BADCLASS invalid class id\r\n");
  EXPECT_EQ(crawler("crawl 64"), "BADCLASS invalid class id\r\n");
  EXPECT_EQ(crawler("crawl x"), "BADCLASS invalid class id\r\n");
  EXPECT_EQ(crawler("crawl"), "ERROR\r\n");
  EXPECT_EQ(crawler(""), "ERROR\r\n");
  EXPECT_EQ(crawler("foo"), "ERROR\r\n");
}

TEST_F(LruAdminTest, LruSubcommandsAnswerAsMemcached) {
  EXPECT_EQ(lru("mode flat"), "OK\r\n");
  EXPECT_FALSE(state_.segmented.load());
  EXPECT_EQ(lru("mode segmented"), "OK\r\n");
  EXPECT_TRUE(state_.segmented.load());
  EXPECT_EQ(lru("mode x"), "ERROR\r\n");
  EXPECT_EQ(lru("temp_ttl 10"), "OK\r\n");
  EXPECT_TRUE(state_.temp_lru.load());
  EXPECT_EQ(lru("temp_ttl -1"), "OK\r\n");
  EXPECT_FALSE(state_.temp_lru.load());
  EXPECT_EQ(state_.temporary_ttl.load(), 10u);
  EXPECT_EQ(lru("temp_ttl x"), "ERROR\r\n");
  EXPECT_EQ(lru("tune 10 20 0.1 2"), "OK\r\n");
  EXPECT_EQ(lru("tune 10 71 0.1 2"), "ERROR hot and warm pcts must not exceed 80\r\n");
  EXPECT_EQ(lru("tune 10 20 0 2"), "ERROR hot/warm age factors must be greater than 0\r\n");
  EXPECT_EQ(lru("tune 10 20 0.1"), "ERROR\r\n");
  EXPECT_EQ(lru("segmented"), "ERROR\r\n");
  EXPECT_EQ(lru("mode flat noreply"), "");  // lru takes noreply; lru_crawler does not
  EXPECT_FALSE(state_.segmented.load());
  EXPECT_EQ(lru("mode x noreply"), "");
  EXPECT_EQ(crawler("enable noreply"), "ERROR\r\n");
  EXPECT_EQ(lru("temp_ttl 99999999999"), "OK\r\n");
  EXPECT_EQ(lru(""), "ERROR\r\n");
}

TEST_F(LruAdminTest, WithoutTheMaintainerModeAndTempTtlAreUnknown) {
  Settings s;
  s.lru_maintainer = false;
  LruState st(s);
  LruAdmin a(store_, st, true);
  OutBuffer out;
  a.lru("mode flat", out);
  a.lru("temp_ttl 5", out);
  a.lru("tune 10 20 0.1 2", out);
  EXPECT_EQ(out.to_string(), "ERROR\r\nERROR\r\nOK\r\n");
}

TEST_F(LruAdminTest, CrawlReclaimsExpiredItemsOnItsThread) {
  for (int i = 0; i < 30; ++i) put("ifoo" + std::to_string(i), 0);
  for (int i = 0; i < 30; ++i) put("sfoo" + std::to_string(i), clock_.now() + 1);
  clock_.advance_for_testing(2);
  EXPECT_EQ(crawler("sleep 0"), "OK\r\n");
  EXPECT_EQ(crawler("crawl all"), "OK\r\n");
  EXPECT_EQ(state_.crawler_starts.load(), 1u);
  for (int i = 0; i < 500 && state_.crawler_running.load(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(state_.crawler_running.load());
  EXPECT_EQ(store_.stats().curr_items, 30u);
  EXPECT_EQ(store_.stats().crawler_reclaimed, 30u);
}

TEST_F(LruAdminTest, DashXRefusesMetadump) {
  LruAdmin a(store_, state_, false);
  EXPECT_EQ(a.metadump_refusal(), "ERROR metadump not allowed");
}

}  // namespace
}  // namespace memshield::server
