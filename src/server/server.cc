// See server.h.
#include "server/server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "engine/binary_session.h"
#include "engine/text_session.h"
#include "net/fd_pass.h"
#include "net/listener.h"
#include "net/worker.h"
#include "protocol/binary/header.h"
#include "server/auth_table.h"
#include "server/metrics_format.h"
#include "server/metrics_http.h"
#include "server/sandbox.h"
#include "server/sasl_auth.h"
#include "server/sd_notify.h"
#include "server/shield.h"
#include "server/source_limit.h"
#include "server/lru_admin.h"
#include "server/stats_report.h"
#include "server/tls_service.h"
#include "server/udp_service.h"
#include "store/restart_meta.h"
#include "store/store.h"

namespace memshield::server {
namespace {

constexpr size_t kOutHighWater = 4u << 20;

// The engine's sessions behind the network layer's Session interface: the first byte picks the
// protocol as memcached does (0x80: binary, anything else: text; -B and -S can force binary).
// Registers its peer with the shield for --udp-validate=tcp while it lives.
class ClientConnection final : public net::Session {
 public:
  ClientConnection(engine::Context& ctx, engine::ThreadStats& stats, const net::PeerInfo& peer,
                   TcpPeers* peers, BindingProtocol protocol, uint32_t reqs_per_event)
      : events_(ctx.events),
        fd_(peer.fd),
        addr_(peer.addr),
        text_(ctx, stats, peer.fd, &addr_),
        binary_(ctx, stats, peer.fd),
        peers_(peers),
        reqs_per_event_(reqs_per_event),
        transferable_(!ctx.options.require_auth && ctx.ascii_auth == nullptr) {
    if (protocol == BindingProtocol::kAscii) mode_ = Mode::kText;
    if (protocol == BindingProtocol::kBinary || ctx.options.require_auth) mode_ = Mode::kBinary;
    if (peers_ != nullptr &&
        !security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&addr_), &ip_)) {
      peers_ = nullptr;
    }
    if (peers_ != nullptr) peers_->add(ip_);
    if (events_ != nullptr && events_->wants(engine::kWatchConnEvents)) {
      events_->conn_event(true, &addr_, false, fd_);
    }
  }
  ~ClientConnection() override {
    if (peers_ != nullptr) peers_->remove(ip_);
    if (events_ != nullptr && events_->wants(engine::kWatchConnEvents)) {
      events_->conn_event(false, &addr_, mode_ == Mode::kText && text_.protocol_error(), fd_);
    }
  }
  size_t pump(OutBuffer& out, size_t max) override { return text_.pump(out, max); }
  Result on_input(std::string_view in, OutBuffer& out) override {
    if (mode_ == Mode::kUndecided && !in.empty()) {
      mode_ = static_cast<uint8_t>(in[0]) == protocol::binary::kRequestMagic ? Mode::kBinary
                                                                               : Mode::kText;
    }
    engine::TextSession::Result r = mode_ == Mode::kBinary
                                        ? binary_.process(in, out, kOutHighWater, reqs_per_event_)
                                        : text_.process(in, out, kOutHighWater, reqs_per_event_);
    return {r.consumed, r.close, r.abort, r.progress, r.yield, r.more_output, r.stream};
  }
  bool at_request_boundary() const override {
    return mode_ == Mode::kBinary ? binary_.at_request_boundary() : text_.at_request_boundary();
  }
  // A login (-S, -Y) would not survive in the next process's fresh session.
  bool transferable() const override { return transferable_; }

 private:
  enum class Mode : uint8_t { kUndecided, kText, kBinary };
  engine::EventLog* events_;
  int fd_;
  sockaddr_storage addr_;
  Mode mode_ = Mode::kUndecided;
  engine::TextSession text_;
  engine::BinarySession binary_;
  TcpPeers* peers_;
  const uint32_t reqs_per_event_;  // -R: text requests per turn before others get theirs
  const bool transferable_;
  security::IpAddress ip_;
};

bool parse_hex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    int v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = hex[2 * i + k];
      int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return false;
      v = v * 16 + d;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

class Server final : public net::SessionFactory, public engine::Hooks {
 public:
  Server(const Settings& s, int argc, char** argv)
      : settings_(s), argc_(argc), argv_(argv), limit_(s.max_connections) {}
  int run();

