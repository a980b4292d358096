// See udp_binary.h.
#include "server/udp_binary.h"

#include "engine/binary_session.h"
#include "protocol/binary/header.h"
#include "protocol/udp_frame/udp_frame.h"

namespace memshield::server {

namespace bin = protocol::binary;

Verdict classify_binary(std::string_view payload, bool allow_writes,
                        std::vector<std::string_view>* packets) {
  if (payload.empty()) return Verdict::kNotARequest;
  while (!payload.empty()) {
    bin::Header h;
    if (!bin::decode_header(payload, &h)) return Verdict::kNotARequest;
    if (bin::check_request(h, /*sasl=*/false) != bin::Check::kOk) return Verdict::kNotARequest;
    const size_t total = bin::kHeaderSize + size_t{h.body_length};
    if (total > payload.size()) return Verdict::kNotARequest;  // a partial packet
    switch (bin::op_class(h.opcode)) {
      case bin::OpClass::kAdmin:
        return Verdict::kAdmin;
      case bin::OpClass::kWrite:
        if (!allow_writes) return Verdict::kWrite;
        break;
      case bin::OpClass::kRead:
        break;
    }
    packets->push_back(payload.substr(0, total));
    payload.remove_prefix(total);
  }
  return Verdict::kServe;
}

bool run_binary(engine::Context& ctx, engine::ThreadStats& stats, uint16_t request_id,
                const std::vector<std::string_view>& packets, std::vector<std::string>* datagrams,
                size_t* framed_bytes) {
  *framed_bytes = 0;
  engine::BinarySession session(ctx, stats, -1);
  for (std::string_view packet : packets) {
    OutBuffer out;
    session.process(packet, out, SIZE_MAX);
    if (out.size() == 0) continue;  // a quiet success or miss (memcached sends an empty datagram)
    const std::string response = out.to_string();
    std::vector<std::string> framed;
    if (!protocol::udp::frame_response(request_id, response, &framed)) return false;
    for (std::string& d : framed) datagrams->push_back(std::move(d));
    *framed_bytes += protocol::udp::framed_size(response.size());
  }
  return true;
}

}  // namespace memshield::server
