// A parsed text-protocol request: what the engine needs to execute it, with views into the
// connection's input buffer (valid until the bytes are consumed).
#pragma once

#include <cstdint>
#include <string_view>

namespace memshield::protocol::text {

enum class Cmd : uint8_t {
  kGet, kGets, kGat, kGats,                          // keys in `keys`
  kSet, kAdd, kReplace, kAppend, kPrepend, kCas,     // a data block of `vlen` bytes + CRLF follows
  kDelete, kIncr, kDecr, kTouch,
  kFlushAll, kVersion, kVerbosity, kQuit, kShutdown, kStats,
  kShield,  // memshield's own commands ("shield cookie <hex>"): args in `args`
  kRefreshCerts,  // reload the TLS certificates (-Z); `noreply` silences only "OK"
  kReply,  // answer `reply` as it is (an error or a fixed answer), subject to noreply
  kLruCrawler,  // "lru_crawler ...": everything after the command in `args`
  kLru,         // "lru ...": everything after the command in `args`
  kWatch,  // `watch <kinds>`: args in `args`
  kCacheMemlimit,  // `cache_memlimit <MB>`: the megabytes in `delta`, already checked
  kMeta,   // a meta command (mg, ms, md, ma, mn, me): the whole line in `args`, see meta_parser.h
};

inline bool is_storage(Cmd c) { return c >= Cmd::kSet && c <= Cmd::kCas; }

struct Request {
  Cmd cmd = Cmd::kReply;
  bool noreply = false;
  std::string_view key;
  std::string_view keys;      // get family: space-separated keys, each checked <= 250 bytes
  uint32_t flags = 0;
  int32_t exptime = 0;        // as sent; the engine converts with Clock::expiry_from_protocol
  uint32_t vlen = 0;          // data block length without its CRLF
  uint64_t cas_unique = 0;
  uint64_t delta = 0;         // incr/decr
  uint32_t verbosity = 0;
  bool has_delay = false;     // flush_all <delay>
  std::string_view args;      // stats, lru, lru_crawler: what follows; shutdown: its mode;
                              // quit: the HTTP/ word of a line that spoke HTTP, else empty
  std::string_view reply;     // kReply: the exact line to send, without CRLF
};

}  // namespace memshield::protocol::text
