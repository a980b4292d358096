// See udp_frame.h.
#include "protocol/udp_frame/udp_frame.h"

namespace memshield::protocol::udp {
namespace {
uint16_t get16(const char* p) {
  return static_cast<uint16_t>((static_cast<uint8_t>(p[0]) << 8) | static_cast<uint8_t>(p[1]));
}
void put16(char* p, uint16_t v) {
  p[0] = static_cast<char>(v >> 8);
  p[1] = static_cast<char>(v & 0xff);
}
}  // namespace

bool decode_header(std::string_view d, FrameHeader* h) {
  if (d.size() < kHeaderSize) return false;
  h->request_id = get16(d.data());
  h->sequence = get16(d.data() + 2);
  h->total = get16(d.data() + 4);
  h->reserved = get16(d.data() + 6);
  return true;
}

void encode_header(const FrameHeader& h, char out[kHeaderSize]) {
  put16(out, h.request_id);
  put16(out + 2, h.sequence);
  put16(out + 4, h.total);
  put16(out + 6, h.reserved);
}

bool frame_response(uint16_t request_id, std::string_view response,
                    std::vector<std::string>* datagrams) {
  const size_t n = datagram_count(response.size());
  if (n > 0xffff) return false;
  datagrams->clear();
  datagrams->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string_view chunk = response.substr(i * kMaxChunk, kMaxChunk);
    std::string d(kHeaderSize + chunk.size(), '\0');
    encode_header({request_id, static_cast<uint16_t>(i), static_cast<uint16_t>(n), 0}, d.data());
    d.replace(kHeaderSize, chunk.size(), chunk);
    datagrams->push_back(std::move(d));
  }
  return true;
}

}  // namespace memshield::protocol::udp
