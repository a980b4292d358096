// Executes text-protocol requests; see text_session.h. Answers and the counters they move follow
// memcached 1.6's proto_text behaviour, including its noreply rules: with noreply every answer of
// the command is suppressed, errors too.
#include "engine/text_session.h"

#include <algorithm>
#include <cstring>

#include "common/itoa.h"
#include "common/log.h"
#include "common/number_parse.h"
#include "protocol/text/keys.h"
#include "protocol/text/parser.h"

namespace memshield::engine {

using protocol::text::Cmd;
using protocol::text::Request;

namespace {

// A key dump stops producing while this much of it waits to be sent.
constexpr size_t kDumpBacklog = 256u << 10;

// memcached accepts tokens of any length; ours must fit a user, a space and a password.
constexpr size_t kMaxAuthToken = 4096;

store::Mode mode_of(Cmd c) {
  switch (c) {
    case Cmd::kAdd: return store::Mode::kAdd;
    case Cmd::kReplace: return store::Mode::kReplace;
    case Cmd::kAppend: return store::Mode::kAppend;
    case Cmd::kPrepend: return store::Mode::kPrepend;
    case Cmd::kCas: return store::Mode::kCas;
    default: return store::Mode::kSet;
  }
}

// "VALUE <key> <flags> <bytes>[ <cas>]\r\n<data>\r\n"
void append_value(OutBuffer& out, const store::ItemView& it, bool with_cas) {
  const bool inline_value = it.value.size() <= 1024;
  // key <= 250 bytes, numbers <= 20 digits each: the header always fits in one block.
  char* p = out.reserve(it.key.size() + 64 + (inline_value ? it.value.size() + 2 : 0));
  char* const start = p;
  memcpy(p, "VALUE ", 6);
  p += 6;
  memcpy(p, it.key.data(), it.key.size());
  p += it.key.size();
  *p++ = ' ';
  p = write_u64(p, it.flags);
  *p++ = ' ';
  p = write_u64(p, it.value.size());
  if (with_cas) {
    *p++ = ' ';
    p = write_u64(p, it.cas());
  }
  *p++ = '\r';
  *p++ = '\n';
  if (inline_value) {
    // Small values: one contiguous copy with the header.
    memcpy(p, it.value.data(), it.value.size());
    p += it.value.size();
    *p++ = '\r';
    *p++ = '\n';
    out.commit(p - start);
    return;
  }
  out.commit(p - start);
  out.append(it.value.data(), it.value.size());
  out.append("\r\n", 2);
}

const char* cmd_name(Cmd c) {
  switch (c) {
    case Cmd::kAdd:
      return "add";
    case Cmd::kReplace:
      return "replace";
    case Cmd::kAppend:
      return "append";
    case Cmd::kPrepend:
      return "prepend";
    case Cmd::kCas:
      return "cas";
    default:
      return "set";
  }
}

// How often and how much a shrinking cache_memlimit evicts at a time.
constexpr size_t kShrinkSegmentsPerStep = 16;
constexpr int kShrinkSteps = 16;

}  // namespace

TextSession::~TextSession() {
  if (watcher_ != nullptr) ctx_.events->remove_watcher(watcher_.get());
}

size_t TextSession::pump(OutBuffer& out, size_t max) {
  if (watcher_ == nullptr) return 0;
  pump_buf_.clear();
  size_t n = watcher_->drain(&pump_buf_, max);
  if (n > 0) out.append(pump_buf_.data(), n);
  if (pump_buf_.capacity() > (64u << 10)) std::string().swap(pump_buf_);
  return n;
}

void TextSession::watch_lookup(std::string_view key) {
  EventLog* ev = ctx_.events;
  if (ev == nullptr || !ev->wants(kWatchFetchers)) return;
  ev->lookup(*ctx_.store, key, id_);
}

void TextSession::do_watch(const Request& req, OutBuffer& out) {
  EventLog* ev = ctx_.events;
  if (ev == nullptr || !ev->enabled()) {
    reply(out, "CLIENT_ERROR watch commands not allowed");
    return;
  }
  bool ok = false;
  const uint32_t kinds = parse_watch_kinds(req.args, &ok);
  if (!ok) {
    reply(out, "ERROR");
    return;
  }
  reply(out, "OK");
  watcher_ = ev->add_watcher(kinds);
  state_ = State::kWatching;
}

// Shrinking evicts the oldest segments a few at a time and unmaps them; each step holds no lock
// beyond one item's shard lock at a time, so other workers keep serving meanwhile. This
// connection's worker does at most kShrinkSteps steps (256 segments: 4 MB to 256 MB, a few ms
// per 100 MB); the server's ticker does the rest, a slice every 200 ms.
void TextSession::do_cache_memlimit(const Request& req, OutBuffer& out) {
  store::Store& store = *ctx_.store;
  store.set_memory_limit(static_cast<size_t>(req.delta) << 20);
  for (int i = 0; i < kShrinkSteps && store.shrink_step(kShrinkSegmentsPerStep); ++i) {
  }
  reply(out, "OK");
}

void TextSession::reply(OutBuffer& out, std::string_view line) {
  if (noreply_) return;
  char* p = out.reserve(line.size() + 2);
  memcpy(p, line.data(), line.size());
  p[line.size()] = '\r';
  p[line.size() + 1] = '\n';
  out.commit(line.size() + 2);
  MS_LOG(2, ">%d %.*s", id_, static_cast<int>(line.size()), line.data());
}

TextSession::Result TextSession::process(std::string_view in, OutBuffer& out, size_t out_limit,
                                         uint32_t max_requests) {
  Result res;
  meta_.held.clear();  // memcached has sent the replies of the last input by now
  answers_held_ = false;
  size_t pos = 0;
  uint32_t served = 0;
  while ((pos < in.size() || state_ == State::kDump) && !res.close) {
    switch (state_) {
      case State::kDump: {
        // A key dump: one chunk per turn, and only while less than kDumpBacklog waits to be
        // sent, so the dump goes at the pace the client reads it (the worker resumes it when
        // the socket drains) instead of in bursts that would keep other connections waiting.
        const bool room = out.size() < std::min(out_limit, kDumpBacklog);
        if (room) dump_.step(*ctx_.store, *ctx_.clock, out);
        if (dump_.active()) {
          res.consumed = pos;
          res.more_output = true;
          res.yield = room;
          return res;
        }
        state_ = State::kLine;
        res.progress = true;
        break;
      }
      case State::kWatching:  // a watcher's input is ignored, as memcached ignores it
        res.consumed = in.size();
        return res;
      case State::kSwallow: {
        size_t n = std::min(pending_bytes_, in.size() - pos);
        pos += n;
        pending_bytes_ -= n;
        if (pending_bytes_ == 0) {
          state_ = State::kLine;
          reply(out, deferred_reply_);
          res.progress = true;
        }
        break;
      }
      case State::kAuthToken: {
        size_t n = std::min(auth_need_, in.size() - pos);
        auth_token_.append(in.data() + pos, n);
        pos += n;
        auth_need_ -= n;
        if (auth_need_ == 0) {
          finish_auth(out);
          res.progress = true;
        }
        break;
      }
      case State::kValue: {
        const size_t vsize = item_.value_size();
        pos += item_.fill(&value_filled_, in.substr(pos));
        while (value_filled_ == vsize && crlf_filled_ < 2 && pos < in.size()) {
          crlf_[crlf_filled_++] = in[pos++];
        }
        if (crlf_filled_ == 2) {
          finish_store(out);
          res.progress = true;
        }
        break;
      }
      case State::kLine: {
        if (out.size() > out_limit) {
          res.consumed = pos;
          return res;
        }
        protocol::text::Line line;
        auto st = protocol::text::find_line(in.substr(pos), &line);
        if (st == protocol::text::LineStatus::kNeedMore) {
          res.consumed = pos;
          return res;
        }
        if (st == protocol::text::LineStatus::kLine && max_requests != 0 &&
            served >= max_requests) {
          res.consumed = pos;
          res.yield = true;
          return res;
        }
        if (st == protocol::text::LineStatus::kTooLong) {
          // memcached drops such a connection without a word; so do we.
          MS_LOG(1, "<%d closing: request line over %zu bytes without a newline", id_,
                 protocol::text::kMaxLineWithoutNewline);
          protocol_error_ = true;
          res.consumed = in.size();
          res.close = true;
          res.abort = true;
          return res;
        }
        MS_LOG(2, "<%d %.*s", id_, static_cast<int>(line.text.size()), line.text.data());
        if (!authenticated_) {
          pos += line.consumed;
          res.progress = true;
          if (!begin_auth(line.text, out)) {
            res.consumed = in.size();
            return res;
          }
          break;
        }
        Request req;
        protocol::text::parse_line(line.text, &req);
        pos += line.consumed;
        execute(req, out, &res.close);
        res.progress = true;
        ++served;
        if (state_ == State::kWatching) {
          res.stream = true;
          res.consumed = in.size();
          return res;
        }
        break;
      }
    }
  }
  res.consumed = pos;
  return res;
}

// Before authentication only "set <key> <flags> <exptime> <bytes> ..." is understood, its data
// being "<user> <password>"; every other line is refused and, like memcached, the rest of what
// the client sent with it is dropped. noreply is ignored: the answer is the point.
bool TextSession::begin_auth(std::string_view line, OutBuffer& out) {
  noreply_ = false;
  std::string_view tokens[5];
  size_t n = 0;
  for (size_t i = 0; i < line.size() && n < 5;) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    size_t end = line.find(' ', i);
    if (end == std::string_view::npos) end = line.size();
    tokens[n++] = line.substr(i, end - i);
    i = end;
  }
  int32_t vlen = 0;
  if (n < 5 || tokens[0] != "set" || !parse_i32(tokens[4], &vlen) || vlen < 0) {
    reply(out, "CLIENT_ERROR unauthenticated");
    return false;
  }
  if (static_cast<size_t>(vlen) > kMaxAuthToken) {  // no sane "<user> <password>": not kept
    swallow(static_cast<size_t>(vlen) + 2, "CLIENT_ERROR bad authentication token format");
    return true;
  }
  auth_token_.clear();
  auth_need_ = static_cast<size_t>(vlen) + 2;
  state_ = State::kAuthToken;
  return true;
}