  // net::SessionFactory
  bool admit(const sockaddr_storage& peer) override {
    security::IpAddress ip;
    if (!security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&peer), &ip)) return true;
    if (shield_->rules()->acl.allows(ip)) return admit_source(ip);
    ShieldStats::add(shield_->stats.tcp_rejected_acl);
    MS_INFO_RATELIMITED(1, 5, "refused TCP connection from %s (ACL)", ip.to_string().c_str());
    return false;
  }
  // -Y makes every connection text, as memcached does: binary would bypass ascii auth.
  BindingProtocol binding_protocol() const {
    return settings_.auth_file.empty() ? settings_.protocol : BindingProtocol::kAscii;
  }
  std::unique_ptr<net::Session> create(const net::PeerInfo& peer) override {
    return per_source_.track(
        std::make_unique<ClientConnection>(ctx_, *thread_stats_[peer.worker], peer,
                                           shield_->validate_tcp ? &shield_->tcp_peers : nullptr,
                                           binding_protocol(),
                                           static_cast<uint32_t>(settings_.reqs_per_event)),
        peer.addr);
  }
  std::string_view reject_message() const override {
    return "ERROR Too many open connections\r\n";
  }

  // engine::Hooks
  void stats(std::string_view args, OutBuffer& out) override {
    if (args == "shield") {
      shield_->stats.write(out);
      out.append("END\r\n", 5);
      return;
    }
    if (args == "reset") shield_->stats.reset();
    write_stats(sources_, args, out);
  }
  void shield(std::string_view args, const sockaddr_storage* peer, OutBuffer& out) override;
  bool check_password(std::string_view user, std::string_view password) override {
    return sasl_.check_password(user, password);
  }
  std::unique_ptr<engine::SaslSession> new_sasl_session() override { return sasl_.new_session(); }
  std::string sasl_mechanisms() override { return sasl_.mechanisms(); }
  bool refresh_certs(std::string* error) override;
  void lru_crawler(std::string_view args, OutBuffer& out) override {
    lru_admin_->lru_crawler(args, out);
  }
  void lru(std::string_view args, OutBuffer& out) override { lru_admin_->lru(args, out); }
  std::string_view metadump_refusal() override { return lru_admin_->metadump_refusal(); }
  void shutdown(bool graceful) override {
    MS_INFO("shutdown requested by a client%s", graceful ? " (graceful)" : "");
    // graceful: as SIGUSR1 (with -e, the memory file is kept for a warm restart).
    kill(getpid(), graceful ? SIGUSR1 : SIGTERM);
  }

 private:
  bool open_listeners();
  void write_port_file();
  int load_tls();
  void warn_exposure();
  void reload();
  bool admit_source(const security::IpAddress& ip) {
    if (per_source_.allows(ip)) return true;
    ShieldStats::add(shield_->stats.tcp_rejected_per_source);
    MS_LOG(1, "refused TCP connection from %s (over --max-conns-per-source)",
           ip.to_string().c_str());
    return false;
  }
  bool load_auth_file(const char* when);
  int check_user();
  bool drop_privileges();
  bool install_syscall_filter();
  // Takeover (--takeover, DESIGN.md "Takeover"). Old side: a control thread answers on the
  // unix socket; serve_takeover() parks the workers, sends everything and waits for the new
  // process, or resumes. New side: take_over() receives it all before the store is built.
  int connect_takeover();
  bool take_over(int sock);
  bool listen_control();
  void control_loop();
  void serve_takeover(int sock);
  bool send_takeover(int sock, const std::vector<net::ParkedConnection>& conns);
  int takeover_sock_ = -1;  // new side: connected to the previous process
  int control_fd_ = -1;  // listening SOCK_SEQPACKET at --takeover's path
  std::atomic<bool> control_stop_{false};
  std::atomic<bool> takeover_busy_{false};
  std::atomic<bool> handed_over_{false};
  std::thread control_thread_;
  std::thread takeover_thread_;
  std::mutex store_mu_;        // the ticker's expiry sweep against a takeover's snapshot
  bool store_frozen_ = false;  // guarded by store_mu_
  // Received from the previous process (new side).
  bool inherited_store_ = false;
  store::RestartMeta inherited_meta_;
  int inherited_memfd_ = -1;
  std::vector<net::ParkedConnection> inherited_conns_;
  std::atomic<bool> serving_{false};  // the workers' start gate (see net::WorkerConfig)
  void ticker();

  const Settings& settings_;
  const int argc_;
  char** const argv_;
  int threads_ = 1;
  std::unique_ptr<Shield> shield_;
  SourceLimit per_source_{settings_.max_conns_per_source};
  AuthTable ascii_auth_;  // -Y
  SaslAuth sasl_;  // -S
  std::unique_ptr<UdpService> udp_;
  std::unique_ptr<TlsService> tls_;  // -Z
  Clock clock_;
  std::unique_ptr<store::Store> store_;
  engine::PrefixStats prefix_stats_{settings_.prefix_delimiter, settings_.detail_enabled};
  engine::EventLog events_{settings_.watcher_logbuf_kb * 1024, settings_.watch_enabled};
  engine::Context ctx_;
  net::ConnectionLimit limit_;
  net::ConnRegistry registry_;
  std::vector<net::ListenSocket> listeners_;
  std::vector<std::unique_ptr<engine::ThreadStats>> thread_stats_;
  std::vector<std::unique_ptr<net::Worker>> workers_;
  std::unique_ptr<LruState> lru_state_;  // `lru_crawler`, `lru`, `stats sizes_*` at run time
  std::unique_ptr<LruAdmin> lru_admin_;  // after store_: stopped before the store goes
  net::WorkerGroup worker_group_;  // deals accepted connections to workers_ in turn
  StatsSources sources_;

  bool switch_user_ = false;  // -u as root: the ids to switch to after binding
  uid_t switch_uid_ = 0;
  gid_t switch_gid_ = 0;

  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  bool tick_stop_ = false;
};

bool Server::open_listeners() {
  net::ListenResult r;
  if (!settings_.unix_socket.empty()) {
    r = net::listen_unix(settings_.unix_socket, settings_.unix_mask, settings_.backlog);
  } else {
    std::vector<std::string> specs = settings_.listen;
    if (specs.empty()) specs = {"127.0.0.1", "::1"};  // safe default: this host only
    // -Z puts TLS on every TCP listener except those given as memcached's "notls:ADDR".
    std::vector<std::string> secure_specs, plain_specs;
    for (std::string& spec : specs) {
      if (spec.rfind("notls:", 0) == 0) {
        spec.erase(0, 6);
        plain_specs.push_back(spec);
      } else {
        secure_specs.push_back(spec);
      }
    }
    // memcached's port rules: 0 turns TCP (or UDP) off, -1 binds an ephemeral port.
    const int tcp_port = std::max(settings_.tcp_port, 0);
    if (settings_.tcp_port != 0 && !secure_specs.empty()) {
      r = net::listen_tcp(secure_specs, tcp_port, settings_.backlog);
    }
    if (tls_ != nullptr) {
      for (auto& ls : r.sockets) ls.secure = tls_.get();
    }
    if (r.error.empty() && settings_.tcp_port != 0 && !plain_specs.empty()) {
      net::ListenResult p = net::listen_tcp(plain_specs, tcp_port, settings_.backlog);
      for (auto& ls : p.sockets) r.sockets.push_back(ls);
      if (!p.error.empty()) r.error = p.error;
    }
    if (r.error.empty() && settings_.udp_port != 0) {
      net::ListenResult u = net::listen_udp(specs, std::max(settings_.udp_port, 0));
      for (auto& ls : u.sockets) r.sockets.push_back(ls);
      if (!u.error.empty()) r.error = u.error;
    }
  }
  if (!r.error.empty()) {
    fprintf(stderr, "failed to listen: %s\n", r.error.c_str());
    for (auto& ls : r.sockets) close(ls.fd);
    return false;
  }
  listeners_ = std::move(r.sockets);
  std::string summary;
  for (const auto& ls : listeners_) {
    if (!summary.empty()) summary += ",";
    summary += ls.address;
    MS_LOG(1, "listening on %s%s", ls.address.c_str(), ls.secure != nullptr ? " (TLS)" : "");
  }
  sources_.listen_summary = summary;
  write_port_file();
  return true;
}

