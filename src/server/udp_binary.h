// Binary-protocol requests over UDP (memcached answers them: the 8-byte frame header, then the
// binary response). Classifies a datagram's binary packets without running them, under the same
// rules as text: every packet whole and well formed, no admin opcodes, writes only from proven
// sources. Each request's answer is then framed as a message of its own, as memcached sends it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/out_buffer.h"
#include "engine/context.h"
#include "engine/thread_stats.h"
#include "server/udp_verdict.h"

namespace memshield::server {

// Whether a datagram's payload (after the frame header and any cookie block) is binary protocol.
inline bool is_binary_payload(std::string_view payload) {
  return !payload.empty() && static_cast<unsigned char>(payload[0]) == 0x80;
}

// Splits `payload` into its request packets (each header + body) and classifies them. Anything
// short, unknown, badly shaped, or a response rather than a request, is kNotARequest.
Verdict classify_binary(std::string_view payload, bool allow_writes,
                        std::vector<std::string_view>* packets);

// Runs each packet and appends, per request with a non-empty answer, its framed datagrams to
// `datagrams` (request id `request_id`); *framed_bytes: their total size. False if an answer
// needs more datagrams than the frame's sequence field allows.
bool run_binary(engine::Context& ctx, engine::ThreadStats& stats, uint16_t request_id,
                const std::vector<std::string_view>& packets, std::vector<std::string>* datagrams,
                size_t* framed_bytes);

}  // namespace memshield::server
