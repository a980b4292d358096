// The UDP amplification measurement: sends one framed memcached request from our own address
// (never spoofed) and collects every datagram of the reply until the frame header's total is
// reached or the per-probe timeout passes, counting bytes both as UDP payload and on the wire.
#pragma once

#include <cstdint>
#include <string_view>

#include "audit/findings.h"
#include "audit/pacer.h"
#include "audit/target.h"

namespace memshield::audit {

// IPv4 header (20) or IPv6 header (40) plus the UDP header (8), added per datagram.
inline constexpr uint64_t kIpv4UdpOverhead = 28;
inline constexpr uint64_t kIpv6UdpOverhead = 48;
// Large enough that a 1 MB reply (719 datagrams) is not dropped while we read it.
inline constexpr int kUdpReceiveBuffer = 8 << 20;

// `command` is the memcached text command including "\r\n". The probe goes to target.address
// and `port`.
UdpProbeResult probe_udp(const Target& target, uint16_t port, std::string_view name,
                         std::string_view command, Pacer& pacer, int64_t timeout_ms);

}  // namespace memshield::audit
