// The watch event log; see watch_log.h. Line formats are memcached 1.6.18's, observed on the
// wire: "ts=<sec>.<usec> gid=<n> type=<...> ...\n" (usec not zero-padded, as memcached prints).
#include "engine/watch_log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace memshield::engine {

uint32_t parse_watch_kinds(std::string_view args, bool* ok) {
  *ok = true;
  uint32_t kinds = 0;
  size_t i = 0;
  while (i < args.size()) {
    if (args[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = args.find(' ', i);
    if (end == std::string_view::npos) end = args.size();
    std::string_view w = args.substr(i, end - i);
    i = end;
    if (w == "fetchers")
      kinds |= kWatchFetchers;
    else if (w == "mutations")
      kinds |= kWatchMutations;
    else if (w == "evictions")
      kinds |= kWatchEvictions;
    else if (w == "connevents")
      kinds |= kWatchConnEvents;
    else if (w == "rawcmds")
      kinds |= kWatchRawCmds;
    else if (w == "sysevents")
      kinds |= kWatchSysEvents;
    else if (w == "proxyreqs")
      kinds |= kWatchProxyReqs;
    else if (w == "proxyuser")
      kinds |= kWatchProxyUser;
    else if (w == "proxyevents")
      kinds |= kWatchProxyEvents;
    else if (w == "deletions")
      kinds |= kWatchDeletions;
    else {
      *ok = false;
      return 0;
    }
  }
  return kinds == 0 ? kWatchFetchers : kinds;
}

void uri_encode(std::string_view key, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : key) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('%');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 15]);
    }
  }
}

