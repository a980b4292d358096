// memcached's UDP framing: every datagram starts with an 8-byte header (request id, sequence
// number, total datagrams, reserved; big-endian), and a response is cut into datagrams of at most
// 1400 bytes including that header, exactly as memcached 1.6 cuts them. Pure codec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memshield::protocol::udp {

inline constexpr size_t kHeaderSize = 8;
inline constexpr size_t kMaxDatagram = 1400;  // memcached's UDP_MAX_PAYLOAD_SIZE, header included
inline constexpr size_t kMaxChunk = kMaxDatagram - kHeaderSize;

struct FrameHeader {
  uint16_t request_id = 0;
  uint16_t sequence = 0;
  uint16_t total = 0;
  uint16_t reserved = 0;
};

// Reads the header of a datagram; false if it is shorter than a header.
bool decode_header(std::string_view datagram, FrameHeader* h);
void encode_header(const FrameHeader& h, char out[kHeaderSize]);

// How many datagrams a response of `bytes` bytes takes (at least one, even when empty).
inline size_t datagram_count(size_t bytes) {
  return bytes == 0 ? 1 : (bytes + kMaxChunk - 1) / kMaxChunk;
}
// Total bytes on the wire (UDP payload, headers included) for a response of `bytes` bytes.
inline size_t framed_size(size_t bytes) { return bytes + datagram_count(bytes) * kHeaderSize; }

// Cuts `response` into framed datagrams. memcached limits a response to 65535 datagrams (the
// sequence field); false if it would need more.
bool frame_response(uint16_t request_id, std::string_view response,
                    std::vector<std::string>* datagrams);

}  // namespace memshield::protocol::udp
