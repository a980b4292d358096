// Builders for binary-protocol responses: a header echoing the request's opcode and opaque, then
// extras, key and value. Appends to an OutBuffer; large values are appended, not copied twice.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/out_buffer.h"
#include "protocol/binary/header.h"

namespace memshield::protocol::binary {

struct ResponseParts {
  std::string_view extras;
  std::string_view key;
  std::string_view value;
  uint64_t cas = 0;
};

void write_response(OutBuffer& out, uint8_t opcode, uint32_t opaque, Status status,
                    const ResponseParts& parts);
// An error (or empty success) response whose body is memcached's text for `status`.
void write_status(OutBuffer& out, uint8_t opcode, uint32_t opaque, Status status);

}  // namespace memshield::protocol::binary
