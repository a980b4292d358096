// What the audit learned about one target: plain data filled by the probes and read by the risk
// assessment and the reports. Kept free of sockets so risk rules can be unit-tested on
// hand-written findings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/target.h"

namespace memshield::audit {

enum class TcpState { kNotProbed, kOpen, kClosed, kFiltered, kUnreachable, kError };

// What the open TCP port turned out to be.
enum class Speaks {
  kUnknown,        // not probed, or not reached
  kMemcached,      // answered memcached commands without authentication
  kMemcachedAuth,  // memcached that requires authentication (-Y or -S)
  kSilent,         // accepted the connection and never answered within the timeout
  kOther,          // answered in another protocol
};

struct TcpFinding {
  TcpState state = TcpState::kNotProbed;
  Speaks speaks = Speaks::kUnknown;
  std::string detail;  // error text, or an excerpt of a non-memcached reply
  std::string version;
  // From "stats" and "stats settings", when the server let us read them.
  std::optional<uint64_t> uptime, curr_items, bytes, limit_maxbytes, item_size_max,
      curr_connections, udp_port_setting;
  std::string listen;  // "inter" setting: what the server says it is bound to
  // --intrusive only: did a set from us succeed (nullopt when not tried).
  std::optional<bool> writable;
  std::string write_detail;
};

enum class UdpProbeState {
  kSkipped,   // not sent (time budget spent, or nothing to get)
  kAnswered,  // at least one datagram with our request id came back
  kNoAnswer,  // nothing within the timeout: closed and silent, or filtered
  kRefused,   // ICMP port unreachable: closed
  kError,
};

struct UdpProbeResult {
  std::string name;  // "version", "stats", "get"
  UdpProbeState state = UdpProbeState::kSkipped;
  uint64_t request_bytes = 0;       // UDP payload, 8-byte frame header included
  uint64_t response_bytes = 0;      // sum of UDP payloads received, frame headers included
  uint64_t request_wire_bytes = 0;  // plus IP and UDP headers (28 IPv4 / 48 IPv6 per datagram)
  uint64_t response_wire_bytes = 0;
  uint32_t datagrams = 0;           // distinct datagrams received
  uint32_t datagrams_expected = 0;  // "total" from the frame headers
  std::string detail;
  std::string first_line;  // start of the reassembled reply, for the report

  // Bytes we had sent to this UDP port before this probe that were not yet answered. A server
  // with a per-source budget (memshield) answers later requests out of that credit, so a reply
  // is judged against the request plus the credit: that is what a spoofer gets per byte spent.
  uint64_t credit_bytes = 0;
  uint64_t credit_wire_bytes = 0;

  bool complete() const { return datagrams_expected != 0 && datagrams == datagrams_expected; }
  double amplification() const {
    return request_bytes == 0 ? 0.0 : static_cast<double>(response_bytes) / request_bytes;
  }
  double wire_amplification() const {
    return request_wire_bytes == 0 ? 0.0
                                   : static_cast<double>(response_wire_bytes) / request_wire_bytes;
  }
  // The factor the risk is judged by: reply / (request + unanswered earlier bytes). Equal to
  // amplification() for servers that answer every request (memcached).
  double effective_amplification() const {
    uint64_t in = request_bytes + credit_bytes;
    return in == 0 ? 0.0 : static_cast<double>(response_bytes) / in;
  }
  double effective_wire_amplification() const {
    uint64_t in = request_wire_bytes + credit_wire_bytes;
    return in == 0 ? 0.0 : static_cast<double>(response_wire_bytes) / in;
  }
};

struct TargetReport {
  Target target;
  bool scanned = false;  // false when the time budget ran out before this target
  TcpFinding tcp;
  uint16_t udp_port = 0;
  std::vector<UdpProbeResult> udp;
  bool intrusive = false;

  bool udp_open() const;
  // Largest effective_amplification() of an answered probe; 0 when UDP is closed.
  double max_amplification() const;
  double max_wire_amplification() const;
  // Fills credit_bytes of each probe from the ones sent before it.
  void account_credit();
};

}  // namespace memshield::audit