// $MEMCACHED_PORT_FILENAME: memcached writes the bound ports there ("TCP INET: 11211", one line
// per listening socket, TCP first), through a temporary file renamed into place, so a reader
// that sees the file sees all of it. Tests and supervisors find ephemeral ports (-p -1) this way.
void Server::write_port_file() {
  const char* name = getenv("MEMCACHED_PORT_FILENAME");
  if (name == nullptr || name[0] == '\0') return;
  std::string text;
  for (bool udp : {false, true}) {
    for (const auto& ls : listeners_) {
      if (ls.udp != udp || ls.address.rfind("unix:", 0) == 0) continue;
      text += udp ? "UDP INET" : "TCP INET";
      text += ls.ipv6 ? "6: " : ": ";
      text += std::to_string(ls.port) + "\n";
    }
  }
  std::string tmp = std::string(name) + ".lck";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr || fwrite(text.data(), 1, text.size(), f) != text.size()) {
    MS_WARN("could not write the port file %s: %s", tmp.c_str(), strerror(errno));
    if (f != nullptr) fclose(f);
    return;
  }
  fclose(f);
  if (rename(tmp.c_str(), name) != 0) {
    MS_WARN("could not rename %s to %s: %s", tmp.c_str(), name, strerror(errno));
  }
}

void Server::warn_exposure() {
  const bool acl = !shield_->rules()->acl.empty();
  for (const auto& ls : listeners_) {
    if (ls.loopback) continue;
    if (!acl && ls.secure != nullptr && settings_.ssl_verify_mode >= 2) {
      MS_WARN("listening on %s: reachable from other hosts, with no access control list; only "
              "TLS clients with a certificate signed by ssl_ca_cert are served",
              ls.address.c_str());
    } else if (!acl) {
      MS_WARN("listening on %s: memshield is reachable from other hosts, with no access control "
              "list and no authentication; anyone who can reach it can read, write and flush "
              "the cache. Restrict it with --allow=CIDR, or bind to loopback (omit -l).",
              ls.address.c_str());
    } else {
      MS_WARN("listening on %s: reachable from other hosts; access limited by %s",
              ls.address.c_str(), shield_->rules()->acl.describe().c_str());
    }
  }
  for (const auto& ls : listeners_) {
    if (!ls.udp) continue;
    MS_WARN("UDP is on (%s): unvalidated sources get back at most %.2fx the bytes they send, "
            "and no writes or stats; full answers need a server cookie%s. Turn UDP off with "
            "-U 0 if no client needs it.",
            ls.address.c_str(), settings_.udp_max_amplification,
            settings_.udp_trust.empty() ? " (no --udp-trust networks)" : " or --udp-trust");
  }
}

// SIGHUP: re-reads the command line and config file; only the access rules change live.
// -Y: (re)reads the authentication file. A file that fails to load leaves the old table live.
bool Server::load_auth_file(const char* when) {
  std::shared_ptr<const security::AuthFile> table;
  std::string error;
  if (!security::AuthFile::load(settings_.auth_file, &table, &error)) {
    if (when == nullptr) {
      fprintf(stderr, "%s\n", error.c_str());
    } else {
      MS_WARN("%s: authentication file not reloaded: %s", when, error.c_str());
    }
    return false;
  }
  ascii_auth_.replace(table);
  if (when != nullptr) MS_INFO("%s: authentication file reloaded: %zu users", when, table->size());
  return true;
}

// -Z: loads the certificates before anything is opened. Returns an exit code (64, EX_USAGE, as
// memcached exits on a certificate it cannot load).
int Server::load_tls() {
  if (!settings_.ssl) return 0;
  if (settings_.ssl_verify_mode >= 2 && settings_.ssl_ca_cert.empty()) {
    // memcached starts, then fails every handshake: no client certificate can be verified.
    fprintf(stderr, "ssl_verify_mode=%d requires client certificates, but no ssl_ca_cert is "
            "given to verify them against\n", settings_.ssl_verify_mode);
    return 64;
  }
  if (settings_.ssl_verify_mode == 1 && settings_.ssl_ca_cert.empty()) {
    MS_WARN("ssl_verify_mode=1 without ssl_ca_cert: clients that present a certificate will "
            "fail the handshake");
  }
  tls_ = std::make_unique<TlsService>(tls_options(settings_), clock_);
  std::string error;
  if (!tls_->reload(&error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 64;
  }
  if (!settings_.unix_socket.empty()) {
    MS_WARN("-Z: the UNIX socket %s is not encrypted (as in memcached)",
            settings_.unix_socket.c_str());
  }
  if (settings_.udp_port != 0 && settings_.unix_socket.empty()) {
    MS_WARN("-Z: UDP (-U %d) is not encrypted (as in memcached)", settings_.udp_port);
  }
  return 0;
}

// `refresh_certs` and SIGHUP: new connections get the new certificates, open ones keep theirs.
bool Server::refresh_certs(std::string* error) {
  if (tls_ == nullptr) {
    *error = "Error TLS not enabled";
    return false;
  }
  if (!tls_->reload(error)) {
    MS_WARN("TLS certificates not reloaded: %s", error->c_str());
    return false;
  }
  MS_INFO("TLS certificates reloaded");
  return true;
}

void Server::reload() {
  if (!settings_.auth_file.empty()) load_auth_file("SIGHUP");
  if (tls_ != nullptr) {
    std::string error;
    refresh_certs(&error);
  }
  Settings fresh;
  ParseResult parsed = parse_command_line(argc_, argv_, &fresh);
  if (parsed.outcome != ParseOutcome::kRun) {
    MS_WARN("SIGHUP: configuration not reloaded: %s", parsed.output.c_str());
    return;
  }
  std::shared_ptr<const AccessRules> rules;
  std::string error;
  if (!AccessRules::build(fresh, &rules, &error)) {
    MS_WARN("SIGHUP: configuration not reloaded: %s", error.c_str());
    return;
  }
  shield_->replace_rules(rules);
  MS_INFO("SIGHUP: access rules reloaded: %s",
          rules->acl.empty() ? "no ACL" : rules->acl.describe().c_str());
}

void Server::shield(std::string_view args, const sockaddr_storage* peer, OutBuffer& out) {
  std::string_view sub = args.substr(0, args.find(' '));
  std::string_view rest = sub.size() < args.size() ? args.substr(sub.size() + 1) : "";
  uint8_t client_cookie[security::kClientCookieSize];
  security::IpAddress ip;
  if (sub != "cookie" || !parse_hex(rest, client_cookie, sizeof(client_cookie))) {
    out.append("CLIENT_ERROR bad command line format\r\n");
    return;
  }
  if (peer == nullptr ||
      !security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(peer), &ip)) {
    out.append("CLIENT_ERROR cookies are bound to an IP address; use TCP\r\n");
    return;
  }
  uint8_t server_cookie[security::kServerCookieSize];
  shield_->cookies.mint(ip, client_cookie, static_cast<uint32_t>(clock_.unix_now()),
                        server_cookie);
  ShieldStats::add(shield_->stats.tcp_cookies_issued);
  static const char kHex[] = "0123456789abcdef";
  std::string line = "COOKIE ";
  for (uint8_t b : server_cookie) {
    line += kHex[b >> 4];
    line += kHex[b & 15];
  }
  line += "\r\n";
  out.append(line);
}

