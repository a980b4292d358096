// The seam between the network layer and whatever speaks over a connection: the network layer
// moves bytes, a Session decides what they mean. net/ knows nothing of commands.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/out_buffer.h"

namespace memshield::net {

struct PeerInfo {
  int fd = -1;
  sockaddr_storage addr{};   // ss_family AF_UNIX for unix sockets
  int worker = 0;            // index of the worker thread that owns the connection
  std::string address;       // "tcp:127.0.0.1:5555", "unix:/path"
  std::string listen_address;
};

class Session {
 public:
  struct Result {
    size_t consumed = 0;
    bool close = false;  // close after the pending output is written
    bool abort = false;  // close now, dropping unsent output (a peer sending garbage)
    bool progress = false;  // at least one request was completed
    bool yield = false;  // stopped at its per-turn request limit (-R) with more input waiting
    // The session has more to send without further input (a key dump): call on_input again,
    // with whatever input is held, once the output has drained below the mark; with yield,
    // after the other connections ready now.
    bool more_output = false;
    bool stream = false;    // from now on the session produces output of its own: see pump()
  };
  virtual ~Session() = default;
  // Consumes what it can of `in`, appending answers to `out`. Bytes not consumed are offered
  // again, with more behind them, on the next call.
  virtual Result on_input(std::string_view in, OutBuffer& out) = 0;
  // True between requests; false while a request is partly received (a value still arriving).
  virtual bool at_request_boundary() const { return true; }
  // A streaming session (one that returned stream = true): appends output that arrived on its
  // own (watch lines) to `out`, at most about `max` bytes; returns the bytes appended. The worker
  // calls it between events while the connection's unsent output is small.
  virtual size_t pump(OutBuffer& out, size_t max) { return 0; }
  // Whether a takeover may pass the connection to another process between requests; false
  // when it holds state a fresh session would lose (an authenticated login): it is closed
  // between requests instead.
  virtual bool transferable() const { return true; }
};

class SessionFactory {
 public:
  virtual ~SessionFactory() = default;
  // Whether to serve a new connection at all (access control). A refused peer is closed before
  // a single byte is sent to it.
  virtual bool admit(const sockaddr_storage& peer) { return true; }
  virtual std::unique_ptr<Session> create(const PeerInfo& peer) = 0;
  // The line sent to a connection refused for the connection limit (with CRLF).
  virtual std::string_view reject_message() const = 0;
};

// Answers UDP datagrams. Called on worker threads, concurrently.
class DatagramHandler {
 public:
  virtual ~DatagramHandler() = default;
  // `payload` came from `from`; datagrams appended to `replies` are sent back to `from`.
  virtual void on_datagram(const sockaddr_storage& from, std::string_view payload, int worker,
                           std::vector<std::string>* replies) = 0;
};

}  // namespace memshield::net
