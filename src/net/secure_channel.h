// The seam between the worker and an encryption layer (TLS): a connection accepted on a secure
// listener moves its bytes through a SecureChannel instead of read()/sendmsg(). net/ knows no
// cryptography; the server supplies the implementation. Plaintext connections have none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace memshield::net {

class SecureChannel {
 public:
  enum class Status : uint8_t {
    kOk,         // done: the handshake finished, or bytes moved
    kWantRead,   // retry when the socket is readable
    kWantWrite,  // retry when the socket is writable
    kClosed,     // the peer closed the connection
    kError,      // fatal: close the connection (error() says why)
  };
  virtual ~SecureChannel() = default;
  virtual Status handshake() = 0;
  // *n: bytes read (kOk: at least 1).
  virtual Status read(char* buf, size_t len, size_t* n) = 0;
  // *n: bytes taken (kOk: at least 1). After kWantWrite, retry with the same bytes first.
  virtual Status write(const char* buf, size_t len, size_t* n) = 0;
  // Decrypted bytes buffered inside the channel, which epoll will not report.
  virtual bool pending() const = 0;
  // Best-effort orderly close (TLS close_notify); never blocks.
  virtual void shutdown() = 0;
  virtual std::string error() const = 0;
};

// Attached to a listening socket: wraps each accepted connection.
class SecureChannelFactory {
 public:
  virtual ~SecureChannelFactory() = default;
  // Null if the channel cannot be set up (the connection is then closed).
  virtual std::unique_ptr<SecureChannel> wrap(int fd) = 0;
};

}  // namespace memshield::net