// memcached's rule, with its messages and exit codes: as root, -u is required (-u root is
// accepted) and the user must exist; checked before anything is opened. Returns an exit code.
int Server::check_user() {
  if (getuid() != 0 && geteuid() != 0) return 0;  // -u is ignored when not root, as memcached
  if (settings_.user.empty()) {
    fprintf(stderr, "can't run as root without the -u switch\n");
    return 64;  // EX_USAGE
  }
  passwd* pw = getpwnam(settings_.user.c_str());
  if (pw == nullptr) {
    fprintf(stderr, "can't find the user %s to switch to\n", settings_.user.c_str());
    return 67;  // EX_NOUSER
  }
  switch_user_ = true;
  switch_uid_ = pw->pw_uid;
  switch_gid_ = pw->pw_gid;
  return 0;
}

// After every listener is bound and every file opened (ports below 1024 and root-only key files
// keep working): supplementary groups, then the group, then the user, so none is left behind.
bool Server::drop_privileges() {
  if (!switch_user_) return true;
  if (setgroups(0, nullptr) != 0) {
    fprintf(stderr, "failed to drop supplementary groups: %s\n", strerror(errno));
    return false;
  }
  if (setgid(switch_gid_) != 0 || setuid(switch_uid_) != 0) {
    fprintf(stderr, "failed to assume identity of user %s: %s\n", settings_.user.c_str(),
            strerror(errno));
    return false;
  }
  if (switch_uid_ != 0 && (setuid(0) == 0 || geteuid() == 0)) {
    fprintf(stderr, "failed to drop root: it could be regained after switching to %s\n",
            settings_.user.c_str());
    return false;
  }
  MS_LOG(1, "running as user %s (uid %u, gid %u)", settings_.user.c_str(),
         static_cast<unsigned>(switch_uid_), static_cast<unsigned>(switch_gid_));
  return true;
}

// -o drop_privileges / --seccomp: once every thread runs, only the calls the serving path makes.
bool Server::install_syscall_filter() {
  security::SyscallPolicyOptions po;
  po.unlink_on_exit = !settings_.unix_socket.empty() || !settings_.pidfile.empty();
  const char* notify = getenv("NOTIFY_SOCKET");
  po.notify_socket = notify != nullptr && notify[0] != '\0';
  po.self_pid = static_cast<uint32_t>(getpid());
  po.sanitizer_runtime = kSanitizerBuild;
  po.cyrus_sasl = settings_.sasl && sasl_.uses_cyrus();
  po.memory_file = !settings_.memory_file.empty();
  std::string error;
  if (!install_seccomp(security::server_syscall_policy(po), &error)) {
    fprintf(stderr, "failed to install the seccomp filter: %s\n", error.c_str());
    return false;
  }
  MS_LOG(1, "seccomp filter installed: any system call outside the allow-list kills memshield");
  return true;
}

void Server::ticker() {
  std::unique_lock<std::mutex> lock(tick_mu_);
  while (!tick_stop_) {
    tick_cv_.wait_for(lock, std::chrono::milliseconds(200));
    clock_.tick();
    shield_->cookies.maybe_rotate(static_cast<uint32_t>(clock_.unix_now()));
    lock.unlock();
    {
      std::lock_guard<std::mutex> g(store_mu_);  // not while a takeover snapshots the store
      if (!store_frozen_) {
        store_->reclaim_expired(4096);  // a bounded slice each tick; lookups catch the rest lazily
        // cache_memlimit shrank the cache further than its command did at once: carry on here,
        // a bounded slice per tick.
        for (int i = 0; i < 64 && store_->shrink_step(16); ++i) {
        }
      }
    }
    lock.lock();
  }
}

// ---- Takeover (--takeover=PATH; DESIGN.md "Takeover") ----
// Messages over the SOCK_SEQPACKET control socket, new (N) and old (O) process:
//   N: HELLO pid          O: OK | BUSY
//   O: L listeners...     (descriptors: each listener, then the control socket itself)
//   O: S chunk ...        the store's restart metadata (restart_meta.h's encoding), in pieces
//   O: E | N              end of the metadata (descriptor: the memory file) | no store (no -e)
//   O: C conns...         parked connections with their unparsed bytes (descriptors: theirs)
//   O: D count            all sent
//   N: READY              the new process has built its store and serves from now; the old
//                         one exits. A failure before READY: the old one resumes serving.
namespace {
constexpr int kTakeoverDrainSeconds = 5;     // requests in flight get this long to finish
constexpr int kTakeoverReplyMs = 30000;      // each step of the exchange
constexpr size_t kConnBatchBytes = 40000;    // payload per message of connections
constexpr size_t kMetaChunk = 60000;

uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

bool fill_unix_addr(const std::string& path, sockaddr_un* sa) {
  *sa = sockaddr_un{};
  sa->sun_family = AF_UNIX;
  if (path.size() >= sizeof(sa->sun_path)) return false;
  memcpy(sa->sun_path, path.data(), path.size());
  return true;
}
}  // namespace

