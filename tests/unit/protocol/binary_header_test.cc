// The binary header codec and request checks, fed the shapes an attacker would send: short
// headers, lengths that disagree, huge bodies, extras/key/body overflow (CVE-2016-8704/5/6).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/out_buffer.h"
#include "protocol/binary/header.h"
#include "protocol/binary/response.h"

namespace memshield::protocol::binary {
namespace {

std::string packet(uint8_t opcode, uint16_t keylen, uint8_t extlen, uint32_t bodylen,
                   uint8_t magic = kRequestMagic) {
  Header h;
  h.magic = magic;
  h.opcode = opcode;
  h.key_length = keylen;
  h.extras_length = extlen;
  h.body_length = bodylen;
  h.opaque = 0x01020304;
  h.cas = 0x1122334455667788ull;
  std::string s(kHeaderSize, '\0');
  encode_header(h, s.data());
  return s;
}

Check check_of(const std::string& p, bool sasl = false) {
  Header h;
  EXPECT_TRUE(decode_header(p, &h));
  return check_request(h, sasl);
}

TEST(BinaryHeader, RoundTripIsBigEndian) {
  std::string p = packet(op::kSet, 0x0102, 8, 0x0a0b0c0d);
  EXPECT_EQ(static_cast<uint8_t>(p[0]), 0x80);
  EXPECT_EQ(p[2], 0x01);
  EXPECT_EQ(p[3], 0x02);
  EXPECT_EQ(p[8], 0x0a);
  EXPECT_EQ(p[11], 0x0d);
  Header h;
  ASSERT_TRUE(decode_header(p, &h));
  EXPECT_EQ(h.key_length, 0x0102);
  EXPECT_EQ(h.body_length, 0x0a0b0c0du);
  EXPECT_EQ(h.opaque, 0x01020304u);
  EXPECT_EQ(h.cas, 0x1122334455667788ull);
}

TEST(BinaryHeader, ShortHeadersNeedMore) {
  std::string p = packet(op::kGet, 1, 0, 1);
  Header h;
  for (size_t n = 0; n < kHeaderSize; ++n) EXPECT_FALSE(decode_header(p.substr(0, n), &h));
  EXPECT_TRUE(decode_header(p, &h));
}

TEST(BinaryHeader, BadMagic) {
  EXPECT_EQ(check_of(packet(op::kGet, 1, 0, 1, kResponseMagic)), Check::kBadMagic);
  EXPECT_EQ(check_of(packet(op::kGet, 1, 0, 1, 'g')), Check::kBadMagic);
}

TEST(BinaryHeader, ExtrasPlusKeyBeyondBody) {
  EXPECT_EQ(check_of(packet(op::kGet, 4, 0, 2)), Check::kBadLengths);
  EXPECT_EQ(check_of(packet(op::kSet, 1, 8, 8)), Check::kBadLengths);
  EXPECT_EQ(check_of(packet(op::kSet, 0xffff, 0xff, 0xffff)), Check::kBadLengths);
  EXPECT_EQ(check_of(packet(op::kGet, 1, 0, 0)), Check::kBadLengths);
}

TEST(BinaryHeader, HugeBodiesOnlyForValueOpcodes) {
  // A get/delete/incr body must be exactly extras + key: a huge length is refused at once.
  EXPECT_EQ(check_of(packet(op::kGet, 1, 0, 0xffffff00)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kDelete, 1, 0, 0xffffffff)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kIncrement, 1, 20, 0x80000000)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kNoop, 0, 0, 0xffffff00)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kStat, 3, 0, 0xffffff00)), Check::kInvalid);
  // A set may announce any value length; the session refuses it as too large, unallocated.
  Header h;
  decode_header(packet(op::kSet, 1, 8, 0xffffffff), &h);
  EXPECT_EQ(check_request(h, false), Check::kOk);
  EXPECT_EQ(h.value_length(), 0xffffffffu - 9);
  // SASL data is buffered, so it is kept small.
  EXPECT_EQ(check_of(packet(op::kSaslAuth, 5, 0, 5 + 1025), true), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kSaslAuth, 5, 0, 5 + 10), true), Check::kOk);
}

