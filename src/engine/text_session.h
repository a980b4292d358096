// One connection's text-protocol conversation: consumes request bytes, executes each request
// against the store and appends memcached's exact answers. Values stream straight from the
// input into the new item, so a 1 MB set never sits twice in memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/key_dump.h"
#include "engine/meta_commands.h"
#include "engine/thread_stats.h"
#include "protocol/text/request.h"
#include "store/store.h"

namespace memshield::engine {

class TextSession {
 public:
  struct Result {
    size_t consumed = 0;
    bool close = false;  // close once `out` is written (quit, shutdown)
    bool abort = false;  // close at once, unsent answers dropped (garbage), as memcached does
    bool progress = false;  // at least one request was completed
    bool yield = false;     // stopped after max_requests with more requests waiting (-R)
    // A key dump is under way: call again, even without new input, once `out` has room. With
    // yield set, other connections should have a turn first.
    bool more_output = false;
    bool stream = false;    // became a watcher: pump() from now on
  };

  // `peer`: the client's address if it has one (for address-bound answers such as cookies).
  TextSession(Context& ctx, ThreadStats& stats, int id, const sockaddr_storage* peer = nullptr)
      : ctx_(ctx), stats_(stats), id_(id), peer_(peer) {
    meta_.cfd = id;
  }
  ~TextSession();
  TextSession(const TextSession&) = delete;
  TextSession& operator=(const TextSession&) = delete;

  // Processes as many whole requests from `in` as there are, stopping early once `out` holds
  // more than `out_limit` bytes (back-pressure), or once `max_requests` (memcached's -R; 0: no
  // limit) have run and another complete line waits (res.yield: the caller gives other
  // connections a turn first); the caller keeps the unconsumed rest.
  Result process(std::string_view in, OutBuffer& out, size_t out_limit = 4u << 20,
                 uint32_t max_requests = 0);
  // False while a value (or a refused value being swallowed) is still arriving.
  // (A key dump being sent counts as between requests: nothing of a request is pending.)
  bool at_request_boundary() const {
    return state_ == State::kLine || state_ == State::kDump || state_ == State::kWatching;
  }
  // A watcher (after `watch`): moves up to `max` bytes of its pending lines into `out`.
  size_t pump(OutBuffer& out, size_t max);
  // The connection is to close for a protocol error (memcached's conn_close reason=error).
  bool protocol_error() const { return protocol_error_; }

 private:
  // kDump: a key dump is being sent. kWatching: after `watch`, input is ignored and the session
  // only streams event lines.
  enum class State { kLine, kValue, kSwallow, kAuthToken, kDump, kWatching };

  void execute(const protocol::text::Request& req, OutBuffer& out, bool* close);
  void execute_command(const protocol::text::Request& req, OutBuffer& out, bool* close);
  void begin_store(const protocol::text::Request& req, OutBuffer& out);
  void finish_store(OutBuffer& out);
  void do_meta(const protocol::text::Request& req, OutBuffer& out);
  void do_get(const protocol::text::Request& req, OutBuffer& out);
  void do_flush_all(const protocol::text::Request& req, OutBuffer& out);
  void do_lru_crawler(const protocol::text::Request& req, OutBuffer& out);
  void do_watch(const protocol::text::Request& req, OutBuffer& out);
  void do_cache_memlimit(const protocol::text::Request& req, OutBuffer& out);
  // watch fetchers: the item_get line of a lookup a command does before acting (memcached logs
  // one for every store, delete, incr/decr and touch). A no-op unless someone watches fetchers.
  void watch_lookup(std::string_view key);
  void reply(OutBuffer& out, std::string_view line);
  // -Y: the gate. begin_auth takes a line from an unauthenticated client (false: refused, drop
  // the rest of the input as memcached does); finish_auth checks the "<user> <password>" token.
  bool begin_auth(std::string_view line, OutBuffer& out);
  void finish_auth(OutBuffer& out);
  // Discards the next n bytes (a refused value), then answers `reply`: like memcached, the
  // answer to a command follows the whole command.
  void swallow(size_t n, std::string_view reply) {
    state_ = State::kSwallow;
    pending_bytes_ = n;
    deferred_reply_ = reply;
  }

  Context& ctx_;
  ThreadStats& stats_;
  PrefixStats& detail_ = ctx_.detail != nullptr ? *ctx_.detail : PrefixStats::disabled();
  const int id_;
  const sockaddr_storage* peer_;
  State state_ = State::kLine;
  bool noreply_ = false;
  bool authenticated_ = ctx_.ascii_auth == nullptr;
  std::string auth_token_;  // kAuthToken: the token so far, "\r\n" included
  size_t auth_need_ = 0;    // kAuthToken: bytes of token and terminator still to come
  MetaCommands meta_{ctx_, stats_};
  KeyDump dump_;  // kDump: `lru_crawler metadump` in progress
  bool answers_held_ = false;  // answers of this input memcached would not have sent yet
  bool meta_set_ = false;  // kValue belongs to an ms: finish_store hands it to meta_

  // kValue: the item being filled, and where we are in "<value>\r\n".
  store::NewItem item_;
  protocol::text::Cmd store_cmd_ = protocol::text::Cmd::kSet;
  uint64_t cas_unique_ = 0;
  size_t value_filled_ = 0;
  char crlf_[2] = {0, 0};
  size_t crlf_filled_ = 0;
  RelTime store_exptime_ = 0;         // kValue: for the item_store line's ttl
  std::shared_ptr<Watcher> watcher_;  // kWatching
  std::string pump_buf_;
  bool protocol_error_ = false;
  size_t pending_bytes_ = 0;  // kSwallow: bytes left to discard
  std::string_view deferred_reply_;  // kSwallow: answered once the bytes are gone
};

}  // namespace memshield::engine