void TextSession::finish_auth(OutBuffer& out) {
  state_ = State::kLine;
  noreply_ = false;
  std::string_view token = auth_token_;
  if (token.size() < 2 || token.substr(token.size() - 2) != "\r\n") {
    reply(out, "CLIENT_ERROR bad command line termination");
  } else {
    token.remove_suffix(2);
    std::string_view user, password;
    size_t u = token.find_first_not_of(' ');
    size_t ue = u == std::string_view::npos ? u : token.find(' ', u);
    size_t p = ue == std::string_view::npos ? ue : token.find_first_not_of(' ', ue);
    if (p == std::string_view::npos) {
      reply(out, "CLIENT_ERROR bad authentication token format");
    } else {
      user = token.substr(u, ue - u);
      password = token.substr(p, token.find(' ', p) - p);
      stats_.auth_cmds.add();
      if (ctx_.ascii_auth->check(user, password)) {
        authenticated_ = true;
        reply(out, "STORED");
      } else {
        stats_.auth_errors.add();
        reply(out, "CLIENT_ERROR authentication failure");
      }
    }
  }
  auth_token_.clear();
  auth_token_.shrink_to_fit();
}

void TextSession::execute(const Request& req, OutBuffer& out, bool* close) {
  const size_t out_before = out.size();
  execute_command(req, out, close);
  // What memcached would still hold unsent when a metadump arrives: answers since the last
  // command that makes it send at once (the get family and mn flush its pipeline).
  const bool flushes = (req.cmd >= Cmd::kGet && req.cmd <= Cmd::kGats) ||
                       (req.cmd == Cmd::kMeta && req.args.substr(0, 2) == "mn");
  if (flushes) {
    answers_held_ = false;
  } else if (out.size() != out_before) {
    answers_held_ = true;
  }
}

