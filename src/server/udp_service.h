// memcached's UDP service behind memshield's guard. Every datagram passes, in order: the ACL,
// the source-port check, the per-prefix packet rate, the frame and cookie checks, and a
// classification of every command in it (only well-formed requests are ever answered; admin
// commands never; writes only with proof of address). The response is computed whole, then
// sent only if it fits: a cookie or trusted network gets all of it, anyone else at most
// --udp-max-amplification times what it sent (docs/SECURITY.md).
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "engine/context.h"
#include "engine/thread_stats.h"
#include "net/session.h"
#include "server/shield.h"

namespace memshield::server {

class UdpService final : public net::DatagramHandler {
 public:
  UdpService(engine::Context& ctx, std::vector<engine::ThreadStats*> thread_stats,
             Shield& shield, const Clock& clock, int udp_port)
      : ctx_(ctx), thread_stats_(std::move(thread_stats)), shield_(shield), clock_(clock),
        udp_port_(udp_port) {}

  void on_datagram(const sockaddr_storage& from, std::string_view payload, int worker,
                   std::vector<std::string>* replies) override;

 private:
  engine::Context& ctx_;
  std::vector<engine::ThreadStats*> thread_stats_;
  Shield& shield_;
  const Clock& clock_;
  const int udp_port_;
};

}  // namespace memshield::server
