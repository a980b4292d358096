// Executes binary-protocol requests; see binary_session.h. Quiet variants suppress success
// (and, for gets, misses) but never errors, as memcached does; answers are written in request
// order, so a NOOP after a batch of quiet requests marks its end.
#include "engine/binary_session.h"

#include <algorithm>
#include <cstring>

#include "common/itoa.h"
#include "common/log.h"
#include "engine/binary_stats.h"
#include "engine/sasl_plain.h"
#include "protocol/binary/response.h"

namespace memshield::engine {

namespace bin = protocol::binary;
using bin::Check;
using bin::Header;
using bin::Status;

namespace {

bool is_quiet(uint8_t opcode) {
  switch (opcode) {
    case bin::op::kGetQ:
    case bin::op::kGetKQ:
    case bin::op::kSetQ:
    case bin::op::kAddQ:
    case bin::op::kReplaceQ:
    case bin::op::kDeleteQ:
    case bin::op::kIncrementQ:
    case bin::op::kDecrementQ:
    case bin::op::kQuitQ:
    case bin::op::kFlushQ:
    case bin::op::kAppendQ:
    case bin::op::kPrependQ:
    case bin::op::kGatQ:
    case bin::op::kGatKQ:
      return true;
    default:
      return false;
  }
}

// Opcodes memcached serves before a -S client has authenticated.
bool allowed_unauthenticated(uint8_t opcode) {
  return opcode == bin::op::kVersion || opcode == bin::op::kSaslListMechs ||
         opcode == bin::op::kSaslAuth || opcode == bin::op::kSaslStep;
}

store::Mode mode_of(uint8_t opcode) {
  switch (opcode) {
    case bin::op::kAdd:
    case bin::op::kAddQ:
      return store::Mode::kAdd;
    case bin::op::kReplace:
    case bin::op::kReplaceQ:
      return store::Mode::kReplace;
    case bin::op::kAppend:
    case bin::op::kAppendQ:
      return store::Mode::kAppend;
    case bin::op::kPrepend:
    case bin::op::kPrependQ:
      return store::Mode::kPrepend;
    default:
      return store::Mode::kSet;
  }
}

}  // namespace

void BinarySession::status(const Header& h, Status s, OutBuffer& out, uint64_t cas) {
  if (s == Status::kSuccess && is_quiet(h.opcode)) return;
  if (s != Status::kSuccess) held_.clear();  // memcached writes its queue at an error reply
  bin::ResponseParts parts;
  parts.value = bin::status_text(s);
  parts.cas = cas;
  bin::write_response(out, h.opcode, h.opaque, s, parts);
}

BinarySession::Result BinarySession::process(std::string_view in, OutBuffer& out, size_t out_limit,
                                             uint32_t max_requests) {
  Result res;
  held_.clear();  // memcached has sent the replies of the last input by now
  size_t pos = 0;
  uint32_t started = 0;  // -R: requests begun in this call
  while (pos < in.size() && !res.close) {
    switch (state_) {
      case State::kSwallow: {
        size_t n = std::min(pending_bytes_, in.size() - pos);
        pos += n;
        pending_bytes_ -= n;
        if (pending_bytes_ == 0) {
          state_ = State::kHeader;
          res.progress = true;
          if (answer_after_swallow_) {
            answer_after_swallow_ = false;
            bin::write_status(out, swallow_header_.opcode, swallow_header_.opaque,
                              swallow_status_);
          }
        }
        break;
      }
      case State::kValue: {
        pos += item_.fill(&value_filled_, in.substr(pos));
        if (value_filled_ == item_.value_size()) {
          finish_store(out);
          res.progress = true;
        }
        break;
      }
      case State::kHeader: {
        if (out.size() > out_limit) {
          res.consumed = pos;
          return res;
        }
        std::string_view rest = in.substr(pos);
        Header h;
        if (!bin::decode_header(rest, &h)) {
          res.consumed = pos;
          return res;
        }
        if (max_requests != 0 && started++ >= max_requests) {  // -R, as text (text_session.h)
          res.consumed = pos;
          res.yield = true;
          return res;
        }
        Check check = bin::check_request(h, ctx_.options.require_auth);
        if (check == Check::kBadMagic) {
          // Answers already queued still go out, as memcached sends them before closing.
          MS_LOG(1, "<%d closing: binary packet with bad magic 0x%02x", id_, h.magic);
          res.consumed = in.size();
          res.close = true;
          return res;
        }
        MS_LOG(2, "<%d binary opcode 0x%02x key %u body %u", id_, h.opcode, h.key_length,
               h.body_length);
        if (ctx_.options.require_auth && !authenticated_ && !allowed_unauthenticated(h.opcode)) {
          bin::write_status(out, h.opcode, h.opaque, Status::kAuthError);
          res.consumed = in.size();
          res.close = true;
          return res;
        }
        if (check == Check::kBadLengths || check == Check::kInvalid) {
          Status s = check == Check::kInvalid ? Status::kInvalidArguments : Status::kUnknownCommand;
          bin::write_status(out, h.opcode, h.opaque, s);
          res.consumed = in.size();
          res.close = true;
          return res;
        }
        if (check == Check::kUnknownCommand) {
          bin::write_status(out, h.opcode, h.opaque, Status::kUnknownCommand);
          pos += bin::kHeaderSize;
          pending_bytes_ = h.body_length;
          state_ = pending_bytes_ > 0 ? State::kSwallow : State::kHeader;
          res.progress = pending_bytes_ == 0;
          break;
        }
        // kOk. Opcodes with a value need only extras and key here; the rest of the body is
        // bounded by check_request (extras <= 255, key <= 65535, value 0 or a small SASL blob).
        const size_t head = bin::kHeaderSize + h.extras_length + h.key_length;
        if (bin::has_value(h.opcode)) {
          if (rest.size() < head) {
            res.consumed = pos;
            return res;
          }
          std::string_view extras = rest.substr(bin::kHeaderSize, h.extras_length);
          std::string_view key = rest.substr(bin::kHeaderSize + h.extras_length, h.key_length);
          pos += head;
          begin_store(h, extras, key, out);
          if (state_ == State::kHeader) res.progress = true;
          break;
        }
        const size_t total = bin::kHeaderSize + h.body_length;
        if (rest.size() < total) {
          res.consumed = pos;
          return res;
        }
        pos += total;
        execute(h, rest.substr(bin::kHeaderSize, h.body_length), out, &res);
        res.progress = true;
        break;
      }
    }
  }
  res.consumed = pos;
  return res;
}

void BinarySession::execute(const Header& h, std::string_view body, OutBuffer& out, Result* res) {
  std::string_view extras = body.substr(0, h.extras_length);
  std::string_view key = body.substr(h.extras_length, h.key_length);
  std::string_view value = body.substr(h.extras_length + h.key_length);
  switch (h.opcode) {
    case bin::op::kGet:
    case bin::op::kGetQ:
    case bin::op::kGetK:
    case bin::op::kGetKQ:
    case bin::op::kGat:
    case bin::op::kGatQ:
    case bin::op::kGatK:
    case bin::op::kGatKQ:
    case bin::op::kTouch:
      do_get(h, extras, key, out);
      break;
    case bin::op::kDelete:
    case bin::op::kDeleteQ:
      do_delete(h, key, out);
      break;
    case bin::op::kIncrement:
    case bin::op::kIncrementQ:
    case bin::op::kDecrement:
    case bin::op::kDecrementQ:
      do_delta(h, extras, key, out);
      break;
    case bin::op::kQuit:
    case bin::op::kQuitQ:
      status(h, Status::kSuccess, out);
      res->close = true;
      break;
    case bin::op::kFlush:
    case bin::op::kFlushQ: {
      stats_.cmd_flush.add();
      if (!ctx_.options.flush_enabled) {
        status(h, Status::kAuthError, out);
        break;
      }
      uint32_t delay = extras.size() == 4 ? bin::load_be32(extras.data()) : 0;
      ctx_.store->flush(delay > 0 ? ctx_.clock->expiry_from_protocol(delay) : 0);
      status(h, Status::kSuccess, out);
      break;
    }
    case bin::op::kNoop:
      status(h, Status::kSuccess, out);
      held_.clear();  // memcached writes its queued replies at a noop, releasing their items
      break;
    case bin::op::kVersion: {
      bin::ResponseParts parts;
      parts.value = ctx_.options.version;
      bin::write_response(out, h.opcode, h.opaque, Status::kSuccess, parts);
      break;
    }
    case bin::op::kStat:
      answer_stat(*ctx_.hooks, h, key, out);
      break;
    case bin::op::kSaslListMechs:
    case bin::op::kSaslAuth:
    case bin::op::kSaslStep:
      do_sasl(h, key, value, out);
      break;
    default:
      bin::write_status(out, h.opcode, h.opaque, Status::kUnknownCommand);
      break;
  }
}

void BinarySession::do_get(const Header& h, std::string_view extras, std::string_view key,
                           OutBuffer& out) {
  const uint8_t opc = h.opcode;
  const bool touch_only = opc == bin::op::kTouch;
  const bool touch = touch_only || opc == bin::op::kGat || opc == bin::op::kGatQ ||
                     opc == bin::op::kGatK || opc == bin::op::kGatKQ;
  const bool with_key = opc == bin::op::kGetK || opc == bin::op::kGetKQ || opc == bin::op::kGatK ||
                        opc == bin::op::kGatKQ;
  size_t watched_size = 0;
  auto visit = [&](const store::ItemView& it) {
    watched_size = it.value.size();
    char flags[4];
    bin::store_be32(flags, it.flags);
    bin::ResponseParts parts;
    parts.extras = std::string_view(flags, 4);
    if (with_key) parts.key = it.key;
    if (!touch_only) parts.value = it.value;
    parts.cas = it.cas();
    bin::write_response(out, opc, h.opaque, Status::kSuccess, parts);
  };
  store::Lookup r;
  if (touch) {
    RelTime exptime = ctx_.clock->expiry_from_protocol(bin::load_be32(extras.data()));
    r = ctx_.store->get_and_touch(key, exptime, visit);
    stats_.cmd_touch.add();
    (r == store::Lookup::kHit ? stats_.touch_hits : stats_.touch_misses).add();
  } else {
    r = ctx_.store->get(key, visit);
    stats_.cmd_get.add();
    (r == store::Lookup::kHit ? stats_.get_hits : stats_.get_misses).add();
  }
  if (detail_.on()) detail_.record_get(key, r == store::Lookup::kHit);  // touch too, as memcached
  if (EventLog* ev = ctx_.events; ev != nullptr && ev->wants(kWatchFetchers)) {
    ev->item_get(key, r, watched_size, id_);
  }
  if (r == store::Lookup::kExpired) stats_.get_expired.add();
  if (r == store::Lookup::kFlushed) stats_.get_flushed.add();
  if (r == store::Lookup::kHit) {
    held_.add(key);
    return;
  }
  if (opc == bin::op::kGetQ || opc == bin::op::kGetKQ || opc == bin::op::kGatQ ||
      opc == bin::op::kGatKQ) {
    return;  // quiet gets say nothing about a miss
  }
  bin::ResponseParts parts;
  if (with_key) {
    parts.key = key;  // memcached answers a keyed miss with the key and no text
  } else {
    parts.value = bin::status_text(Status::kKeyNotFound);
  }
  bin::write_response(out, opc, h.opaque, Status::kKeyNotFound, parts);
  if (!with_key) held_.clear();  // memcached's keyed miss is queued, not an error write
}

void BinarySession::begin_store(const Header& h, std::string_view extras, std::string_view key,
                                OutBuffer& out) {
  store::Store& store = *ctx_.store;
  const size_t vlen = h.value_length();
  const bool append = extras.empty();
  const uint32_t flags = append ? 0 : bin::load_be32(extras.data());
  const uint32_t exptime_in = append ? 0 : bin::load_be32(extras.data() + 4);
  store::AllocStatus st = store::AllocStatus::kTooLarge;
  if (detail_.on()) detail_.record_set(key);  // append/prepend too, as memcached
  if (store.size_ok(key.size(), flags, vlen)) {
    store_exptime_ = ctx_.clock->expiry_from_protocol(exptime_in);
    st = store.allocate(key, flags, store_exptime_, vlen, &item_);
  }
  if (st != store::AllocStatus::kOk) {
    Status s = Status::kTooLarge;
    if (st == store::AllocStatus::kTooLarge) {
      stats_.store_too_large.add();
    } else {
      stats_.store_no_memory.add();
      s = Status::kOutOfMemory;
    }
    // As memcached: a failed set drops the old value rather than leave it readable.
    if (mode_of(h.opcode) == store::Mode::kSet) store.remove(key);
    if (vlen == 0) {
      bin::write_status(out, h.opcode, h.opaque, s);
      return;
    }
    // Answered once the value has been read and discarded (never allocated), as memcached does;
    // a length of 2 GiB or more memcached answers at once (its length went negative), and so
    // do we, but we still discard the value rather than run its bytes as requests.
    if (vlen > 0x7fffffffu) {
      bin::write_status(out, h.opcode, h.opaque, s);
    } else {
      swallow_header_ = h;
      swallow_status_ = s;
      answer_after_swallow_ = true;
    }
    held_.clear();  // an error answer follows: memcached writes its queue, releasing them
    pending_bytes_ = vlen;
    state_ = State::kSwallow;
    return;
  }
  store_header_ = h;
  value_filled_ = 0;
  state_ = State::kValue;
  if (vlen == 0) finish_store(out);
}

void BinarySession::finish_store(OutBuffer& out) {
  state_ = State::kHeader;
  stats_.cmd_set.add();
  const Header& h = store_header_;
  store::Mode mode = mode_of(h.opcode);
  // memcached turns any set/add/replace carrying a CAS into a compare-and-swap.
  const bool is_cas = h.cas != 0 && (mode == store::Mode::kSet || mode == store::Mode::kAdd ||
                                     mode == store::Mode::kReplace);
  if (is_cas) mode = store::Mode::kCas;
  uint64_t cas = 0;
  Status s = Status::kSuccess;
  EventLog* ev = ctx_.events;
  std::string wkey;
  size_t wsize = 0;
  const bool watch_store = ev != nullptr && ev->wants(kWatchMutations);
  if (watch_store) {
    wkey = item_.key();
    wsize = item_.value_size();
  }
  if (ev != nullptr && ev->wants(kWatchFetchers)) ev->lookup(*ctx_.store, item_.key(), id_);
  const store::StoreResult sr = ctx_.store->store(std::move(item_), mode, h.cas, &cas);
  if (watch_store) {
    static const char* const kStatus[] = {"stored", "not_stored", "exists", "not_found",
                                          "no_memory"};
    static const char* const kCmd[] = {"set", "add", "replace", "append", "prepend", "cas"};
    const int64_t ttl =
        store_exptime_ == 0 ? 0 : static_cast<int64_t>(store_exptime_) - ctx_.clock->now();
    ev->item_store(wkey, kStatus[static_cast<int>(sr)], kCmd[static_cast<int>(mode)], ttl, wsize,
                   id_);
  }
  switch (sr) {
    case store::StoreResult::kStored:
      if (is_cas) stats_.cas_hits.add();
      break;
    case store::StoreResult::kNotStored:
      s = mode == store::Mode::kAdd       ? Status::kKeyExists
          : mode == store::Mode::kReplace ? Status::kKeyNotFound
                                          : Status::kNotStored;
      break;
    case store::StoreResult::kExists:
      if (is_cas) stats_.cas_badval.add();
      s = Status::kKeyExists;
      break;
    case store::StoreResult::kNotFound:
      if (is_cas) stats_.cas_misses.add();
      s = Status::kKeyNotFound;
      break;
    case store::StoreResult::kNoMemory:
      stats_.store_no_memory.add();
      s = Status::kOutOfMemory;
      break;
  }
  status(h, s, out, s == Status::kSuccess ? cas : 0);
}

void BinarySession::do_delete(const Header& h, std::string_view key, OutBuffer& out) {
  if (detail_.on()) detail_.record_delete(key);
  // A delete with a CAS removes only the item still carrying it, compared under the item's lock.
  store::MetaDeleteOptions opts;
  opts.has_cas = h.cas != 0;
  opts.cas = h.cas;
  switch (ctx_.store->meta_delete(key, opts)) {
    case store::MetaDeleteResult::kDeleted:
      stats_.delete_hits.add();
      status(h, Status::kSuccess, out);
      break;
    case store::MetaDeleteResult::kNotFound:
      stats_.delete_misses.add();
      status(h, Status::kKeyNotFound, out);
      break;
    case store::MetaDeleteResult::kExists:
      status(h, Status::kKeyExists, out);
      break;
  }
}

void BinarySession::do_delta(const Header& h, std::string_view extras, std::string_view key,
                             OutBuffer& out) {
  const bool incr = h.opcode == bin::op::kIncrement || h.opcode == bin::op::kIncrementQ;
  const uint64_t by = bin::load_be64(extras.data());
  const uint64_t initial = bin::load_be64(extras.data() + 8);
  const uint32_t exptime = bin::load_be32(extras.data() + 16);
  store::Store& store = *ctx_.store;
  uint64_t value = 0;
  uint64_t cas = 0;
  store::DeltaStatus st = store.delta(key, incr, by, &value, &cas, h.cas, !held_.take(key));
  if (st == store::DeltaStatus::kNotFound) {
    (incr ? stats_.incr_misses : stats_.decr_misses).add();
    if (exptime != 0xffffffffu) {
      // memcached creates the item with the initial value (the delta is not applied).
      char digits[24];
      size_t n = write_u64(digits, initial) - digits;
      store::NewItem item;
      store::AllocStatus a =
          store.allocate(key, 0, ctx_.clock->expiry_from_protocol(exptime), n, &item);
      if (a == store::AllocStatus::kOk) {
        memcpy(item.value_data(), digits, n);
        store::StoreResult sr = store.store(std::move(item), store::Mode::kAdd, 0, &cas);
        if (sr == store::StoreResult::kStored) {
          value = initial;
          st = store::DeltaStatus::kOk;
        } else if (sr == store::StoreResult::kNotStored) {
          st = store.delta(key, incr, by, &value, &cas, h.cas);  // lost a race: it exists now
        } else {
          st = store::DeltaStatus::kNoMemory;
        }
      } else {
        st = store::DeltaStatus::kNoMemory;
      }
    }
  } else if (st == store::DeltaStatus::kOk) {
    (incr ? stats_.incr_hits : stats_.decr_hits).add();
  }
  switch (st) {
    case store::DeltaStatus::kOk: {
      if (is_quiet(h.opcode)) return;
      char buf[8];
      bin::store_be64(buf, value);
      bin::ResponseParts parts;
      parts.value = std::string_view(buf, 8);
      parts.cas = cas;
      bin::write_response(out, h.opcode, h.opaque, Status::kSuccess, parts);
      return;
    }
    case store::DeltaStatus::kNotFound:
      status(h, Status::kKeyNotFound, out);
      return;
    case store::DeltaStatus::kNonNumeric:
      status(h, Status::kNonNumeric, out);
      return;
    case store::DeltaStatus::kNoMemory:
      status(h, Status::kOutOfMemory, out);
      return;
    case store::DeltaStatus::kExists:
      status(h, Status::kKeyExists, out);
      return;
  }
}

// memcached 1.6.18 (observed): a mechanism name longer than 32 bytes, or none, is "Invalid
// arguments" and not counted; every other AUTH/STEP counts in auth_cmds, and a failure in
// auth_errors and ends any earlier authentication on the connection.
void BinarySession::do_sasl(const Header& h, std::string_view mech, std::string_view data,
                            OutBuffer& out) {
  if (h.opcode == bin::op::kSaslListMechs) {
    const std::string mechs = ctx_.hooks->sasl_mechanisms();
    bin::ResponseParts parts;
    parts.value = mechs;
    bin::write_response(out, h.opcode, h.opaque, Status::kSuccess, parts);
    return;
  }
  constexpr size_t kMaxMechLength = 32;
  if (mech.empty() || mech.size() > kMaxMechLength) {
    bin::write_status(out, h.opcode, h.opaque, Status::kInvalidArguments);
    return;
  }
  stats_.auth_cmds.add();
  if (!sasl_) sasl_ = ctx_.hooks->new_sasl_session();
  if (!sasl_) sasl_ = std::make_unique<PlainPasswordSession>(*ctx_.hooks);
  std::string challenge;
  SaslSession::Outcome r = h.opcode == bin::op::kSaslAuth ? sasl_->start(mech, data, &challenge)
                                                          : sasl_->step(data, &challenge);
  bin::ResponseParts parts;
  switch (r) {
    case SaslSession::Outcome::kOk:
      authenticated_ = true;
      parts.value = "Authenticated";
      bin::write_response(out, h.opcode, h.opaque, Status::kSuccess, parts);
      return;
    case SaslSession::Outcome::kContinue:
      parts.value = challenge;
      bin::write_response(out, h.opcode, h.opaque, Status::kAuthContinue, parts);
      return;
    case SaslSession::Outcome::kFail:
      authenticated_ = false;
      stats_.auth_errors.add();
      bin::write_status(out, h.opcode, h.opaque, Status::kAuthError);
      return;
  }
}

}  // namespace memshield::engine
