// The optional Prometheus endpoint (--metrics=ADDR:PORT): a deliberately tiny HTTP/1.0 server on
// its own thread that answers GET /metrics and nothing else, one connection at a time, with
// bounded request size and time, then closes. It never touches the cache's data path.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace memshield::server {

// Parses "PORT", "ADDR:PORT" or "[V6ADDR]:PORT"; ADDR must be an IP literal (no host names: what
// a scraper can reach must be decided by the operator, not by a resolver). "PORT" alone means
// 127.0.0.1. False with a message on anything else.
bool parse_metrics_address(std::string_view spec, sockaddr_storage* out, std::string* error);

class MetricsHttp {
 public:
  using Render = std::function<std::string()>;
  explicit MetricsHttp(Render render) : render_(std::move(render)) {}
  ~MetricsHttp() { stop(); }
  MetricsHttp(const MetricsHttp&) = delete;
  MetricsHttp& operator=(const MetricsHttp&) = delete;

  // Binds and listens (call before dropping privileges); false with a message.
  bool open(std::string_view spec, std::string* error);
  // Starts serving on a thread; a no-op unless open() succeeded.
  void start();
  // Stops the thread and closes the socket; idempotent.
  void stop();

 private:
  void loop();
  void serve(int fd);

  Render render_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace memshield::server
