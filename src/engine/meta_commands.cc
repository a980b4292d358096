// Meta-protocol execution; see meta_commands.h. Return flags are echoed in the order the client
// sent them, then Z/X/W; 'q' hides only the answers memcached 1.6.18 hides: EN for mg, HD for
// ms/md, and HD/VA of an ma that found its item. Errors are never hidden.
#include "engine/meta_commands.h"

#include <cstdio>

#include "common/itoa.h"
#include "protocol/text/meta_parser.h"

namespace memshield::engine {

using protocol::text::MetaCmd;
using protocol::text::MetaRequest;

namespace {

void put_line(OutBuffer& out, std::string_view line) {
  out.append(line);
  out.append("\r\n", 2);
}

void put_num(std::string* s, uint64_t v) {
  char buf[24];
  s->append(buf, write_u64(buf, v) - buf);
}

void put_key(std::string* s, std::string_view key, bool binary) {
  s->append(" k");
  if (!binary) {
    s->append(key);
    return;
  }
  protocol::text::base64_encode(key, s);
  s->append(" b");
}

// The O (opaque) and k (key) return flags, which every meta answer echoes the same way. False
// for any other flag.
bool echo_opaque_or_key(std::string_view flag, std::string_view key, bool binary,
                        std::string* s) {
  if (flag[0] == 'O') {
    s->push_back(' ');
    s->append(flag);
    return true;
  }
  if (flag[0] == 'k') {
    put_key(s, key, binary);
    return true;
  }
  return false;
}

// Echoes the O and k flags (every answer that has no item carries only these).
void echo_opaque_key(const MetaRequest& r, std::string* s) {
  for (size_t i = 0; i < r.nflags; ++i) echo_opaque_or_key(r.flags[i], r.key, r.key_binary, s);
}

// memcached's default slab classes (-n 48, -f 1.25, 1 MB pages): the class an item lands in.
unsigned slab_class(size_t total) {
  constexpr double kFactor = 1.25;
  constexpr unsigned kChunkMax = 512 * 1024;
  unsigned size = 96;
  for (unsigned i = 1; i < 63; ++i) {
    if (kChunkMax / kFactor < size) return i;
    if (size % 8) size += 8 - size % 8;
    if (total <= size) return i;
    size = static_cast<unsigned>(size * kFactor);
  }
  return 63;
}

}  // namespace

MetaCommands::Action MetaCommands::execute(std::string_view line, OutBuffer& out,
                                           store::NewItem* item) {
  MetaRequest r;
  protocol::text::parse_meta(line, &r);
  Action act;
  if (!r.error.empty()) {
    if (r.opaque_error_at != 0) {
      // memcached has looked the key up (marking it fetched, vivifying it with N) and applied
      // the flags before the O token when it finds the token too long; only the answer is lost.
      MetaRequest before;
      protocol::text::parse_meta(line.substr(0, r.opaque_error_at), &before);
      if (before.error.empty()) {
        if (r.vivify && !before.vivify) {  // memcached reads N before the lookup, wherever it is
          before.vivify = true;
          before.vivify_ttl = r.vivify_ttl;
        }
        const HeldKeys held_before = held;  // the error releases the item memcached fetched
        OutBuffer discarded;
        do_mg(before, discarded, /*answer_lost=*/true);
        held = held_before;
      }
    }
    if (r.swallow) {
      act.kind = Action::kSwallow;
      act.swallow_bytes = size_t{r.vlen} + 2;
      act.reply = r.error;
    } else {
      put_line(out, r.error);
    }
    return act;
  }
  switch (r.cmd) {
    case MetaCmd::kNoop:
      put_line(out, "MN");
      held.clear();  // memcached's mn writes its replies out at once
      break;
    case MetaCmd::kDebug:
      do_me(r, out);
      break;
    case MetaCmd::kGet:
      do_mg(r, out);
      break;
    case MetaCmd::kSet:
      return do_ms(r, item);
    case MetaCmd::kDelete:
      do_md(r, out);
      break;
    case MetaCmd::kArith:
      do_ma(r, out);
      break;
  }
  return act;
}

void MetaCommands::do_me(const MetaRequest& r, OutBuffer& out) {
  store::Store& store = *ctx_.store;
  const Clock& clock = *ctx_.clock;
  std::string s;
  store::MetaGetOptions opts;
  opts.no_update = true;
  opts.peek = true;  // memcached's me leaves the win token alone (difffuzz)
  auto visit = [&](const store::ItemView& v) {
    const RelTime now = clock.now();
    size_t size = 48 + (store.config().use_cas ? 8 : 0) + v.key.size() + 1 + v.value.size() + 2 +
                  (v.flags != 0 ? 4 : 0);
    char buf[160];
    int exp = v.exptime == 0 ? -1 : static_cast<int>(now - v.exptime);
    int n =
        snprintf(buf, sizeof(buf), " exp=%d la=%u cas=%llu fetch=%s cls=%u size=%zu", exp,
                 static_cast<unsigned>(now - v.last_access), static_cast<unsigned long long>(v.cas()),
                 v.fetched ? "yes" : "no", slab_class(size), size);
    s = "ME ";
    if (v.key_binary) {  // printed encoded (without " b") when it arrived as base64
      protocol::text::base64_encode(v.key, &s);
    } else {
      s.append(v.key);
    }
    s.append(buf, static_cast<size_t>(n));
  };
  if (store.meta_get(r.key, opts, visit) != store::Lookup::kHit) s = "EN";
  put_line(out, s);
}

namespace {
// 'N' or 'T', whichever of the two flags comes last in the request (0 if neither).
char last_of_n_t(const protocol::text::MetaRequest& r) {
  char last = 0;
  for (size_t i = 0; i < r.nflags; ++i) {
    if (r.flags[i][0] == 'N' || r.flags[i][0] == 'T') last = r.flags[i][0];
  }
  return last;
}
}  // namespace

void MetaCommands::do_mg(const MetaRequest& r, OutBuffer& out, bool answer_lost) {
  store::Store& store = *ctx_.store;
  const Clock& clock = *ctx_.clock;
  std::string s;
  store::MetaGetOptions opts;
  opts.peek = answer_lost;
  if (r.has_ttl) opts.set_ttl = true, opts.ttl = clock.expiry_from_protocol(r.ttl);
  // A vivified item takes the TTL of whichever of N and T comes last (memcached's order).
  if (r.vivify) {
    opts.vivify = true;
    opts.vivify_ttl = clock.expiry_from_protocol(last_of_n_t(r) == 'T' ? r.ttl : r.vivify_ttl);
  }
  if (r.has_recache) {
    opts.recache = true;
    opts.recache_before = clock.expiry_from_protocol(r.recache);
    for (size_t i = 0; i < r.nflags; ++i) {  // which of T and R memcached applies first
      if (r.flags[i][0] == 'T' || r.flags[i][0] == 'R') {
        opts.recache_after_ttl = r.flags[i][0] == 'T';
        break;
      }
    }
  }
  opts.no_update = r.no_update;
  bool hit = false;
  size_t watched_size = 0;
  auto visit = [&](const store::ItemView& v) {
    hit = true;
    watched_size = v.value.size();
    const RelTime now = clock.now();
    if (r.value) {
      s = "VA ";
      put_num(&s, v.value.size());
    } else {
      s = "HD";
    }
    // memcached applies the flags in request order: t shows the TTL as of its position.
    RelTime cur = v.old_exptime;
    for (size_t i = 0; i < r.nflags; ++i) {
      std::string_view f = r.flags[i];
      switch (f[0]) {
        case 'T':
          cur = clock.expiry_from_protocol(r.ttl);
          break;
        case 'N':
          if (v.created) cur = clock.expiry_from_protocol(r.vivify_ttl);
          break;
        case 's':
          s += " s";
          put_num(&s, v.value.size());
          break;
        case 't': {
          const RelTime e = cur;
          s += " t";
          if (e == 0) {
            s += "-1";
          } else {
            put_num(&s, static_cast<uint32_t>(e - now));  // memcached's: unsigned once past
          }
          break;
        }
        case 'c':
          s += " c";
          put_num(&s, v.cas());
          break;
        case 'f':
          s += " f";
          put_num(&s, v.flags);
          break;
        case 'l':
          s += " l";
          put_num(&s, now - v.last_access);
          break;
        case 'h':
          s += v.fetched ? " h1" : " h0";
          break;
        default:
          echo_opaque_or_key(f, v.key, v.key_binary, &s);
          break;
      }
    }
    if (v.token_sent) s += " Z";
    if (v.stale) s += " X";
    if (v.won) s += " W";
    put_line(out, s);
    if (r.value) {
      out.append(v.value);
      out.append("\r\n", 2);
    }
  };
  const store::Lookup looked = store.meta_get(r.key, opts, visit);
  if (EventLog* ev = ctx_.events; ev != nullptr && ev->wants(kWatchFetchers)) {
    ev->item_get(r.key, looked, hit ? watched_size : 0, cfd);
  }
  if (hit && !r.key_binary) held.add(r.key);
  stats_.cmd_get.add();
  (hit ? stats_.get_hits : stats_.get_misses).add();
  if (!hit && !r.quiet) {
    s = "EN";
    echo_opaque_key(r, &s);
    put_line(out, s);
  }
}

MetaCommands::Action MetaCommands::do_ms(const MetaRequest& r, store::NewItem* item) {
  store::Store& store = *ctx_.store;
  const Clock& clock = *ctx_.clock;
  Action act;
  store::AllocStatus st = store::AllocStatus::kTooLarge;
  if (store.size_ok(r.key.size(), r.client_flags, r.vlen)) {
    RelTime exptime = r.has_ttl ? clock.expiry_from_protocol(r.ttl) : 0;
    st = store.allocate(r.key, r.client_flags, exptime, r.vlen, item, r.invalidate);
  }
  if (st != store::AllocStatus::kOk) {
    act.kind = Action::kSwallow;
    act.swallow_bytes = size_t{r.vlen} + 2;
    act.reply = st == store::AllocStatus::kTooLarge ? "SERVER_ERROR object too large for cache"
                                                    : "SERVER_ERROR out of memory storing object";
    (st == store::AllocStatus::kTooLarge ? stats_.store_too_large : stats_.store_no_memory).add();
    store.remove(r.key);  // memcached drops the old value whatever the mode
    return act;
  }
  set_flags_.clear();
  for (size_t i = 0; i < r.nflags; ++i) {
    set_flags_ += r.flags[i];
    set_flags_ += ' ';
  }
  set_key_.assign(r.key);
  set_ttl_ = r.has_ttl ? r.ttl : 0;
  set_quiet_ = r.quiet;
  set_binary_ = r.key_binary;
  set_invalidate_ = r.invalidate;
  set_has_cas_ = r.has_cas;
  set_cas_ = r.cas;
  set_mode_ = r.mode;
  act.kind = Action::kReadValue;
  return act;
}

void MetaCommands::do_md(const MetaRequest& r, OutBuffer& out) {
  store::Store& store = *ctx_.store;
  const Clock& clock = *ctx_.clock;
  std::string s;
  store::MetaDeleteOptions opts;
  opts.has_cas = r.has_cas;
  opts.cas = r.cas;
  opts.invalidate = r.invalidate;
  opts.strip_value = r.strip_value;
  if (r.has_ttl) opts.set_ttl = true, opts.ttl = clock.expiry_from_protocol(r.ttl);
  if (EventLog* ev = ctx_.events; ev != nullptr && ev->wants(kWatchFetchers)) {
    ev->lookup(store, r.key, cfd);
  }
  EventLog* ev = ctx_.events;
  const bool watch_del = ev != nullptr && ev->wants(kWatchDeletions) && !r.invalidate;
  const size_t del_size = watch_del && !r.strip_value ? EventLog::peek_size(store, r.key) : 0;
  switch (store.meta_delete(r.key, opts)) {
    case store::MetaDeleteResult::kDeleted:
      if (watch_del) ev->deleted(r.key, "md", del_size);
      stats_.delete_hits.add();
      if (r.quiet) return;
      s = "HD";
      break;
    case store::MetaDeleteResult::kNotFound:
      stats_.delete_misses.add();
      s = "NF";
      break;
    case store::MetaDeleteResult::kExists:
      s = "EX";
      break;
  }
  echo_opaque_key(r, &s);
  put_line(out, s);
}

void MetaCommands::do_ma(const MetaRequest& r, OutBuffer& out) {
  store::Store& store = *ctx_.store;
  const Clock& clock = *ctx_.clock;
  std::string s;
  const bool incr = !(r.mode == 'D' || r.mode == '-');
  uint64_t value = 0, cas = 0;
  RelTime exptime = 0;
  store::MetaGetOptions peek;
  peek.no_update = true;
  peek.peek = true;
  auto look = [&](const store::ItemView& v) { exptime = v.exptime; };
  bool created = false;
  if (EventLog* ev = ctx_.events; ev != nullptr && ev->wants(kWatchFetchers)) {
    ev->lookup(store, r.key, cfd);
  }
  RelTime created_exptime = 0;
  // ma's T sets the TTL without making the item read (a touch would mark it fetched).
  auto retime = [&](std::string_view key, RelTime e) {
    store::MetaGetOptions o;
    o.set_ttl = true;
    o.ttl = e;
    o.no_update = true;
    o.peek = true;
    store.meta_get(key, o, [](const store::ItemView&) {});
  };
  // C is compared under the same lock as the update (C0 compares nothing, as in memcached).
  store::DeltaStatus ds = store.delta(r.key, incr, r.delta, &value, &cas, r.has_cas ? r.cas : 0,
                                      !held.take(r.key));
  if (ds == store::DeltaStatus::kNotFound && r.vivify) {
    char buf[24];
    size_t n = static_cast<size_t>(write_u64(buf, r.initial) - buf);
    store::NewItem fresh;
    RelTime e = clock.expiry_from_protocol(last_of_n_t(r) == 'T' ? r.ttl : r.vivify_ttl);
    created_exptime = e;
    if (store.allocate(r.key, 0, e, n, &fresh) == store::AllocStatus::kOk) {
      memcpy(fresh.value_data(), buf, n);
      store::MetaStoreOptions so;
      if (store.store_meta(std::move(fresh), store::Mode::kAdd, 0, so, &cas) ==
          store::StoreResult::kStored) {
        created = true;
        value = r.initial;
        ds = store::DeltaStatus::kOk;
      }
    }
  }
  switch (ds) {
    case store::DeltaStatus::kOk:
      (incr ? stats_.incr_hits : stats_.decr_hits).add();
      break;
    case store::DeltaStatus::kNotFound:
      (incr ? stats_.incr_misses : stats_.decr_misses).add();
      s = "NF";
      echo_opaque_key(r, &s);
      put_line(out, s);
      return;
    case store::DeltaStatus::kNonNumeric:
      put_line(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
      return;
    case store::DeltaStatus::kNoMemory:
      put_line(out, "SERVER_ERROR out of memory");
      return;
    case store::DeltaStatus::kExists:
      s = "EX";
      echo_opaque_key(r, &s);
      put_line(out, s);
      return;
  }
  if (r.quiet && !created) {
    if (r.has_ttl) retime(r.key, clock.expiry_from_protocol(r.ttl));
    return;
  }
  exptime = 0;
  store.meta_get(r.key, peek, look);
  // memcached applies the flags in request order: a t before the T (or, for a created item,
  // before N/T) shows the old TTL. A T that expired the item still shows.
  const RelTime old_exptime = created ? 0 : exptime;
  if (!created && r.has_ttl) {
    retime(r.key, clock.expiry_from_protocol(r.ttl));
    exptime = clock.expiry_from_protocol(r.ttl);
  }
  if (created) exptime = created_exptime;
  RelTime cur = old_exptime;  // the item's TTL as of the flag being echoed
  char num[24];
  size_t nlen = static_cast<size_t>(write_u64(num, value) - num);
  if (r.value) {
    s = "VA ";
    put_num(&s, nlen);
  } else {
    s = "HD";
  }
  const RelTime now = clock.now();
  for (size_t i = 0; i < r.nflags; ++i) {
    std::string_view f = r.flags[i];
    switch (f[0]) {
      case 'T':
        cur = clock.expiry_from_protocol(r.ttl);
        break;
      case 'N':
        if (created) cur = clock.expiry_from_protocol(r.vivify_ttl);
        break;
      case 't': {
        const RelTime e = cur;
        s += " t";
        if (e == 0) {
          s += "-1";
        } else {
          put_num(&s, static_cast<uint32_t>(e - now));  // memcached's: unsigned once past
        }
        break;
      }
      case 'c':
        s += " c";
        put_num(&s, cas);
        break;
      default:
        echo_opaque_or_key(f, r.key, r.key_binary, &s);
        break;
    }
  }
  put_line(out, s);
  if (r.value) {
    out.append(num, nlen);
    out.append("\r\n", 2);
  }
}

void MetaCommands::finish_set(store::NewItem&& item, bool crlf_ok, OutBuffer& out) {
  stats_.cmd_set.add();
  if (!crlf_ok) {
    item = store::NewItem();
    put_line(out, "CLIENT_ERROR bad data chunk");
    return;
  }
  store::Mode mode = store::Mode::kSet;
  switch (set_mode_) {
    case 'E':
      mode = store::Mode::kAdd;
      break;
    case 'A':
      mode = store::Mode::kAppend;
      break;
    case 'P':
      mode = store::Mode::kPrepend;
      break;
    default:  // set, and replace: with a C both are memcached's cas (C0 never matches)
      mode = set_has_cas_                ? store::Mode::kCas
             : set_mode_ == 'R' ? store::Mode::kReplace
                                : store::Mode::kSet;
      break;
  }
  store::MetaStoreOptions so;
  so.invalidate = set_invalidate_;
  so.key_binary = set_binary_;
  uint64_t cas = 0;
  std::string s;
  EventLog* ev = ctx_.events;
  const bool watch_store = ev != nullptr && ev->wants(kWatchMutations);
  const size_t vsize = item.value_size();
  if (ev != nullptr && ev->wants(kWatchFetchers)) ev->lookup(*ctx_.store, set_key_, cfd);
  // C: set and replace become a cas, append/prepend compare (C0: no compare), add ignores it.
  const store::StoreResult sr =
      ctx_.store->store_meta(std::move(item), mode, set_has_cas_ ? set_cas_ : 0, so, &cas);
  if (watch_store) {
    static const char* const kStatus[] = {"stored", "not_stored", "exists", "not_found",
                                          "no_memory"};
    static const char* const kCmd[] = {"set", "add", "replace", "append", "prepend", "cas"};
    ev->item_store(set_key_, kStatus[static_cast<int>(sr)], kCmd[static_cast<int>(mode)], set_ttl_,
                   vsize, cfd);
  }
  switch (sr) {
    case store::StoreResult::kStored:
      if (set_quiet_) return;
      s = "HD";
      break;
    case store::StoreResult::kNotStored:
      s = "NS";
      break;
    case store::StoreResult::kExists:
      s = "EX";
      break;
    case store::StoreResult::kNotFound:
      s = "NF";
      break;
    case store::StoreResult::kNoMemory:
      stats_.store_no_memory.add();
      put_line(out, "SERVER_ERROR out of memory storing object");
      return;
  }
  std::string_view flags = set_flags_;
  while (!flags.empty()) {
    size_t sp = flags.find(' ');
    std::string_view f = flags.substr(0, sp);
    flags.remove_prefix(sp + 1);
    switch (f[0]) {
      case 'c':
        s += " c";
        put_num(&s, cas);
        break;
      default:
        echo_opaque_or_key(f, set_key_, set_binary_, &s);
        break;
    }
  }
  put_line(out, s);
}

}  // namespace memshield::engine
