// Messages with file descriptors over a unix SOCK_SEQPACKET socket (SCM_RIGHTS), for the
// takeover of a running server: each message keeps its boundary, and the descriptors it carries
// arrive with it. A small writer/reader pair for the fields inside a message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memshield::net {

constexpr size_t kMaxPassedFds = 200;        // per message (the kernel's limit is 253)
constexpr size_t kMaxMessageBytes = 1 << 16;  // per message

// Sends one message of at most kMaxMessageBytes with at most kMaxPassedFds descriptors.
bool send_message(int sock, std::string_view payload, const std::vector<int>& fds);
// Waits up to timeout_ms for one message. False on timeout, error or end of stream; descriptors
// that came with it are appended to *fds (CLOEXEC), and the caller owns them.
bool recv_message(int sock, int timeout_ms, std::string* payload, std::vector<int>* fds);

struct MessageWriter {
  std::string out;
  void u8(uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); }
  void u64(uint64_t v) { out.append(reinterpret_cast<const char*>(&v), 8); }
  void bytes(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out.append(s);
  }
};

struct MessageReader {
  std::string_view in;
  bool ok = true;
  uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
  uint32_t u32() {
    uint32_t v = 0;
    std::string_view b = take(4);
    if (ok) memcpy_(&v, b.data(), 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v = 0;
    std::string_view b = take(8);
    if (ok) memcpy_(&v, b.data(), 8);
    return v;
  }
  std::string bytes() {
    uint32_t n = u32();
    return std::string(take(n));
  }

 private:
  static void memcpy_(void* d, const void* s, size_t n);
  std::string_view take(size_t n) {
    static const char kZero[8] = {};
    if (!ok || in.size() < n) {
      ok = false;
      return std::string_view(kZero, n <= 8 ? n : 0);
    }
    std::string_view r = in.substr(0, n);
    in.remove_prefix(n);
    return r;
  }
};

}  // namespace memshield::net
