// Google Benchmark microbenchmarks of the item store through store.h's public API: get hit and
// miss, set over an existing key, set with eviction at a 2 MB limit, incr, and gets from two
// threads at once. Run: build/bin/memshield-micro --benchmark_filter=Store.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace {

namespace store = memshield::store;

constexpr int kKeys = 10000;
constexpr size_t kValue = 100;

std::vector<std::string> make_keys(int n, const char* prefix) {
  std::vector<std::string> keys;
  keys.reserve(n);
  for (int i = 0; i < n; ++i) keys.push_back(prefix + std::to_string(i));
  return keys;
}

bool put(store::Store& s, std::string_view key, std::string_view value) {
  store::NewItem item;
  if (s.allocate(key, 0, 0, value.size(), &item) != store::AllocStatus::kOk) return false;
  memcpy(item.value_data(), value.data(), value.size());
  return s.store(std::move(item), store::Mode::kSet, 0) == store::StoreResult::kStored;
}

// One store per benchmark run, filled with kKeys items of kValue bytes.
struct Filled {
  explicit Filled(size_t limit = 64u << 20) {
    store::Config c;
    c.memory_limit = limit;
    s = std::make_unique<store::Store>(c, clock);
    keys = make_keys(kKeys, "key:");
    std::string v(kValue, 'v');
    for (const auto& k : keys) put(*s, k, v);
  }
  memshield::Clock clock;
  std::unique_ptr<store::Store> s;
  std::vector<std::string> keys;
};

void BM_StoreGetHit(benchmark::State& state) {
  Filled f;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const auto& k = f.keys[i++ % kKeys];
    store::Lookup r = f.s->get(k, [&](const store::ItemView& v) { bytes += v.value.size(); });
    benchmark::DoNotOptimize(r);
  }
  benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_StoreGetHit);

void BM_StoreGetMiss(benchmark::State& state) {
  Filled f;
  auto misses = make_keys(kKeys, "absent:");
  size_t i = 0;
  for (auto _ : state) {
    store::Lookup r = f.s->get(misses[i++ % kKeys], [](const store::ItemView&) {});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_StoreGetMiss);

void BM_StoreSetOverwrite(benchmark::State& state) {
  Filled f;
  std::string v(kValue, 'w');
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(put(*f.s, f.keys[i++ % kKeys], v));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreSetOverwrite);

// 2 MB holds roughly ten thousand 100-byte items: new keys evict all the time.
void BM_StoreSetEvicting(benchmark::State& state) {
  memshield::Clock clock;
  store::Config c;
  c.memory_limit = 2u << 20;
  store::Store s(c, clock);
  auto keys = make_keys(200000, "ev:");
  std::string v(kValue, 'e');
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(put(s, keys[i++ % keys.size()], v));
  state.counters["evictions"] = static_cast<double>(s.stats().evictions);
}
BENCHMARK(BM_StoreSetEvicting);

void BM_StoreIncr(benchmark::State& state) {
  Filled f;
  put(*f.s, "counter", "0");
  uint64_t value = 0;
  for (auto _ : state) {
    store::DeltaStatus st = f.s->delta("counter", true, 1, &value);
    benchmark::DoNotOptimize(st);
  }
  benchmark::DoNotOptimize(value);
}
BENCHMARK(BM_StoreIncr);

// Two threads reading the same store (shared across the benchmark's threads).
std::unique_ptr<Filled> g_shared;

void BM_StoreGetHitThreads(benchmark::State& state) {
  if (state.thread_index() == 0) g_shared = std::make_unique<Filled>();
  // Google Benchmark starts every thread's loop together, after the setup above.
  size_t i = static_cast<size_t>(state.thread_index()) * 7919, bytes = 0;
  for (auto _ : state) {
    const auto& k = g_shared->keys[i++ % kKeys];
    g_shared->s->get(k, [&](const store::ItemView& v) { bytes += v.value.size(); });
  }
  benchmark::DoNotOptimize(bytes);
  if (state.thread_index() == 0) state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreGetHitThreads)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