void TextSession::execute_command(const Request& req, OutBuffer& out, bool* close) {
  noreply_ = req.noreply;
  store::Store& store = *ctx_.store;
  switch (req.cmd) {
    case Cmd::kGet:
    case Cmd::kGets:
    case Cmd::kGat:
    case Cmd::kGats:
      meta_.held.clear();  // memcached's get releases the items of the replies queued before it
      do_get(req, out);
      break;
    case Cmd::kSet:
    case Cmd::kAdd:
    case Cmd::kReplace:
    case Cmd::kAppend:
    case Cmd::kPrepend:
    case Cmd::kCas:
      begin_store(req, out);
      break;
    case Cmd::kDelete:
      if (detail_.on()) detail_.record_delete(req.key);  // hit or miss, as memcached
      watch_lookup(req.key);
      {
        EventLog* ev = ctx_.events;
        const bool watch_del = ev != nullptr && ev->wants(kWatchDeletions);
        const size_t del_size = watch_del ? EventLog::peek_size(store, req.key) : 0;
        if (!store.remove(req.key)) {
          stats_.delete_misses.add();
          reply(out, "NOT_FOUND");
          break;
        }
        if (watch_del) ev->deleted(req.key, "delete", del_size);
      }
      {
        stats_.delete_hits.add();
        reply(out, "DELETED");
      }
      break;
    case Cmd::kIncr:
    case Cmd::kDecr: {
      bool incr = req.cmd == Cmd::kIncr;
      uint64_t value = 0;
      watch_lookup(req.key);
      switch (store.delta(req.key, incr, req.delta, &value, nullptr, 0, !meta_.held.take(req.key))) {
        case store::DeltaStatus::kOk: {
          (incr ? stats_.incr_hits : stats_.decr_hits).add();
          char buf[24];
          char* end = write_u64(buf, value);
          reply(out, std::string_view(buf, end - buf));
          break;
        }
        case store::DeltaStatus::kNotFound:
          (incr ? stats_.incr_misses : stats_.decr_misses).add();
          reply(out, "NOT_FOUND");
          break;
        case store::DeltaStatus::kNonNumeric:
          reply(out, "CLIENT_ERROR cannot increment or decrement non-numeric value");
          break;
        case store::DeltaStatus::kNoMemory:
          reply(out, "SERVER_ERROR out of memory");
          break;
        case store::DeltaStatus::kExists:  // only with a CAS, which text incr/decr never send
          break;
      }
      break;
    }
    case Cmd::kTouch: {
      stats_.cmd_touch.add();
      RelTime exptime = ctx_.clock->expiry_from_protocol(req.exptime);
      watch_lookup(req.key);
      if (store.touch(req.key, exptime)) {
        stats_.touch_hits.add();
        reply(out, "TOUCHED");
      } else {
        stats_.touch_misses.add();
        reply(out, "NOT_FOUND");
      }
      break;
    }
    case Cmd::kFlushAll:
      do_flush_all(req, out);
      break;
    case Cmd::kVersion: {
      char buf[64];
      size_t n = std::min(ctx_.options.version.size(), sizeof(buf) - 8);
      memcpy(buf, "VERSION ", 8);
      memcpy(buf + 8, ctx_.options.version.data(), n);
      reply(out, std::string_view(buf, n + 8));
      break;
    }
    case Cmd::kVerbosity:
      log::set_verbosity(std::min<uint32_t>(req.verbosity, 2));
      reply(out, "OK");
      break;
    case Cmd::kQuit:
      if (!req.args.empty()) protocol_error_ = true;  // HTTP spoken to the cache
      *close = true;
      break;
    case Cmd::kWatch:
      do_watch(req, out);
      break;
    case Cmd::kCacheMemlimit:
      do_cache_memlimit(req, out);
      break;
    case Cmd::kShutdown:
      if (!ctx_.options.shutdown_command) {
        reply(out, "ERROR: shutdown not enabled");
      } else if (req.args.empty() || req.args == "graceful") {
        ctx_.hooks->shutdown(!req.args.empty());
        *close = true;
      } else {
        reply(out, "CLIENT_ERROR invalid shutdown mode");
      }
      break;
    case Cmd::kStats:
      ctx_.hooks->stats(req.args, out);
      break;
    case Cmd::kShield:
      ctx_.hooks->shield(req.args, peer_, out);
      break;
    case Cmd::kRefreshCerts: {
      std::string error;
      if (ctx_.hooks->refresh_certs(&error)) {
        reply(out, "OK");
      } else {
        out.append(error + "\r\n");  // memcached sends its errors even with noreply
      }
      break;
    }
    case Cmd::kReply:
      reply(out, req.reply);
      break;
    case Cmd::kMeta:
      do_meta(req, out);
      break;
    case Cmd::kLruCrawler:
      do_lru_crawler(req, out);
      break;
    case Cmd::kLru:
      ctx_.hooks->lru(req.args, out);
      break;
  }
}

