// See response.h.
#include "protocol/binary/response.h"

#include <cstring>

namespace memshield::protocol::binary {

void write_response(OutBuffer& out, uint8_t opcode, uint32_t opaque, Status status,
                    const ResponseParts& parts) {
  Header h;
  h.magic = kResponseMagic;
  h.opcode = opcode;
  h.key_length = static_cast<uint16_t>(parts.key.size());
  h.extras_length = static_cast<uint8_t>(parts.extras.size());
  h.vbucket_or_status = static_cast<uint16_t>(status);
  h.body_length =
      static_cast<uint32_t>(parts.extras.size() + parts.key.size() + parts.value.size());
  h.opaque = opaque;
  h.cas = parts.cas;
  // Header, extras (<= 255) and key (<= 65535) always fit one block; small values ride along.
  const size_t head = kHeaderSize + parts.extras.size() + parts.key.size();
  const bool inline_value = parts.value.size() <= 1024;
  char* p = out.reserve(head + (inline_value ? parts.value.size() : 0));
  encode_header(h, p);
  size_t n = kHeaderSize;
  if (!parts.extras.empty()) memcpy(p + n, parts.extras.data(), parts.extras.size());
  n += parts.extras.size();
  if (!parts.key.empty()) memcpy(p + n, parts.key.data(), parts.key.size());
  n += parts.key.size();
  if (inline_value) {
    if (!parts.value.empty()) memcpy(p + n, parts.value.data(), parts.value.size());
    n += parts.value.size();
  }
  out.commit(n);
  if (!inline_value) out.append(parts.value.data(), parts.value.size());
}

void write_status(OutBuffer& out, uint8_t opcode, uint32_t opaque, Status status) {
  ResponseParts parts;
  parts.value = status_text(status);
  write_response(out, opcode, opaque, status, parts);
}

}  // namespace memshield::protocol::binary
