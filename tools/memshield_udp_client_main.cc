// memshield-udp-client: sends memcached text commands over UDP, with memshield's cookie
// extension (or plain memcached framing with --legacy), and prints each response's bytes exactly.
// A test and diagnostics tool; it talks to the one host named on its command line and nothing
// else. Exit: 0 every command got a response, 1 timeout or network failure, 2 usage error.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "client/udp_cookie_client.h"

namespace {

using memshield::client::UdpClientOptions;
using memshield::client::UdpCookieClient;
using memshield::client::UdpStatus;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void usage(const char* why) {
  if (why != nullptr) std::fprintf(stderr, "memshield-udp-client: %s\n", why);
  std::fprintf(stderr,
               "usage: memshield-udp-client [--legacy] [--timeout MS] [--tcp-cookie] "
               "[--value DATA] HOST:PORT COMMAND [DATA] [COMMAND [DATA] ...]\n"
               "  Sends each COMMAND (\"\\r\\n\" appended) as one UDP request and prints the\n"
               "  response bytes exactly. A storage command (set, add, replace, append, prepend,\n"
               "  cas) takes its data block from the next argument, or from --value if given.\n"
               "  A noreply command gets no response, so it ends in a timeout.\n"
               "  --legacy      plain memcached framing, no cookie (what stock clients send)\n"
               "  --timeout MS  per command, cookie refresh included (default 2000)\n"
               "  --tcp-cookie  fetch the server cookie over TCP on the same HOST:PORT first\n"
               "  HOST:PORT     1.2.3.4:11211, [::1]:11211 or name:11211; one host only\n"
               "exit: 0 all answered, 1 timeout or network error, 2 usage error\n");
}

bool is_storage_command(std::string_view command) {
  const std::string_view verb = command.substr(0, command.find(' '));
  for (std::string_view s : {"set", "add", "replace", "append", "prepend", "cas"}) {
    if (verb == s) return true;
  }
  return false;
}

// A trailing "\r\n" the user already typed is kept as is rather than doubled.
std::string with_crlf(std::string_view line) {
  std::string out(line);
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

bool parse_timeout(const char* text, int* out) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0 || v > 3'600'000) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  UdpClientOptions options;
  bool tcp_cookie = false;
  int timeout_ms = 2000;
  bool have_value = false;
  std::string value;

  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.substr(0, 2) != "--") break;
    if (arg == "--legacy") {
      options.legacy = true;
    } else if (arg == "--tcp-cookie") {
      tcp_cookie = true;
    } else if (arg == "--timeout") {
      if (i + 1 >= argc || !parse_timeout(argv[i + 1], &timeout_ms)) {
        usage("--timeout needs a number of milliseconds (1..3600000)");
        return kExitUsage;
      }
      ++i;
    } else if (arg == "--value") {
      if (i + 1 >= argc) {
        usage("--value needs an argument");
        return kExitUsage;
      }
      have_value = true;
      value = argv[++i];
    } else if (arg == "--help" || arg == "-h") {
      usage(nullptr);
      return kExitOk;
    } else {
      usage(("unknown option " + std::string(arg)).c_str());
      return kExitUsage;
    }
  }
  if (options.legacy && tcp_cookie) {
    usage("--legacy sends no cookie, so --tcp-cookie makes no sense with it");
    return kExitUsage;
  }
  if (i >= argc) {
    usage("missing HOST:PORT");
    return kExitUsage;
  }
  std::string host;
  uint16_t port = 0;
  if (!memshield::client::split_host_port(argv[i], &host, &port)) {
    usage(("bad HOST:PORT '" + std::string(argv[i]) + "'").c_str());
    return kExitUsage;
  }
  ++i;

  // Every request is built before anything is sent, so a usage error sends nothing.
  std::vector<std::string> requests;
  for (; i < argc; ++i) {
    std::string request = with_crlf(argv[i]);
    if (is_storage_command(argv[i])) {
      if (have_value) {
        request += with_crlf(value);
      } else if (i + 1 < argc) {
        request += with_crlf(argv[++i]);
      } else {
        usage(("'" + std::string(argv[i]) + "' needs a data argument or --value").c_str());
        return kExitUsage;
      }
    }
    requests.push_back(std::move(request));
  }
  if (requests.empty()) {
    usage("no command given");
    return kExitUsage;
  }

  UdpCookieClient client(options);
  std::string error;
  if (!client.open(host, port, &error)) {
    std::fprintf(stderr, "memshield-udp-client: %s\n", error.c_str());
    return kExitFailed;
  }
  if (tcp_cookie && !client.get_cookie_over_tcp(host, port, timeout_ms, &error)) {
    std::fprintf(stderr, "memshield-udp-client: cookie over TCP: %s\n", error.c_str());
    return kExitFailed;
  }
  for (const std::string& request : requests) {
    std::string response;
    const UdpStatus s = client.request(request, &response, timeout_ms);
    if (s != UdpStatus::kOk) {
      std::fprintf(stderr, "memshield-udp-client: %s: %s\n", memshield::client::udp_status_name(s),
                   client.last_error().c_str());
      return kExitFailed;
    }
    std::fwrite(response.data(), 1, response.size(), stdout);
    std::fflush(stdout);
  }
  return kExitOk;
}