// `lru_crawler metadump <all|hash|ids>` streams from here (see key_dump.h); the crawler's other
// subcommands belong to the server. Refusals follow memcached 1.6.18's order: crawler off, -X,
// answers already waiting in this batch, then the class list.
void TextSession::do_lru_crawler(const Request& req, OutBuffer& out) {
  std::string_view words[3];
  size_t n = 0;
  for (std::string_view a = req.args; !a.empty() && n < 3;) {
    size_t sp = a.find(' ');
    if (sp != 0) words[n++] = a.substr(0, sp);
    a = sp == std::string_view::npos ? std::string_view() : a.substr(sp + 1);
  }
  // mgdump: memcached 1.6.19+ (1.6.18 answers ERROR), the same walk as metadump in mg lines.
  const bool mg = n > 0 && words[0] == "mgdump";
  if (n == 0 || (words[0] != "metadump" && !mg)) {
    ctx_.hooks->lru_crawler(req.args, out);
    return;
  }
  if (n != 2) {
    out.append("ERROR\r\n", 7);
    return;
  }
  std::string_view refusal = ctx_.hooks->metadump_refusal();
  if (!refusal.empty()) {
    out.append(refusal);
    out.append("\r\n", 2);
    return;
  }
  if (answers_held_) {
    // memcached hands the socket to its crawler, so the dump cannot follow answers it has not
    // sent yet (those of this read, since the last get or mn).
    out.append("ERROR cannot pipeline other commands before metadump\r\n");
    return;
  }
  bool items = false;
  if (!parse_dump_classes(words[1], &items)) {
    out.append("BADCLASS invalid class id\r\n");
    return;
  }
  if (mg) out.append("OK\r\n", 4);  // memcached 1.6.45 acknowledges an mgdump first
  dump_.start(items, mg);
  state_ = State::kDump;
}

