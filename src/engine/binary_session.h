// One connection's binary-protocol conversation (memcached 1.6's opcodes, status codes, error
// bodies and quiet-variant rules), with the same contract as TextSession. The header is checked
// before any body byte is trusted; values stream straight into the new item.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string_view>

#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/sasl_session.h"
#include "engine/held_keys.h"
#include "engine/text_session.h"
#include "engine/thread_stats.h"
#include "protocol/binary/header.h"
#include "store/store.h"

namespace memshield::engine {

class BinarySession {
 public:
  using Result = TextSession::Result;

  BinarySession(Context& ctx, ThreadStats& stats, int id) : ctx_(ctx), stats_(stats), id_(id) {}

  // max_requests: memcached's -R, as TextSession::process (0: no limit).
  Result process(std::string_view in, OutBuffer& out, size_t out_limit = 4u << 20,
                 uint32_t max_requests = 0);
  bool at_request_boundary() const { return state_ == State::kHeader; }
  bool authenticated() const { return authenticated_; }

 private:
  enum class State { kHeader, kValue, kSwallow };

  // Executes a request whose whole body is `body` (extras, key, value).
  void execute(const protocol::binary::Header& h, std::string_view body, OutBuffer& out,
               Result* res);
  // Starts a set/add/replace/append/prepend once extras and key are in.
  void begin_store(const protocol::binary::Header& h, std::string_view extras, std::string_view key,
                   OutBuffer& out);
  void finish_store(OutBuffer& out);
  void do_get(const protocol::binary::Header& h, std::string_view extras, std::string_view key,
              OutBuffer& out);
  void do_delete(const protocol::binary::Header& h, std::string_view key, OutBuffer& out);
  void do_delta(const protocol::binary::Header& h, std::string_view extras, std::string_view key,
                OutBuffer& out);
  void do_sasl(const protocol::binary::Header& h, std::string_view key, std::string_view value,
               OutBuffer& out);
  // Answers with an error/status body unless the request is quiet and the status is success.
  void status(const protocol::binary::Header& h, protocol::binary::Status s, OutBuffer& out,
              uint64_t cas = 0);

  Context& ctx_;
  ThreadStats& stats_;
  PrefixStats& detail_ = ctx_.detail != nullptr ? *ctx_.detail : PrefixStats::disabled();
  const int id_;
  State state_ = State::kHeader;
  bool authenticated_ = false;
  std::unique_ptr<SaslSession> sasl_;  // created at the first SASL_AUTH/STEP

  // kValue: the request being stored and the item being filled.
  protocol::binary::Header store_header_;
  RelTime store_exptime_ = 0;  // for the watch item_store line's ttl
  store::NewItem item_;
  size_t value_filled_ = 0;
  // kSwallow: bytes left to discard, and whether an error answer waits for the last of them
  // (a refused store is answered once its whole value has been read, as memcached does, so a
  // client that writes the value before reading stays in step).
  size_t pending_bytes_ = 0;
  bool answer_after_swallow_ = false;
  protocol::binary::Header swallow_header_;
  protocol::binary::Status swallow_status_ = protocol::binary::Status::kSuccess;
  // Items this input's get/touch hits answered (memcached holds them until the reply is sent).
  HeldKeys held_;
};

}  // namespace memshield::engine
