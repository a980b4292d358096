// Executes meta-protocol commands (mg, ms, md, ma, mn, me) against the store and writes
// memcached 1.6.18's answers (HD/VA/EN/NF/NS/EX/MN/ME). ms hands its data block to the text
// session's value streaming and is finished here once the block has arrived.
#pragma once

#include <string>
#include <string_view>

#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/held_keys.h"
#include "engine/thread_stats.h"
#include "protocol/text/meta_request.h"
#include "store/store.h"

namespace memshield::engine {

class MetaCommands {
 public:
  MetaCommands(Context& ctx, ThreadStats& stats) : ctx_(ctx), stats_(stats) {}

  struct Action {
    enum Kind { kDone, kReadValue, kSwallow } kind = kDone;
    size_t swallow_bytes = 0;  // kSwallow: discard this many bytes, then answer `reply`
    std::string_view reply;    // kSwallow only; a constant string
  };

  // Executes one meta line. ms: on kReadValue *item is allocated and the caller streams the
  // value into it, then calls finish_set().
  Action execute(std::string_view line, OutBuffer& out, store::NewItem* item);
  void finish_set(store::NewItem&& item, bool crlf_ok, OutBuffer& out);

  // Items mg hits of this input answered: memcached references them until it writes its
  // replies (at the end of the input, or at an mn), so an incr/decr meanwhile cannot rewrite
  // such a value in place (it replaces the item, unpadded). The text session clears it per input.
  HeldKeys held;
  int cfd = -1;  // the connection's descriptor, for watch lines

 private:
  using MetaRequest = protocol::text::MetaRequest;
  // `answer_lost`: an mg memcached fails after its lookup (an O token too long): the lookup and
  // the flags before the token take effect, but no win token is handed out.
  void do_mg(const MetaRequest& r, OutBuffer& out, bool answer_lost = false);
  Action do_ms(const MetaRequest& r, store::NewItem* item);
  void do_md(const MetaRequest& r, OutBuffer& out);
  void do_ma(const MetaRequest& r, OutBuffer& out);
  void do_me(const MetaRequest& r, OutBuffer& out);

  Context& ctx_;
  ThreadStats& stats_;
  // A pending ms: what finish_set needs once the request line's bytes are gone.
  std::string set_flags_;  // the flag tokens, space-separated
  std::string set_key_;
  bool set_quiet_ = false, set_binary_ = false, set_invalidate_ = false, set_has_cas_ = false;
  char set_mode_ = 0;
  uint64_t set_cas_ = 0;
  int64_t set_ttl_ = 0;  // T as sent, for the item_store line
};

}  // namespace memshield::engine