void TextSession::do_meta(const Request& req, OutBuffer& out) {
  noreply_ = false;  // meta quiet mode is per answer; MetaCommands applies it
  MetaCommands::Action a = meta_.execute(req.args, out, &item_);
  if (a.kind == MetaCommands::Action::kSwallow) {
    swallow(a.swallow_bytes, a.reply);
  } else if (a.kind == MetaCommands::Action::kReadValue) {
    meta_set_ = true;
    value_filled_ = 0;
    crlf_filled_ = 0;
    state_ = State::kValue;
  }
}

void TextSession::do_get(const Request& req, OutBuffer& out) {
  const bool touch = req.cmd == Cmd::kGat || req.cmd == Cmd::kGats;
  const bool with_cas = req.cmd == Cmd::kGets || req.cmd == Cmd::kGats;
  const RelTime exptime = touch ? ctx_.clock->expiry_from_protocol(req.exptime) : 0;
  size_t vsize = 0;
  auto visit = [&](const store::ItemView& it) {
    vsize = it.value.size();
    append_value(out, it, with_cas);
  };
  EventLog* ev = ctx_.events;
  protocol::text::for_each_key(req.keys, [&](std::string_view key) {
    store::Lookup r = touch ? ctx_.store->get_and_touch(key, exptime, visit)
                            : ctx_.store->get(key, visit);
    if (ev != nullptr && ev->wants(kWatchFetchers)) ev->item_get(key, r, vsize, id_);
    if (detail_.on()) detail_.record_get(key, r == store::Lookup::kHit);
    if (touch) {
      stats_.cmd_touch.add();
      (r == store::Lookup::kHit ? stats_.touch_hits : stats_.touch_misses).add();
    } else {
      stats_.cmd_get.add();
      (r == store::Lookup::kHit ? stats_.get_hits : stats_.get_misses).add();
    }
    if (r == store::Lookup::kExpired) stats_.get_expired.add();
    if (r == store::Lookup::kFlushed) stats_.get_flushed.add();
    return true;
  });
  out.append("END\r\n", 5);
}

