// Header codec and per-opcode shape rules; see header.h. The shapes are the ones memcached 1.6
// enforces (observed on the wire): a mismatch is answered "Invalid arguments" and the connection
// closed, because after a lying length the stream can no longer be trusted.
#include "protocol/binary/header.h"

namespace memshield::protocol::binary {

std::string_view status_text(Status s) {
  switch (s) {
    case Status::kSuccess:
      return "";
    case Status::kKeyNotFound:
      return "Not found";
    case Status::kKeyExists:
      return "Data exists for key.";
    case Status::kTooLarge:
      return "Too large.";
    case Status::kInvalidArguments:
      return "Invalid arguments";
    case Status::kNotStored:
      return "Not stored.";
    case Status::kNonNumeric:
      return "Non-numeric server-side value for incr or decr";
    case Status::kAuthError:
      return "Auth failure.";
    case Status::kAuthContinue:
      return "";
    case Status::kUnknownCommand:
      return "Unknown command";
    case Status::kOutOfMemory:
      return "Out of memory";
  }
  return "";
}

bool decode_header(std::string_view in, Header* h) {
  if (in.size() < kHeaderSize) return false;
  const auto* u = reinterpret_cast<const unsigned char*>(in.data());
  h->magic = u[0];
  h->opcode = u[1];
  h->key_length = static_cast<uint16_t>((u[2] << 8) | u[3]);
  h->extras_length = u[4];
  h->data_type = u[5];
  h->vbucket_or_status = static_cast<uint16_t>((u[6] << 8) | u[7]);
  h->body_length = load_be32(in.data() + 8);
  h->opaque = load_be32(in.data() + 12);
  h->cas = load_be64(in.data() + 16);
  return true;
}

void encode_header(const Header& h, char* out) {
  out[0] = static_cast<char>(h.magic);
  out[1] = static_cast<char>(h.opcode);
  out[2] = static_cast<char>(h.key_length >> 8);
  out[3] = static_cast<char>(h.key_length);
  out[4] = static_cast<char>(h.extras_length);
  out[5] = static_cast<char>(h.data_type);
  out[6] = static_cast<char>(h.vbucket_or_status >> 8);
  out[7] = static_cast<char>(h.vbucket_or_status);
  store_be32(out + 8, h.body_length);
  store_be32(out + 12, h.opaque);
  store_be64(out + 16, h.cas);
}

bool has_value(uint8_t opcode) {
  switch (opcode) {
    case op::kSet:
    case op::kSetQ:
    case op::kAdd:
    case op::kAddQ:
    case op::kReplace:
    case op::kReplaceQ:
    case op::kAppend:
    case op::kAppendQ:
    case op::kPrepend:
    case op::kPrependQ:
      return true;
    default:
      return false;
  }
}

bool known_opcode(uint8_t opcode, bool sasl) {
  // memcached 1.6 answers VERBOSITY (0x1b) "Unknown command" too.
  if (opcode <= op::kGatQ) return opcode != op::kVerbosity && opcode != 0x1f;
  if (opcode == op::kGatK || opcode == op::kGatKQ) return true;
  return sasl && opcode >= op::kSaslListMechs && opcode <= op::kSaslStep;
}

namespace {

// The allowed shape of one opcode's body.
struct Shape {
  int extras_a;   // allowed extras length
  int extras_b;   // a second allowed extras length (or -1)
  bool key;       // a key is required (1..250 bytes)
  bool no_key;    // a key is forbidden
  bool value_ok;  // a value may follow
};

Shape shape_of(uint8_t opcode) {
  switch (opcode) {
    case op::kGet:
    case op::kGetQ:
    case op::kGetK:
    case op::kGetKQ:
    case op::kDelete:
    case op::kDeleteQ:
      return {0, -1, true, false, false};
    case op::kSet:
    case op::kSetQ:
    case op::kAdd:
    case op::kAddQ:
    case op::kReplace:
    case op::kReplaceQ:
      return {8, -1, true, false, true};
    case op::kAppend:
    case op::kAppendQ:
    case op::kPrepend:
    case op::kPrependQ:
      return {0, -1, true, false, true};
    case op::kIncrement:
    case op::kIncrementQ:
    case op::kDecrement:
    case op::kDecrementQ:
      return {20, -1, true, false, false};
    case op::kTouch:
    case op::kGat:
    case op::kGatQ:
    case op::kGatK:
    case op::kGatKQ:
      return {4, -1, true, false, false};
    case op::kFlush:
    case op::kFlushQ:
      return {0, 4, false, true, false};
    case op::kStat:
      return {0, -1, false, false, false};
    case op::kSaslListMechs:
      return {0, -1, false, true, false};
    case op::kSaslAuth:
    case op::kSaslStep:
      return {0, -1, false, false, true};  // the mechanism's length is the session's check
    default:  // quit, noop, version
      return {0, -1, false, true, false};
  }
}

}  // namespace

OpClass op_class(uint8_t opcode) {
  switch (opcode) {
    case op::kGet:
    case op::kGetQ:
    case op::kGetK:
    case op::kGetKQ:
    case op::kNoop:
    case op::kVersion:
      return OpClass::kRead;
    case op::kSet:
    case op::kAdd:
    case op::kReplace:
    case op::kDelete:
    case op::kIncrement:
    case op::kDecrement:
    case op::kAppend:
    case op::kPrepend:
    case op::kSetQ:
    case op::kAddQ:
    case op::kReplaceQ:
    case op::kDeleteQ:
    case op::kIncrementQ:
    case op::kDecrementQ:
    case op::kAppendQ:
    case op::kPrependQ:
    case op::kTouch:
    case op::kGat:
    case op::kGatQ:
    case op::kGatK:
    case op::kGatKQ:
      return OpClass::kWrite;
    default:
      return OpClass::kAdmin;
  }
}

Check check_request(const Header& h, bool sasl) {
  if (h.magic != kRequestMagic) return Check::kBadMagic;
  if (uint64_t{h.key_length} + h.extras_length > h.body_length) return Check::kBadLengths;
  if (!known_opcode(h.opcode, sasl)) return Check::kUnknownCommand;
  const Shape s = shape_of(h.opcode);
  if (h.extras_length != s.extras_a && h.extras_length != s.extras_b) return Check::kInvalid;
  if (s.key && (h.key_length == 0 || h.key_length > kMaxKeyLength)) return Check::kInvalid;
  if (s.no_key && h.key_length != 0) return Check::kInvalid;
  if (!s.value_ok && h.value_length() != 0) return Check::kInvalid;
  // SASL data is buffered whole: keep it small.
  if ((h.opcode == op::kSaslAuth || h.opcode == op::kSaslStep) && h.value_length() > 1024) {
    return Check::kInvalid;
  }
  return Check::kOk;
}

}  // namespace memshield::protocol::binary
