// What the UDP guard makes of a datagram's requests before running any of them: serve them, or
// drop the datagram (not a well-formed request; an admin command; a write from an unproven source).
#pragma once

namespace memshield::server {

enum class Verdict { kServe, kNotARequest, kAdmin, kWrite };

}  // namespace memshield::server