void TextSession::begin_store(const Request& req, OutBuffer& out) {
  store::Store& store = *ctx_.store;
  if (detail_.on()) detail_.record_set(req.key);  // before any check, as memcached counts it
  const size_t data_bytes = static_cast<size_t>(req.vlen) + 2;
  store::AllocStatus st = store::AllocStatus::kTooLarge;
  if (store.size_ok(req.key.size(), req.flags, req.vlen)) {
    RelTime exptime = ctx_.clock->expiry_from_protocol(req.exptime);
    store_exptime_ = exptime;
    st = store.allocate(req.key, req.flags, exptime, req.vlen, &item_);
  }
  if (st != store::AllocStatus::kOk) {
    std::string_view answer = "SERVER_ERROR object too large for cache";
    if (st == store::AllocStatus::kTooLarge) {
      stats_.store_too_large.add();
    } else {
      stats_.store_no_memory.add();
      answer = "SERVER_ERROR out of memory storing object";
    }
    // memcached drops the old value of a failed set, so readers never see stale data.
    if (req.cmd == Cmd::kSet) store.remove(req.key);
    swallow(data_bytes, answer);
    return;
  }
  store_cmd_ = req.cmd;
  cas_unique_ = req.cas_unique;
  value_filled_ = 0;
  crlf_filled_ = 0;
  state_ = State::kValue;
}

void TextSession::finish_store(OutBuffer& out) {
  state_ = State::kLine;
  answers_held_ = true;  // a storage command's answer is held as any other (see execute)
  if (meta_set_) {
    meta_set_ = false;
    meta_.finish_set(std::move(item_), crlf_[0] == '\r' && crlf_[1] == '\n', out);
    return;
  }
  stats_.cmd_set.add();
  if (crlf_[0] != '\r' || crlf_[1] != '\n') {
    item_ = store::NewItem();
    reply(out, "CLIENT_ERROR bad data chunk");
    return;
  }
  const bool is_cas = store_cmd_ == Cmd::kCas;
  EventLog* ev = ctx_.events;
  const bool watch_store = ev != nullptr && ev->wants(kWatchMutations);
  std::string wkey;
  size_t wsize = 0;
  if (watch_store) {
    wkey = item_.key();
    wsize = item_.value_size();
  }
  if (ev != nullptr && ev->wants(kWatchFetchers)) watch_lookup(item_.key());
  const store::StoreResult sr =
      ctx_.store->store(std::move(item_), mode_of(store_cmd_), cas_unique_);
  if (watch_store) {
    if (sr == store::StoreResult::kStored &&
        (store_cmd_ == Cmd::kAppend || store_cmd_ == Cmd::kPrepend)) {
      // memcached logs the joined item's size
      ctx_.store->get(wkey, [&](const store::ItemView& it) { wsize = it.value.size(); });
    }
    static const char* const kStatus[] = {"stored", "not_stored", "exists", "not_found",
                                          "no_memory"};
    const RelTime now = ctx_.clock->now();
    const int64_t ttl = store_exptime_ == 0 ? 0 : static_cast<int64_t>(store_exptime_) - now;
    ev->item_store(wkey, kStatus[static_cast<int>(sr)], cmd_name(store_cmd_), ttl, wsize, id_);
  }
  switch (sr) {
    case store::StoreResult::kStored:
      if (is_cas) stats_.cas_hits.add();
      reply(out, "STORED");
      break;
    case store::StoreResult::kNotStored:
      reply(out, "NOT_STORED");
      break;
    case store::StoreResult::kExists:
      if (is_cas) stats_.cas_badval.add();
      reply(out, "EXISTS");
      break;
    case store::StoreResult::kNotFound:
      if (is_cas) stats_.cas_misses.add();
      reply(out, "NOT_FOUND");
      break;
    case store::StoreResult::kNoMemory:
      stats_.store_no_memory.add();
      reply(out, "SERVER_ERROR out of memory storing object");
      break;
  }
}

void TextSession::do_flush_all(const Request& req, OutBuffer& out) {
  stats_.cmd_flush.add();
  if (!ctx_.options.flush_enabled) {
    reply(out, "CLIENT_ERROR flush_all not allowed");
    return;
  }
  RelTime when = 0;
  if (req.has_delay && req.exptime > 0) when = ctx_.clock->expiry_from_protocol(req.exptime);
  ctx_.store->flush(when);
  reply(out, "OK");
}

}  // namespace memshield::engine
