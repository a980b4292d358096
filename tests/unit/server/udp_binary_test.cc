// The UDP guard's view of binary requests: whole, well-formed packets only; admin opcodes never;
// writes only when the source is proven.
#include "server/udp_binary.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/binary/header.h"

namespace memshield::server {
namespace {

namespace bin = protocol::binary;

std::string req(uint8_t opcode, std::string_view key = "", std::string_view extras = "",
                std::string_view value = "") {
  bin::Header h;
  h.magic = bin::kRequestMagic;
  h.opcode = opcode;
  h.key_length = static_cast<uint16_t>(key.size());
  h.extras_length = static_cast<uint8_t>(extras.size());
  h.body_length = static_cast<uint32_t>(key.size() + extras.size() + value.size());
  std::string s(bin::kHeaderSize, '\0');
  bin::encode_header(h, s.data());
  return s.append(extras).append(key).append(value);
}

TEST(UdpBinary, ReadsAreServedPacketByPacket) {
  std::vector<std::string_view> packets;
  std::string d = req(bin::op::kGet, "a") + req(bin::op::kGetKQ, "b") + req(bin::op::kNoop);
  ASSERT_TRUE(is_binary_payload(d));
  EXPECT_EQ(classify_binary(d, false, &packets), Verdict::kServe);
  ASSERT_EQ(packets.size(), 3u);
  EXPECT_EQ(packets[1], req(bin::op::kGetKQ, "b"));
}

TEST(UdpBinary, WritesOnlyWhenProven) {
  std::vector<std::string_view> packets;
  std::string set = req(bin::op::kSet, "k", std::string(8, '\0'), "v");
  EXPECT_EQ(classify_binary(set, false, &packets), Verdict::kWrite);
  EXPECT_EQ(classify_binary(req(bin::op::kTouch, "k", std::string(4, '\0')), false, &packets),
            Verdict::kWrite);
  packets.clear();
  EXPECT_EQ(classify_binary(set, true, &packets), Verdict::kServe);
  EXPECT_EQ(packets.size(), 1u);
}

TEST(UdpBinary, AdminOpcodesNeverEvenWhenProven) {
  EXPECT_EQ(bin::op_class(bin::op::kStat), bin::OpClass::kAdmin);
  EXPECT_EQ(bin::op_class(bin::op::kFlushQ), bin::OpClass::kAdmin);
  EXPECT_EQ(bin::op_class(bin::op::kGatKQ), bin::OpClass::kWrite);
  EXPECT_EQ(bin::op_class(bin::op::kGetKQ), bin::OpClass::kRead);
  std::vector<std::string_view> packets;
  for (uint8_t op : {bin::op::kStat, bin::op::kFlush, bin::op::kQuit, bin::op::kVerbosity,
                     bin::op::kSaslListMechs}) {
    packets.clear();
    std::string extras = op == bin::op::kVerbosity ? std::string(4, '\0') : "";
    // Admin, or not even known to this build (SASL without -S): dropped either way.
    Verdict v = classify_binary(req(bin::op::kGet, "a") + req(op, "", extras), true, &packets);
    EXPECT_TRUE(v == Verdict::kAdmin || v == Verdict::kNotARequest) << int(op);
  }
}

TEST(UdpBinary, PartialUnknownOrMalformedIsNotARequest) {
  std::vector<std::string_view> packets;
  std::string get = req(bin::op::kGet, "key");
  EXPECT_EQ(classify_binary(get.substr(0, get.size() - 1), true, &packets), Verdict::kNotARequest);
  EXPECT_EQ(classify_binary(get + "get x\r\n", true, &packets), Verdict::kNotARequest);
  EXPECT_EQ(classify_binary(req(0x50), true, &packets), Verdict::kNotARequest);
  EXPECT_EQ(classify_binary(req(bin::op::kGet, "k", "xxxx"), true, &packets),
            Verdict::kNotARequest);
  std::string response = get;
  response[0] = static_cast<char>(bin::kResponseMagic);
  EXPECT_FALSE(is_binary_payload(response));
  EXPECT_EQ(classify_binary("", true, &packets), Verdict::kNotARequest);
}

}  // namespace
}  // namespace memshield::server