TEST(BinaryHeader, OpcodeShapes) {
  EXPECT_EQ(check_of(packet(op::kGet, 1, 0, 1)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kGet, 0, 0, 0)), Check::kInvalid);      // no key
  EXPECT_EQ(check_of(packet(op::kGet, 251, 0, 251)), Check::kInvalid);  // key too long
  EXPECT_EQ(check_of(packet(op::kGet, 250, 0, 250)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kGet, 1, 4, 5)), Check::kInvalid);  // extras
  EXPECT_EQ(check_of(packet(op::kSet, 1, 4, 5)), Check::kInvalid);  // wrong extras
  EXPECT_EQ(check_of(packet(op::kSet, 1, 8, 100)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kAppend, 1, 8, 100)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kAppend, 1, 0, 100)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kIncrement, 1, 20, 21)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kIncrement, 1, 8, 9)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kFlush, 0, 0, 0)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kFlush, 0, 4, 4)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kFlush, 0, 2, 2)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kFlush, 1, 0, 1)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kTouch, 1, 4, 5)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kGatKQ, 1, 0, 1)), Check::kInvalid);
  EXPECT_EQ(check_of(packet(op::kStat, 0, 0, 0)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kStat, 5, 0, 5)), Check::kOk);
  EXPECT_EQ(check_of(packet(op::kVersion, 0, 0, 1)), Check::kInvalid);
}

TEST(BinaryHeader, UnknownOpcodes) {
  EXPECT_EQ(check_of(packet(0x55, 0, 0, 0)), Check::kUnknownCommand);
  EXPECT_EQ(check_of(packet(op::kVerbosity, 0, 4, 4)), Check::kUnknownCommand);
  EXPECT_EQ(check_of(packet(0x1f, 0, 0, 0)), Check::kUnknownCommand);
  // SASL opcodes exist only with -S.
  EXPECT_EQ(check_of(packet(op::kSaslListMechs, 0, 0, 0)), Check::kUnknownCommand);
  EXPECT_EQ(check_of(packet(op::kSaslListMechs, 0, 0, 0), true), Check::kOk);
}

// Random headers: the checks never accept a body that is not extras + key + value, and for
// opcodes without a value never more than extras + key.
TEST(BinaryHeader, RandomHeadersKeepTheInvariants) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 200000; ++i) {
    std::string p(kHeaderSize, '\0');
    for (char& c : p) c = static_cast<char>(rng());
    p[0] = static_cast<char>(kRequestMagic);
    if (i % 2) p[1] = static_cast<char>(rng() % 0x26);
    if (i % 3 == 0) p[8] = p[9] = 0;  // plausible body lengths
    Header h;
    ASSERT_TRUE(decode_header(p, &h));
    if (check_request(h, i % 5 == 0) != Check::kOk) continue;
    ASSERT_LE(uint64_t{h.key_length} + h.extras_length, h.body_length);
    if (!has_value(h.opcode) && h.opcode != op::kSaslAuth && h.opcode != op::kSaslStep) {
      ASSERT_EQ(h.value_length(), 0u);
    }
  }
}

TEST(BinaryResponse, StatusBodiesAreMemcachedsText) {
  OutBuffer out;
  write_status(out, op::kGet, 9, Status::kKeyNotFound);
  std::string s = out.to_string();
  ASSERT_EQ(s.size(), kHeaderSize + 9);
  Header h;
  ASSERT_TRUE(decode_header(s, &h));
  EXPECT_EQ(h.magic, kResponseMagic);
  EXPECT_EQ(h.vbucket_or_status, 1);
  EXPECT_EQ(h.opaque, 9u);
  EXPECT_EQ(s.substr(kHeaderSize), "Not found");
  EXPECT_EQ(status_text(Status::kKeyExists), "Data exists for key.");
  EXPECT_EQ(status_text(Status::kTooLarge), "Too large.");
  EXPECT_EQ(status_text(Status::kNotStored), "Not stored.");
  EXPECT_EQ(status_text(Status::kAuthError), "Auth failure.");
}

TEST(BinaryResponse, LargeValuesFollowTheHeader) {
  OutBuffer out;
  std::string big(100000, 'x');
  ResponseParts parts;
  parts.extras = "ABCD";
  parts.key = "key";
  parts.value = big;
  write_response(out, op::kGetK, 1, Status::kSuccess, parts);
  std::string s = out.to_string();
  Header h;
  ASSERT_TRUE(decode_header(s, &h));
  EXPECT_EQ(h.body_length, 4u + 3u + big.size());
  EXPECT_EQ(s.substr(kHeaderSize, 7), "ABCDkey");
  EXPECT_EQ(s.substr(kHeaderSize + 7), big);
}

}  // namespace
}  // namespace memshield::protocol::binary