bool Watcher::offer(std::string_view line, uint64_t* skipped_total) {
  std::lock_guard<std::mutex> g(mu_);
  if (head_ > 0 && head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  char skip[48];
  size_t skip_len = 0;
  if (skipped_ > 0) {
    skip_len = static_cast<size_t>(
        snprintf(skip, sizeof(skip), "skipped=%llu\n", static_cast<unsigned long long>(skipped_)));
  }
  if (buf_.size() - head_ + skip_len + line.size() > capacity_) {
    ++skipped_;
    ++*skipped_total;
    return false;
  }
  if (head_ > capacity_) {  // compact once the drained prefix is large
    buf_.erase(0, head_);
    head_ = 0;
  }
  if (skip_len > 0) {
    buf_.append(skip, skip_len);
    skipped_ = 0;
  }
  buf_.append(line);
  return true;
}

size_t Watcher::drain(std::string* out, size_t max) {
  std::lock_guard<std::mutex> g(mu_);
  size_t n = std::min(max, buf_.size() - head_);
  out->append(buf_, head_, n);
  head_ += n;
  if (head_ == buf_.size()) {
    buf_.clear();
    head_ = 0;
  }
  return n;
}

std::shared_ptr<Watcher> EventLog::add_watcher(uint32_t kinds) {
  auto w = std::make_shared<Watcher>(kinds, watcher_bytes_);
  std::lock_guard<std::mutex> g(list_mu_);
  auto next = std::make_shared<List>(*list_);
  next->push_back(w);
  uint32_t mask = 0;
  for (const auto& x : *next) mask |= x->kinds();
  list_ = std::move(next);
  mask_.store(mask, std::memory_order_relaxed);
  active.store((mask & kWatchEvictions) != 0, std::memory_order_relaxed);
  nwatchers_.fetch_add(1, std::memory_order_relaxed);
  return w;
}

void EventLog::remove_watcher(const Watcher* w) {
  std::lock_guard<std::mutex> g(list_mu_);
  auto next = std::make_shared<List>();
  uint32_t mask = 0;
  for (const auto& x : *list_) {
    if (x.get() == w) continue;
    next->push_back(x);
    mask |= x->kinds();
  }
  if (next->size() == list_->size()) return;
  list_ = std::move(next);
  mask_.store(mask, std::memory_order_relaxed);
  active.store((mask & kWatchEvictions) != 0, std::memory_order_relaxed);
  nwatchers_.fetch_sub(1, std::memory_order_relaxed);
}

void EventLog::emit(uint32_t kind, std::string_view body) {
  std::shared_ptr<const List> list;
  {
    std::lock_guard<std::mutex> g(list_mu_);
    list = list_;
  }
  timeval tv;
  gettimeofday(&tv, nullptr);
  char head[64];
  int n =
      snprintf(head, sizeof(head), "ts=%lld.%ld gid=%llu ", static_cast<long long>(tv.tv_sec),
               static_cast<long>(tv.tv_usec),
               static_cast<unsigned long long>(gid_.fetch_add(1, std::memory_order_relaxed) + 1));
  std::string line;
  line.reserve(static_cast<size_t>(n) + body.size() + 1);
  line.append(head, static_cast<size_t>(n));
  line.append(body);
  line.push_back('\n');
  uint64_t skipped = 0, sent = 0;
  for (const auto& w : *list) {
    if ((w->kinds() & kind) != 0 && w->offer(line, &skipped)) ++sent;
  }
  if (sent != 0) sent_.fetch_add(sent, std::memory_order_relaxed);
  if (skipped != 0) skipped_.fetch_add(skipped, std::memory_order_relaxed);
}

namespace {
const char* lookup_status(store::Lookup r) {
  switch (r) {
    case store::Lookup::kHit:
      return "found";
    case store::Lookup::kExpired:
      return "expired";
    case store::Lookup::kFlushed:
      return "flushed";
    default:
      return "not_found";
  }
}
}  // namespace

void EventLog::item_get(std::string_view key, store::Lookup result, size_t value_size, int cfd) {
  std::string b = "type=item_get key=";
  uri_encode(key, &b);
  const bool hit = result == store::Lookup::kHit;
  char tail[96];
  snprintf(tail, sizeof(tail), " status=%s clsid=%d cfd=%d size=%zu", lookup_status(result),
           hit ? 1 : 0, cfd, hit ? value_size : 0);
  b += tail;
  emit(kWatchFetchers, b);
}

void EventLog::lookup(store::Store& store, std::string_view key, int cfd) {
  store::MetaGetOptions peek;
  peek.no_update = true;
  peek.peek = true;
  size_t size = 0;
  store::Lookup r =
      store.meta_get(key, peek, [&](const store::ItemView& it) { size = it.value.size(); });
  item_get(key, r, size, cfd);
}

size_t EventLog::peek_size(store::Store& store, std::string_view key) {
  store::MetaGetOptions peek;
  peek.no_update = true;
  peek.peek = true;
  size_t size = 0;
  store.meta_get(key, peek, [&](const store::ItemView& it) { size = it.value.size(); });
  return size;
}

void EventLog::deleted(std::string_view key, std::string_view cmd, size_t value_size) {
  std::string b = "type=deleted key=";
  uri_encode(key, &b);
  b += " cmd=";
  b += cmd;
  char tail[48];
  snprintf(tail, sizeof(tail), " clsid=1 size=%zu", value_size);
  b += tail;
  emit(kWatchDeletions, b);
}

void EventLog::item_store(std::string_view key, std::string_view status, std::string_view cmd,
                          int64_t ttl, size_t value_size, int cfd) {
  std::string b = "type=item_store key=";
  uri_encode(key, &b);
  b += " status=";
  b += status;
  b += " cmd=";
  b += cmd;
  char tail[96];
  snprintf(tail, sizeof(tail), " ttl=%lld clsid=1 cfd=%d size=%zu", static_cast<long long>(ttl),
           cfd, value_size);
  b += tail;
  emit(kWatchMutations, b);
}

void EventLog::conn_event(bool open, const sockaddr_storage* peer, bool error, int cfd) {
  char ip[INET6_ADDRSTRLEN] = "unix";
  unsigned port = 0;
  const char* transport = "local";
  if (peer != nullptr && peer->ss_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(peer);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
    port = ntohs(in->sin_port);
    transport = "tcp";
  } else if (peer != nullptr && peer->ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(peer);
    inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    port = ntohs(in6->sin6_port);
    transport = "tcp";
  }
  char b[160];
  if (open) {
    snprintf(b, sizeof(b), "type=conn_new rip=%s rport=%u transport=%s cfd=%d", ip, port, transport,
             cfd);
  } else {
    snprintf(b, sizeof(b), "type=conn_close rip=%s rport=%u transport=%s reason=%s cfd=%d", ip,
             port, transport, error ? "error" : "normal", cfd);
  }
  emit(kWatchConnEvents, b);
}

void EventLog::evicted(const store::EvictedItem& e) {
  if (!wants(kWatchEvictions)) return;
  std::string b = "type=eviction key=";
  uri_encode(e.key, &b);
  char tail[128];
  snprintf(tail, sizeof(tail), " fetch=%s ttl=%lld la=%u clsid=1 size=%zu",
           e.fetched ? "yes" : "no", static_cast<long long>(e.ttl), e.last_access, e.value_size);
  b += tail;
  emit(kWatchEvictions, b);
}

}  // namespace memshield::engine
