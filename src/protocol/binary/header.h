// The binary protocol's 24-byte packet header (big-endian) and the checks a request must pass
// before any of its body is trusted: lengths that disagree or an opcode's wrong extras/key/value
// shape are refused from the header alone, before a byte is allocated for the body.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memshield::protocol::binary {

constexpr size_t kHeaderSize = 24;
constexpr uint8_t kRequestMagic = 0x80;
constexpr uint8_t kResponseMagic = 0x81;
constexpr size_t kMaxKeyLength = 250;

namespace op {
constexpr uint8_t kGet = 0x00, kSet = 0x01, kAdd = 0x02, kReplace = 0x03, kDelete = 0x04,
                  kIncrement = 0x05, kDecrement = 0x06, kQuit = 0x07, kFlush = 0x08, kGetQ = 0x09,
                  kNoop = 0x0a, kVersion = 0x0b, kGetK = 0x0c, kGetKQ = 0x0d, kAppend = 0x0e,
                  kPrepend = 0x0f, kStat = 0x10, kSetQ = 0x11, kAddQ = 0x12, kReplaceQ = 0x13,
                  kDeleteQ = 0x14, kIncrementQ = 0x15, kDecrementQ = 0x16, kQuitQ = 0x17,
                  kFlushQ = 0x18, kAppendQ = 0x19, kPrependQ = 0x1a, kVerbosity = 0x1b,
                  kTouch = 0x1c, kGat = 0x1d, kGatQ = 0x1e, kSaslListMechs = 0x20, kSaslAuth = 0x21,
                  kSaslStep = 0x22, kGatK = 0x23, kGatKQ = 0x24;
}  // namespace op

enum class Status : uint16_t {
  kSuccess = 0x0000,
  kKeyNotFound = 0x0001,
  kKeyExists = 0x0002,
  kTooLarge = 0x0003,
  kInvalidArguments = 0x0004,
  kNotStored = 0x0005,
  kNonNumeric = 0x0006,
  kAuthError = 0x0020,
  kAuthContinue = 0x0021,
  kUnknownCommand = 0x0081,
  kOutOfMemory = 0x0082,
};

// memcached's error bodies, byte for byte.
std::string_view status_text(Status s);

struct Header {
  uint8_t magic = 0;
  uint8_t opcode = 0;
  uint16_t key_length = 0;
  uint8_t extras_length = 0;
  uint8_t data_type = 0;
  uint16_t vbucket_or_status = 0;
  uint32_t body_length = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;

  // The value's length; only meaningful once check_request() said kOk.
  size_t value_length() const { return body_length - key_length - extras_length; }
};

// Reads a header from the first 24 bytes of `in`; false if fewer are there.
bool decode_header(std::string_view in, Header* h);
// Writes `h` as 24 bytes at `out`.
void encode_header(const Header& h, char* out);

// What to do with a request, decided from its header alone.
enum class Check : uint8_t {
  kOk,              // well formed; the body may be read (the value streamed if it has one)
  kBadMagic,        // not a request: close without an answer
  kUnknownCommand,  // answer "Unknown command", discard the body, carry on
  kBadLengths,      // extras + key > body: answer "Unknown command" and close (memcached)
  kInvalid,         // wrong shape for the opcode: answer "Invalid arguments" and close
};

// Whether the opcode carries a value that may be large (streamed into an item, not buffered).
bool has_value(uint8_t opcode);
// Whether the opcode is one this server implements (sasl: SASL opcodes are known only with -S).
bool known_opcode(uint8_t opcode, bool sasl);

// What a request does, for a guard deciding who may send it (UDP): reads change nothing but
// touch nothing either; writes change items (touch and gat included); admin affects the whole
// server or the conversation (stats, flush, quit, verbosity, SASL).
enum class OpClass : uint8_t { kRead, kWrite, kAdmin };
OpClass op_class(uint8_t opcode);

// Checks the header. For opcodes without a value, a kOk request's whole body (at most
// 255 + 65535 bytes) may be buffered; for opcodes with one, only extras + key.
Check check_request(const Header& h, bool sasl);

// Reading big-endian fields of extras.
inline uint32_t load_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}
inline uint64_t load_be64(const char* p) {
  return (uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
inline void store_be32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}
inline void store_be64(char* p, uint64_t v) {
  store_be32(p, static_cast<uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<uint32_t>(v));
}

}  // namespace memshield::protocol::binary
