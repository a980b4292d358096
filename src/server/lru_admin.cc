// See lru_admin.h.
#include "server/lru_admin.h"

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "common/number_parse.h"

namespace memshield::server {
namespace {

constexpr size_t kMaxWords = 6;

size_t split(std::string_view args, std::string_view* words) {
  size_t n = 0;
  while (!args.empty()) {
    size_t sp = args.find(' ');
    std::string_view w = args.substr(0, sp);
    if (!w.empty()) {
      if (n == kMaxWords) return n + 1;  // too many for any subcommand
      words[n++] = w;
    }
    args = sp == std::string_view::npos ? std::string_view() : args.substr(sp + 1);
  }
  return n;
}

// memcached's class list for crawl: "all" or comma-separated ids 1..63.
bool parse_classes(std::string_view arg) {
  if (arg == "all") return true;
  bool any = false;
  while (!arg.empty()) {
    size_t comma = arg.find(',');
    std::string_view id = arg.substr(0, comma);
    arg = comma == std::string_view::npos ? std::string_view() : arg.substr(comma + 1);
    if (id.empty()) continue;
    uint32_t n = 0;
    if (!parse_u32(id, &n) || n == 0 || n >= 64) return false;
    any = true;
  }
  return any;
}

bool parse_double_word(std::string_view w, double* out) {
  std::string s(w);
  char* end = nullptr;
  *out = strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

bool parse_i64_word(std::string_view w, int64_t* out) {
  std::string s(w);
  char* end = nullptr;
  errno = 0;
  long long v = strtoll(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || errno == ERANGE) return false;
  *out = v;
  return true;
}

}  // namespace

LruAdmin::LruAdmin(store::Store& store, LruState& state, bool dump_enabled)
    : store_(store), state_(state), dump_enabled_(dump_enabled), thread_([this] { run(); }) {}

LruAdmin::~LruAdmin() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string_view LruAdmin::metadump_refusal() const {
  if (!state_.crawler_enabled.load()) return "CLIENT_ERROR lru crawler disabled";
  if (!dump_enabled_) return "ERROR metadump not allowed";
  return {};
}

void LruAdmin::lru_crawler(std::string_view args, OutBuffer& out) {
  std::string_view w[kMaxWords];
  const size_t n = split(args, w);
  auto answer = [&](std::string_view line) {
    out.append(line);
    out.append("\r\n", 2);
  };
  if (n == 1 && w[0] == "enable") {
    // memcached answers so when its crawler thread is already running.
    if (state_.crawler_enabled.exchange(true)) {
      return answer("ERROR failed to start lru crawler thread");
    }
    return answer("OK");
  }
  if (n == 1 && w[0] == "disable") {
    state_.crawler_enabled.store(false);
    return answer("OK");
  }
  if (n == 2 && (w[0] == "sleep" || w[0] == "tocrawl")) {
    uint32_t v = 0;
    if (!parse_u32(w[1], &v)) return answer("CLIENT_ERROR bad command line format");
    if (w[0] == "sleep") {
      if (v > 1000000) return answer("CLIENT_ERROR sleep must be one second or less");
      state_.crawler_sleep.store(v);
    } else {
      state_.crawler_tocrawl.store(v);
    }
    return answer("OK");
  }
  if (n == 2 && w[0] == "crawl") {
    if (!state_.crawler_enabled.load()) return answer("CLIENT_ERROR lru crawler disabled");
    if (!parse_classes(w[1])) return answer("BADCLASS invalid class id");
    {
      std::lock_guard<std::mutex> g(mu_);
      if (kicked_ || state_.crawler_running.load()) {
        return answer("BUSY currently processing crawler request");
      }
      kicked_ = true;
      // Running from the answer on, so a client polling lru_crawler_running sees the crawl.
      state_.crawler_running.store(true);
      state_.crawler_starts.fetch_add(1);
    }
    cv_.notify_one();
    // Every item is in class 1 here; a crawl of other classes walks the store too, which finds
    // only what a crawl of class 1 would (expired items), so the answer and effect are alike.
    return answer("OK");
  }
  answer("ERROR");
}

void LruAdmin::lru(std::string_view args, OutBuffer& out) {
  std::string_view w[kMaxWords];
  size_t n = split(args, w);
  // `lru` takes memcached's noreply (which silences every answer); `lru_crawler` does not.
  const bool noreply = n > 0 && n <= kMaxWords && w[n - 1] == "noreply";
  if (noreply) --n;
  auto answer = [&](std::string_view line) {
    if (noreply) return;
    out.append(line);
    out.append("\r\n", 2);
  };
  // Words past the ones a subcommand needs are ignored, as memcached does.
  if (n >= 5 && w[0] == "tune") {
    uint32_t hot = 0, warm = 0;
    double hot_f = 0, warm_f = 0;
    if (!parse_u32(w[1], &hot) || !parse_u32(w[2], &warm) || !parse_double_word(w[3], &hot_f) ||
        !parse_double_word(w[4], &warm_f)) {
      return answer("ERROR");
    }
    if (hot + warm > 80) return answer("ERROR hot and warm pcts must not exceed 80");
    if (hot_f <= 0 || warm_f <= 0) {
      return answer("ERROR hot/warm age factors must be greater than 0");
    }
    state_.hot_lru_pct.store(hot);
    state_.warm_lru_pct.store(warm);
    state_.hot_max_factor.store(hot_f);
    state_.warm_max_factor.store(warm_f);
    return answer("OK");
  }
  // mode and temp_ttl reconfigure memcached's LRU maintainer: without it, they are unknown.
  if (n >= 2 && w[0] == "mode" && state_.maintainer) {
    if (w[1] == "flat") {
      state_.segmented.store(false);
    } else if (w[1] == "segmented") {
      state_.segmented.store(true);
    } else {
      return answer("ERROR");
    }
    return answer("OK");
  }
  if (n >= 2 && w[0] == "temp_ttl" && state_.maintainer) {
    int64_t ttl = 0;  // memcached reads a long and keeps an int
    if (!parse_i64_word(w[1], &ttl)) return answer("ERROR");
    const int32_t kept = static_cast<int32_t>(static_cast<uint32_t>(ttl));  // as memcached's int
    if (kept < 0) {
      state_.temp_lru.store(false);
    } else {
      state_.temp_lru.store(true);
      state_.temporary_ttl.store(static_cast<uint32_t>(kept));
    }
    return answer("OK");
  }
  answer("ERROR");
}

void LruAdmin::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || kicked_; });
    if (stop_) return;
    lock.unlock();
    crawl_once();
    lock.lock();
    kicked_ = false;
    state_.crawler_running.store(false);
  }
}

// One crawl: every shard in turn, pausing lru_crawler_sleep microseconds between shards.
// At most lru_crawler_tocrawl items are examined in all (0: every item).
void LruAdmin::crawl_once() {
  const uint32_t tocrawl = state_.crawler_tocrawl.load();
  size_t left = tocrawl;
  for (size_t shard = 0; shard < store_.shard_count(); ++shard) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (stop_) return;
    }
    size_t checked = 0;
    {
      std::lock_guard<std::mutex> step(step_mu_);
      if (paused_.load()) return;
      store_.reclaim_in_shard(shard, tocrawl == 0 ? 0 : left, &checked);
    }
    if (tocrawl != 0) {
      left -= std::min(left, checked);
      if (left == 0) return;
    }
    const uint32_t sleep_us = state_.crawler_sleep.load();
    if (sleep_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
  }
}

void LruAdmin::pause() {
  paused_.store(true);
  std::lock_guard<std::mutex> step(step_mu_);  // waits out a shard step under way
}

}  // namespace memshield::server
