// See prefix_stats.h.
#include "engine/prefix_stats.h"

#include <cinttypes>
#include <cstdio>

namespace memshield::engine {

PrefixStats& PrefixStats::disabled() {
  static PrefixStats off;
  return off;
}

PrefixStats::Counts* PrefixStats::find(std::string_view key) {
  size_t end = key.find(delimiter_);
  if (end == std::string_view::npos) return nullptr;
  std::string prefix(key.substr(0, end));
  auto it = index_.find(prefix);
  if (it != index_.end()) return &entries_[it->second].second;
  if (entries_.size() >= kMaxPrefixes) return nullptr;
  index_.emplace(prefix, entries_.size());
  entries_.emplace_back(std::move(prefix), Counts{});
  return &entries_.back().second;
}

void PrefixStats::record_get(std::string_view key, bool hit) {
  std::lock_guard<std::mutex> g(mu_);
  if (Counts* c = find(key)) {
    ++c->get;
    if (hit) ++c->hit;
  }
}

void PrefixStats::record_set(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  if (Counts* c = find(key)) ++c->set;
}

void PrefixStats::record_delete(std::string_view key) {
  std::lock_guard<std::mutex> g(mu_);
  if (Counts* c = find(key)) ++c->del;
}

void PrefixStats::dump(OutBuffer& out) const {
  std::lock_guard<std::mutex> g(mu_);
  char buf[128];
  for (const auto& [prefix, c] : entries_) {
    out.append("PREFIX ", 7);
    out.append(prefix);
    int n = snprintf(buf, sizeof(buf),
                     " get %" PRIu64 " hit %" PRIu64 " set %" PRIu64 " del %" PRIu64 "\r\n", c.get,
                     c.hit, c.set, c.del);
    out.append(buf, static_cast<size_t>(n));
  }
  out.append("END\r\n", 5);
}

void PrefixStats::reset() {
  std::lock_guard<std::mutex> g(mu_);
  index_.clear();
  entries_.clear();
}

size_t PrefixStats::size() const {
  std::lock_guard<std::mutex> g(mu_);
  return entries_.size();
}

}  // namespace memshield::engine