// New side: 1 connected to a running server (the socket in takeover_sock_), 0 nobody listens
// there (start normally), -1 refused or failed (the exit code is the caller's).
int Server::connect_takeover() {
  sockaddr_un sa;
  if (!fill_unix_addr(settings_.takeover, &sa)) return -1;
  int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (sock < 0) return -1;
  if (connect(sock, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    const int err = errno;
    close(sock);
    if (err == ENOENT || err == ECONNREFUSED) {
      MS_INFO("takeover: no memshield listens on %s; starting normally",
              settings_.takeover.c_str());
      return 0;
    }
    fprintf(stderr, "takeover: cannot connect to %s: %s\n", settings_.takeover.c_str(),
            strerror(err));
    return -1;
  }
  net::MessageWriter w;
  w.out = "HELLO";
  w.u32(static_cast<uint32_t>(getpid()));
  std::string reply;
  std::vector<int> fds;
  if (!net::send_message(sock, w.out, {}) ||
      !net::recv_message(sock, kTakeoverReplyMs, &reply, &fds)) {
    fprintf(stderr, "takeover: no answer from the server on %s\n", settings_.takeover.c_str());
    close(sock);
    return -1;
  }
  for (int fd : fds) close(fd);
  if (reply != "OK") {
    fprintf(stderr, "takeover refused by the server on %s: %s\n", settings_.takeover.c_str(),
            reply == "BUSY" ? "another takeover is in progress" : reply.c_str());
    close(sock);
    return -1;
  }
  takeover_sock_ = sock;
  return 1;
}

// New side: receives the listeners, then the store's description, then the connections. False
// only when not even the listeners arrived (the old process still serves, or died: start
// normally); once they have, whatever else arrives is used, so a previous process killed
// mid-way leaves this one serving (a cold cache without its metadata, fewer connections).
bool Server::take_over(int sock) {
  std::string msg;
  std::vector<int> fds;
  if (!net::recv_message(sock, kTakeoverReplyMs, &msg, &fds) || msg.empty() || msg[0] != 'L') {
    for (int fd : fds) close(fd);
    return false;
  }
  net::MessageReader r{std::string_view(msg).substr(1)};
  const uint32_t n = r.u32();
  if (!r.ok || fds.size() != n + 1) {
    for (int fd : fds) close(fd);
    return false;
  }
  listeners_.clear();
  for (uint32_t i = 0; i < n; ++i) {
    net::ListenSocket ls;
    ls.fd = fds[i];
    // The workers accept until EAGAIN: a blocking listener would stall one (the flag belongs to
    // the shared open file, which the old process uses non-blocking too).
    fcntl(ls.fd, F_SETFL, fcntl(ls.fd, F_GETFL) | O_NONBLOCK);
    ls.address = r.bytes();
    ls.udp = r.u8() != 0;
    ls.loopback = r.u8() != 0;
    ls.port = static_cast<int>(r.u32());
    ls.ipv6 = r.u8() != 0;
    const bool secure = r.u8() != 0;
    if (secure) {
      if (tls_ != nullptr) {
        ls.secure = tls_.get();
      } else {
        MS_WARN("takeover: %s was a TLS listener; without -Z it now serves plaintext",
                ls.address.c_str());
      }
    }
    listeners_.push_back(ls);
  }
  control_fd_ = fds[n];
  std::string summary;
  for (const auto& ls : listeners_) {
    if (!summary.empty()) summary += ",";
    summary += ls.address;
    MS_LOG(1, "listening on %s (taken over)%s", ls.address.c_str(),
           ls.secure != nullptr ? " (TLS)" : "");
  }
  sources_.listen_summary = summary;
  write_port_file();

  std::string meta_bytes;
  for (;;) {
    fds.clear();
    if (!net::recv_message(sock, kTakeoverReplyMs, &msg, &fds) || msg.empty()) {
      for (int fd : fds) close(fd);
      MS_WARN("takeover: the previous process stopped before sending its cache; starting with a "
              "clean cache");
      return true;
    }
    if (msg[0] == 'S') {
      meta_bytes.append(msg, 1, std::string::npos);
    } else if (msg[0] == 'E' && fds.size() == 1) {
      std::string error;
      if (store::decode_meta(meta_bytes, &inherited_meta_, &error)) {
        inherited_store_ = true;
        inherited_memfd_ = fds[0];
      } else {
        MS_WARN("takeover: the cache's metadata is invalid (%s); starting with a clean cache",
                error.c_str());
        close(fds[0]);
      }
      break;
    } else {
      for (int fd : fds) close(fd);
      break;  // 'N': no store
    }
  }
  for (;;) {
    fds.clear();
    if (!net::recv_message(sock, kTakeoverReplyMs, &msg, &fds) || msg.empty()) {
      for (int fd : fds) close(fd);
      MS_WARN("takeover: the previous process stopped while passing connections; %zu taken",
              inherited_conns_.size());
      return true;
    }
    if (msg[0] == 'D') break;
    net::MessageReader cr{std::string_view(msg).substr(1)};
    const uint32_t count = msg[0] == 'C' ? cr.u32() : 0;
    if (!cr.ok || fds.size() != count) {
      for (int fd : fds) close(fd);
      continue;
    }
    for (uint32_t i = 0; i < count; ++i) {
      net::ParkedConnection p;
      p.fd = fds[i];
      p.listener = cr.u32();
      std::string peer = cr.bytes();
      p.pending = cr.bytes();
      if (!cr.ok || p.listener >= listeners_.size() || peer.size() != sizeof(p.peer)) {
        close(p.fd);
        continue;
      }
      memcpy(&p.peer, peer.data(), sizeof(p.peer));
      inherited_conns_.push_back(std::move(p));
    }
  }
  return true;
}

// Old side: the control socket at --takeover's path (a stale one, nobody answering, is replaced).
bool Server::listen_control() {
  sockaddr_un sa;
  if (!fill_unix_addr(settings_.takeover, &sa)) return false;
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  unlink(settings_.takeover.c_str());
  const mode_t old_mask = umask(0077);  // only this user may take the server over
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 && listen(fd, 8) == 0;
  umask(old_mask);
  if (!ok) {
    fprintf(stderr, "--takeover: cannot listen on %s: %s\n", settings_.takeover.c_str(),
            strerror(errno));
    close(fd);
    return false;
  }
  control_fd_ = fd;
  return true;
}

void Server::control_loop() {
  while (!control_stop_.load()) {
    pollfd p{control_fd_, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    int c = accept4(control_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::string msg;
    std::vector<int> fds;
    const bool hello = net::recv_message(c, 5000, &msg, &fds) && msg.rfind("HELLO", 0) == 0;
    for (int fd : fds) close(fd);
    if (!hello) {
      close(c);
      continue;
    }
    net::MessageReader r{std::string_view(msg).substr(5)};
    const uint32_t pid = r.u32();
    if (takeover_busy_.exchange(true)) {
      MS_WARN("takeover by pid %u refused: another one is in progress", pid);
      net::send_message(c, "BUSY", {});
      close(c);
      continue;
    }
    MS_INFO("takeover requested by pid %u", pid);
    if (takeover_thread_.joinable()) takeover_thread_.join();
    takeover_thread_ = std::thread([this, c] { serve_takeover(c); });
  }
}

// Old side: parks every connection between requests (bounded), freezes the store, sends it all,
// and exits once the new process says READY; resumes serving if it never does.
void Server::serve_takeover(int sock) {
  const uint64_t started = monotonic_ns();
  const char* failed = nullptr;
  if (!net::send_message(sock, "OK", {})) failed = "could not answer it";
  std::vector<net::ParkedConnection> conns;
  // Two rounds: a connection accepted by one worker just before it parked may still be on
  // its way to another worker that had parked already; the second round parks it there.
  const uint64_t deadline = started + uint64_t{kTakeoverDrainSeconds} * 1000000000u;
  for (int round = 0; round < 2 && failed == nullptr; ++round) {
    conns.clear();
    for (auto& w : workers_) w->park(deadline);
    for (auto& w : workers_) {
      if (!w->wait_parked((kTakeoverDrainSeconds + 10) * 1000, &conns)) {
        failed = "the workers did not park their connections";
      }
    }
  }
  if (failed == nullptr) {
    {
      std::lock_guard<std::mutex> g(store_mu_);
      store_frozen_ = true;
    }
    lru_admin_->pause();  // no crawl may unlink items the new process is indexing
    if (!send_takeover(sock, conns)) failed = "sending to the new process failed";
  }
  std::string reply;
  std::vector<int> fds;
  if (failed == nullptr &&
      (!net::recv_message(sock, kTakeoverReplyMs, &reply, &fds) || reply != "READY")) {
    failed = "the new process went away or did not answer READY";
  }
  for (int fd : fds) close(fd);
  const bool ok = failed == nullptr;
  if (ok) {
    MS_INFO("takeover: handed over %zu connections in %.0f ms; exiting", conns.size(),
            static_cast<double>(monotonic_ns() - started) / 1e6);
    handed_over_.store(true);
    close(sock);
    kill(getpid(), SIGTERM);
    return;
  }
  MS_WARN("takeover failed (%s); serving on", failed);
  close(sock);
  {
    std::lock_guard<std::mutex> g(store_mu_);
    store_frozen_ = false;
  }
  lru_admin_->resume();
  for (auto& w : workers_) w->resume();
  takeover_busy_.store(false);
}

bool Server::send_takeover(int sock, const std::vector<net::ParkedConnection>& conns) {
  net::MessageWriter w;
  w.out = "L";
  w.u32(static_cast<uint32_t>(listeners_.size()));
  std::vector<int> fds;
  for (const auto& ls : listeners_) {
    w.bytes(ls.address);
    w.u8(ls.udp ? 1 : 0);
    w.u8(ls.loopback ? 1 : 0);
    w.u32(static_cast<uint32_t>(ls.port));
    w.u8(ls.ipv6 ? 1 : 0);
    w.u8(ls.secure != nullptr ? 1 : 0);
    fds.push_back(ls.fd);
  }
  fds.push_back(control_fd_);
  if (!net::send_message(sock, w.out, fds)) return false;

  store::RestartMeta meta;
  std::string error;
  if (store_->memory_file_fd() >= 0 && store_->snapshot_for_restart(&meta, &error)) {
    const std::string bytes = store::encode_meta(meta);
    for (size_t off = 0; off < bytes.size(); off += kMetaChunk) {
      if (!net::send_message(sock, "S" + bytes.substr(off, kMetaChunk), {})) return false;
    }
    if (!net::send_message(sock, "E", {store_->memory_file_fd()})) return false;
  } else if (!net::send_message(sock, "N", {})) {
    return false;
  }

  size_t i = 0;
  while (i < conns.size()) {
    net::MessageWriter body;
    std::vector<int> batch;
    uint32_t count = 0;
    for (; i < conns.size() && batch.size() < net::kMaxPassedFds &&
           body.out.size() < kConnBatchBytes;
         ++i, ++count) {
      const net::ParkedConnection& p = conns[i];
      body.u32(static_cast<uint32_t>(p.listener));
      body.bytes(std::string_view(reinterpret_cast<const char*>(&p.peer), sizeof(p.peer)));
      body.bytes(p.pending);
      batch.push_back(p.fd);
    }
    net::MessageWriter head;
    head.out = "C";
    head.u32(count);
    if (!net::send_message(sock, head.out + body.out, batch)) return false;
  }
  net::MessageWriter done;
  done.out = "D";
  done.u32(static_cast<uint32_t>(conns.size()));
  return net::send_message(sock, done.out, {});
}

int Server::run() {
  log::set_verbosity(settings_.verbosity);
  for (const std::string& w : settings_.warnings) MS_WARN("%s", w.c_str());

  threads_ = settings_.threads > 0 ? settings_.threads
                                   : static_cast<int>(std::thread::hardware_concurrency());
  if (threads_ <= 0) threads_ = 1;

  // Signals are taken synchronously by the main thread; workers inherit the mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  sigaddset(&sigs, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Enough descriptors for -c connections plus listeners and slack.
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rlim_t want = static_cast<rlim_t>(settings_.max_connections) + 64;
    if (rl.rlim_cur < want) {
      rl.rlim_cur = std::min(want, rl.rlim_max);
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  if (settings_.enable_coredumps) {
    rlimit core{RLIM_INFINITY, RLIM_INFINITY};
    setrlimit(RLIMIT_CORE, &core);
  }

  std::shared_ptr<const AccessRules> rules;
  std::string rules_error;
  if (!AccessRules::build(settings_, &rules, &rules_error)) {
    fprintf(stderr, "%s\n", rules_error.c_str());
    return 64;  // EX_USAGE: a malformed CIDR stops start-up
  }
  if (int rc = check_user(); rc != 0) return rc;
  if (int rc = load_tls(); rc != 0) return rc;
  if (settings_.seccomp && !seccomp_available()) {
    fprintf(stderr, "-o drop_privileges (--seccomp): this memshield was built without "
            "libseccomp\n");
    return 64;
  }
  shield_ = std::make_unique<Shield>(settings_, rules);
  if (settings_.sasl) {
    // A password file ($MEMCACHED_SASL_PWDB or memshield's --sasl-pwdb) as memcached's
    // --enable-sasl-pwdb build; without one, Cyrus SASL as Debian's memcached (sasl_auth.h).
    // Before any thread and before the sandbox: libsasl2 loads its plugins here.
    const char* env = getenv("MEMCACHED_SASL_PWDB");
    std::string path = !settings_.sasl_pwdb.empty() ? settings_.sasl_pwdb : env ? env : "";
    std::string error;
    if (!sasl_.init(path, &error)) {
      fprintf(stderr, "Error initializing sasl: %s\n", error.c_str());
      return 71;
    }
    MS_LOG(1, "SASL: %s (mechanisms: %s)", sasl_.uses_cyrus() ? "Cyrus SASL" : path.c_str(),
           sasl_.mechanisms().c_str());
  }
  if (!settings_.auth_file.empty()) {
    if (!load_auth_file(nullptr)) return 1;  // memcached exits 1 when it cannot read -Y
    ctx_.ascii_auth = &ascii_auth_;
  }
  // -e: a metadata file left by a graceful stop is read before anything listens; one that
  // cannot be read or fails its checks stops start-up, as in memcached (the operator removes it
  // to start clean), rather than serving from a memory file nothing vouches for.
  if (!settings_.takeover.empty() && settings_.seccomp) {
    // The control socket needs system calls the filter forbids. Not fatal, so the packaged unit
    // (which always passes --takeover) still starts with --seccomp in the config.
    MS_WARN("--takeover is ignored with --seccomp (-o drop_privileges): no takeover either way");
  } else if (!settings_.takeover.empty()) {
    if (connect_takeover() < 0) return 75;  // EX_TEMPFAIL: refused, or no answer
  }
  store::RestartMeta restart_meta;
  bool have_meta = false;
  const std::string meta_path = settings_.memory_file + ".meta";
  if (!settings_.memory_file.empty() && takeover_sock_ < 0) {
    std::string error;
    switch (store::read_meta_file(meta_path, &restart_meta, &error)) {
      case store::MetaRead::kAbsent:
        MS_LOG(1, "[restart] no metadata save file, starting with a clean cache");
        break;
      case store::MetaRead::kOk:
        have_meta = true;
        break;
      case store::MetaRead::kInvalid:
        fprintf(stderr,
                "[restart] failed to read metadata: %s; remove it to start with a clean cache\n",
                error.c_str());
        return 1;
    }
  }
  const bool inherited = takeover_sock_ >= 0 && take_over(takeover_sock_);
  if (takeover_sock_ >= 0 && !inherited) {
    MS_WARN("takeover: nothing received from the previous process; starting normally");
    close(takeover_sock_);
    takeover_sock_ = -1;
  }
  if (inherited) {
    if (inherited_store_ && settings_.memory_file.empty()) {
      MS_WARN("takeover: the previous process kept its cache in a memory file, but this one "
              "has no -e: the cache starts empty");
      close(inherited_memfd_);
      inherited_memfd_ = -1;
      inherited_store_ = false;
    } else if (!inherited_store_) {
      MS_INFO("takeover: no cache to take over (the previous process ran without -e, or sent "
              "none): the cache starts empty; sockets and connections are taken over");
    } else {
      restart_meta = inherited_meta_;
      have_meta = true;
    }
  } else if (!open_listeners()) {
    return 71;  // EX_OSERR, as memcached exits when it cannot bind
  }
  MetricsHttp metrics([this] { return format_metrics(sources_, shield_->stats); });
  std::string metrics_error;
  if (!settings_.metrics.empty() && !metrics.open(settings_.metrics, &metrics_error)) {
    fprintf(stderr, "%s\n", metrics_error.c_str());
    return 71;
  }
  warn_exposure();

  if (settings_.daemonize) {
    // A takeover's -d (systemd's ExecReload) keeps stderr: under systemd it is the journal.
    if (daemon(1, settings_.verbosity > 0 || takeover_sock_ >= 0) != 0) {
      fprintf(stderr, "failed to daemonize: %s\n", strerror(errno));
      return 71;
    }
  }
  if (!drop_privileges()) return 71;
  if (settings_.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0) {
    MS_WARN("-k: failed to lock memory: %s", strerror(errno));
  }
  if (!settings_.pidfile.empty()) {
    FILE* f = fopen(settings_.pidfile.c_str(), "w");
    if (f != nullptr) {
      fprintf(f, "%d\n", static_cast<int>(getpid()));
      fclose(f);
    } else {
      MS_WARN("could not write pid file %s: %s", settings_.pidfile.c_str(), strerror(errno));
    }
  }

  store::Config sc;
  sc.memory_limit = settings_.memory_limit_mb << 20;
  sc.evict = settings_.evict;
  sc.use_cas = settings_.use_cas;
  sc.item_size_max = settings_.item_size_max;
  sc.memory_file = settings_.memory_file;
  sc.restore = have_meta ? &restart_meta : nullptr;
  sc.memory_fd = inherited_memfd_;  // a takeover: the file travels open, with its lock
  store_ = std::make_unique<store::Store>(sc, clock_);
  if (!settings_.memory_file.empty()) {
    switch (store_->warm_start()) {
      case store::WarmStart::kFailed:
        fprintf(stderr, "[restart] cannot use memory file: %s\n",
                store_->warm_start_message().c_str());
        return 71;
      case store::WarmStart::kRestored:
        // Relative times in the items are the old process's: keep its epoch.
        clock_.rebase(static_cast<time_t>(restart_meta.process_started));
        MS_INFO("[restart] %s (stopped for %lld s)", store_->warm_start_message().c_str(),
                std::max<long long>(0, clock_.unix_now() - restart_meta.stop_time));
        break;
      default:
        if (!store_->warm_start_message().empty()) {
          MS_WARN("[restart] %s", store_->warm_start_message().c_str());
        }
    }
    // As memcached: once read, the metadata goes, so a crash later cannot restore a stale
    // snapshot over a memory file that has changed since.
    if (have_meta && !inherited) unlink(meta_path.c_str());
  }
  if (!settings_.takeover.empty() && !settings_.seccomp && control_fd_ < 0 &&
      !listen_control()) {
    return 71;
  }
  if (takeover_sock_ >= 0) {
    // The store is built: the previous process may go. Until this, it resumes if we die.
    // systemd (NotifyAccess=all) learns the service's new main process before the old one
    // exits, so the old one's exit is not taken for the service's end.
    sd_notify_send("MAINPID=" + std::to_string(getpid()));
    if (!net::send_message(takeover_sock_, "READY", {})) {
      MS_WARN("takeover: the previous process went away before the handoff completed");
    }
    close(takeover_sock_);
    takeover_sock_ = -1;
  }

  ctx_.store = store_.get();
  ctx_.clock = &clock_;
  ctx_.hooks = this;
  ctx_.detail = &prefix_stats_;
  ctx_.events = &events_;
  store_->set_eviction_listener(&events_);
  ctx_.options.flush_enabled = settings_.flush_enabled;
  ctx_.options.shutdown_command = settings_.shutdown_command;
  ctx_.options.require_auth = settings_.sasl;
  ctx_.options.version = version_string();

  for (int i = 0; i < threads_; ++i) {
    thread_stats_.push_back(std::make_unique<engine::ThreadStats>());
  }
  lru_state_ = std::make_unique<LruState>(settings_);
  lru_admin_ = std::make_unique<LruAdmin>(*store_, *lru_state_, settings_.dump_enabled);
  sources_.lru = lru_state_.get();
  sources_.settings = &settings_;
  sources_.clock = &clock_;
  sources_.store = store_.get();
  sources_.limit = &limit_;
  sources_.registry = &registry_;
  sources_.tls = tls_.get();
  sources_.detail = &prefix_stats_;
  sources_.events = &events_;
  sources_.threads = threads_;
  for (auto& t : thread_stats_) sources_.thread_stats.push_back(t.get());
  int udp_port = settings_.udp_port;  // -U -1: the ephemeral port as bound
  for (const auto& ls : listeners_) {
    if (ls.udp) udp_port = ls.port;
  }
  udp_ = std::make_unique<UdpService>(ctx_, sources_.thread_stats, *shield_, clock_, udp_port);
  for (int i = 0; i < threads_; ++i) {
    net::WorkerConfig wc;
    wc.index = i;
    wc.out_high_water = kOutHighWater;
    wc.idle_timeout = settings_.idle_timeout;
    wc.request_timeout = settings_.request_timeout;
    wc.yield_every = settings_.worker_yield;
    wc.start_gate = &serving_;
    wc.group = &worker_group_;
    workers_.push_back(std::make_unique<net::Worker>(wc, listeners_, *this, limit_, registry_,
                                                     clock_, udp_.get()));
    sources_.worker_stats.push_back(&workers_.back()->mutable_stats());
    worker_group_.workers.push_back(workers_.back().get());
  }
  for (const auto& ls : listeners_) {
    net::ConnInfo info{ls.address, ls.address, true};
    info.kind = ls.udp ? net::ConnInfo::Kind::kUdp : net::ConnInfo::Kind::kListener;
    info.since = clock_.now();
    registry_.add(ls.fd, std::move(info));
  }

  std::thread tick([this] { ticker(); });
  for (auto& w : workers_) w->start();
  metrics.start();
  int exit_code = 0;
  if (settings_.seccomp && !install_syscall_filter()) exit_code = 71;
  // Workers serve from here on (with the filter in place when there is one); on failure they
  // wake only to see the stop.
  serving_.store(true, std::memory_order_release);
  serving_.notify_all();
  if (exit_code == 0 && !inherited_conns_.empty()) {
    for (size_t i = 0; i < inherited_conns_.size(); ++i) {
      net::ParkedConnection& p = inherited_conns_[i];
      workers_[i % workers_.size()]->adopt_passed(p.fd, p.peer, &listeners_[p.listener],
                                                  std::move(p.pending));
    }
    MS_INFO("takeover: serving %zu connections passed over", inherited_conns_.size());
    inherited_conns_.clear();
  }
  if (exit_code == 0 && control_fd_ >= 0) control_thread_ = std::thread([this] { control_loop(); });
  if (exit_code == 0) {
    // Type=notify: listeners are up and workers serve (after a takeover, systemd has been
    // told MAINPID already; see above).
    sd_notify_send("READY=1");
    MS_LOG(1, "memshield ready: %d worker threads, %zu MB memory limit", threads_,
           settings_.memory_limit_mb);
  }

  int sig = 0;
  while (exit_code == 0) {
    if (sigwait(&sigs, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    MS_LOG(1, "signal %d: shutting down", sig);
    break;
  }

  const bool handed_over = handed_over_.load();
  if (!handed_over) sd_notify_send("STOPPING=1");  // the new process is the service now
  control_stop_.store(true);
  if (control_thread_.joinable()) control_thread_.join();
  if (takeover_thread_.joinable()) takeover_thread_.join();
  metrics.stop();  // before the stats it reads go away
  for (auto& w : workers_) w->stop();
  for (auto& w : workers_) w->join();
  {
    std::lock_guard<std::mutex> g(tick_mu_);
    tick_stop_ = true;
  }
  tick_cv_.notify_all();
  tick.join();
  // SIGUSR1 (or `shutdown graceful`), with -e: nothing runs any more, so the memory file is
  // consistent; describe it for the next start.
  if (sig == SIGUSR1 && !settings_.memory_file.empty() && !handed_over) {
    lru_admin_->pause();  // a crawl must not unlink items while the store is described
    std::string error;
    if (store_->save_for_restart(meta_path, &error)) {
      MS_INFO("[restart] saved %llu items for a warm restart (%s)",
              static_cast<unsigned long long>(store_->stats().curr_items), meta_path.c_str());
    } else {
      MS_WARN("[restart] failed to save metadata: %s", error.c_str());
      exit_code = 1;
    }
  }
  for (const auto& ls : listeners_) close(ls.fd);
  if (control_fd_ >= 0) close(control_fd_);
  // Handed over: the socket files and the pid file are the new process's now.
  if (!handed_over) {
    if (!settings_.unix_socket.empty()) unlink(settings_.unix_socket.c_str());
    if (!settings_.pidfile.empty()) unlink(settings_.pidfile.c_str());
    if (control_fd_ >= 0) unlink(settings_.takeover.c_str());
  }
  workers_.clear();
  return exit_code;
}

}  // namespace

int run_server(const Settings& settings, int argc, char** argv) {
  Server server(settings, argc, argv);
  return server.run();
}

}  // namespace memshield::server
