// Network counters: one set per worker thread (written by it alone), plus the process-wide
// connection count that enforces -c.
#pragma once

#include <atomic>

#include "common/counter.h"

namespace memshield::net {

struct WorkerStats {
  Counter total_connections;
  Counter rejected_connections;
  Counter bytes_read;
  Counter bytes_written;
  Counter conn_yields;     // -R: a connection's turn ended with requests still waiting
  Counter idle_kicks;      // connections closed by -o idle_timeout
  Counter read_buf_count;  // connections holding a private read buffer now
  Counter read_buf_bytes;
  Counter ssl_handshake_errors;  // TLS handshakes that failed (plaintext clients included)

  void reset() {
    total_connections.reset();
    rejected_connections.reset();
    bytes_read.reset();
    bytes_written.reset();
    conn_yields.reset();
    idle_kicks.reset();
    ssl_handshake_errors.reset();
  }
};

struct ConnectionLimit {
  explicit ConnectionLimit(int max) : max_connections(max) {}
  const int max_connections;
  std::atomic<int> current{0};
};

}  // namespace memshield::net
