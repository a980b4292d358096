// libFuzzer target for memcached's UDP framing and memshield's cookie block: decoding arbitrary
// datagrams, re-encoding what was decoded, and cutting arbitrary responses into datagrams that
// must reassemble to exactly the original bytes within memcached's 1400-byte limit.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "protocol/udp_frame/cookie_block.h"
#include "protocol/udp_frame/udp_frame.h"

namespace {

namespace udp = memshield::protocol::udp;

void check_decode(std::string_view d) {
  udp::FrameHeader h;
  bool ok = udp::decode_header(d, &h);
  FUZZ_CHECK(ok == (d.size() >= udp::kHeaderSize));
  if (!ok) return;
  char back[udp::kHeaderSize];
  udp::encode_header(h, back);
  FUZZ_CHECK(memcmp(back, d.data(), udp::kHeaderSize) == 0);

  std::string_view after = d.substr(udp::kHeaderSize);
  udp::CookieBlock block;
  ok = udp::decode_cookie_block(after, &block);
  FUZZ_CHECK(!ok || after.size() >= udp::kCookieBlockSize);
  if (after.size() >= udp::kCookieBlockSize) {
    FUZZ_CHECK(ok == (static_cast<uint8_t>(after[0]) == udp::kCookieVersion));
  }
  if (!ok) return;
  char block_back[udp::kCookieBlockSize];
  udp::encode_cookie_block(block, block_back);
  FUZZ_CHECK(memcmp(block_back, after.data(), udp::kCookieBlockSize) == 0);
}

void check_frame(uint16_t request_id, std::string_view response) {
  std::vector<std::string> grams;
  FUZZ_CHECK(udp::frame_response(request_id, response, &grams));
  const size_t n = udp::datagram_count(response.size());
  FUZZ_CHECK(grams.size() == n);
  std::string joined;
  size_t wire = 0;
  for (size_t i = 0; i < grams.size(); ++i) {
    const std::string& g = grams[i];
    FUZZ_CHECK(g.size() >= udp::kHeaderSize && g.size() <= udp::kMaxDatagram);
    // Every datagram but the last is full: memcached's clients count on exactly this cut.
    if (i + 1 < grams.size()) FUZZ_CHECK(g.size() == udp::kMaxDatagram);
    udp::FrameHeader h;
    FUZZ_CHECK(udp::decode_header(g, &h));
    FUZZ_CHECK(h.request_id == request_id && h.sequence == i && h.total == n && h.reserved == 0);
    joined.append(g, udp::kHeaderSize, std::string::npos);
    wire += g.size();
  }
  FUZZ_CHECK(joined == response);
  FUZZ_CHECK(wire == udp::framed_size(response.size()));
}

void check_sizes(uint64_t bytes) {
  const uint64_t n = udp::datagram_count(bytes);
  FUZZ_CHECK(n >= 1);
  FUZZ_CHECK(n * udp::kMaxChunk >= bytes);
  FUZZ_CHECK(bytes == 0 || (n - 1) * udp::kMaxChunk < bytes);
  FUZZ_CHECK(udp::framed_size(bytes) == bytes + n * udp::kHeaderSize);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_decode(in);

  // The first byte picks how many times the rest is repeated, so responses of tens of
  // datagrams are reached without the fuzzer having to grow inputs that large.
  if (size >= 3) {
    const uint16_t request_id = static_cast<uint16_t>((data[1] << 8) | data[2]);
    std::string_view body = in.substr(3);
    const size_t repeat = 1 + data[0] % 64;
    std::string response;
    response.reserve(body.size() * repeat);
    for (size_t i = 0; i < repeat; ++i) response.append(body);
    check_frame(request_id, response);
  } else {
    check_frame(0, in);
  }

  if (size >= 8) {
    uint64_t bytes = 0;
    memcpy(&bytes, data, sizeof(bytes));
    check_sizes(bytes >> 24);  // up to 2^40: the arithmetic, without the allocation
  }
  return 0;
}
