// systemd's readiness protocol without libsystemd: one datagram ("READY=1", "STOPPING=1", ...)
// to the unix socket named by $NOTIFY_SOCKET. A no-op when the variable is unset, so the same
// binary runs under Type=notify, Type=simple, or no service manager at all.
#pragma once

#include <string_view>

namespace memshield::server {

// Sends `state` to $NOTIFY_SOCKET. True if sent; false if unset or the send failed (never fatal:
// a service manager that misses READY=1 times the unit out, which is the right signal).
bool sd_notify_send(std::string_view state);

}  // namespace memshield::server
