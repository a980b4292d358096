// See udp_service.h.
#include "server/udp_service.h"

#include <netinet/in.h>

#include <ctime>
#include <string_view>
#include <unordered_set>

#include "common/log.h"
#include "common/out_buffer.h"
#include "engine/text_session.h"
#include "protocol/text/keys.h"
#include "protocol/text/meta_parser.h"
#include "protocol/text/parser.h"
#include "protocol/udp_frame/cookie_block.h"
#include "protocol/udp_frame/udp_frame.h"
#include "server/udp_binary.h"
#include "server/udp_verdict.h"

namespace memshield::server {
namespace {

using protocol::text::Cmd;
namespace udp = protocol::udp;

constexpr std::string_view kBudgetNotice =
    "SERVER_ERROR response exceeds unvalidated UDP budget; use TCP\r\n";

double monotonic_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

int source_port(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(sa).sin_port);
  if (sa.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(sa).sin6_port);
  return 0;
}

bool is_write(Cmd c) {
  return protocol::text::is_storage(c) || c == Cmd::kDelete || c == Cmd::kIncr ||
         c == Cmd::kDecr || c == Cmd::kTouch || c == Cmd::kGat || c == Cmd::kGats;
}

// A meta command: me is admin; mg is a read unless a flag makes it write (N vivifies, T
// touches, R and I can hand out or change win tokens); ms/md/ma write; a bad line is no request.
// *data_bytes: the size of an ms data block (with its CRLF) that follows the line.
Verdict classify_meta(std::string_view line, size_t* data_bytes) {
  protocol::text::MetaRequest m;
  protocol::text::parse_meta(line, &m);
  if (!m.error.empty()) return Verdict::kNotARequest;
  switch (m.cmd) {
    case protocol::text::MetaCmd::kDebug: return Verdict::kAdmin;
    case protocol::text::MetaCmd::kNoop: return Verdict::kServe;
    case protocol::text::MetaCmd::kGet:
      return m.vivify || m.has_ttl || m.has_recache || m.invalidate ? Verdict::kWrite
                                                                     : Verdict::kServe;
    case protocol::text::MetaCmd::kSet:
      *data_bytes = static_cast<size_t>(m.vlen) + 2;
      return Verdict::kWrite;
    default: return Verdict::kWrite;
  }
}

// Walks every command in the datagram without executing anything. Unvalidated gets are
// rewritten with each key once, so `get big big big ...` cannot multiply a response.
Verdict classify(std::string_view text, bool allow_writes, bool dedupe, std::string* rewritten) {
  if (text.empty()) return Verdict::kNotARequest;
  size_t pos = 0;
  bool changed = false;
  std::string out;
  while (pos < text.size()) {
    protocol::text::Line line;
    if (protocol::text::find_line(text.substr(pos), &line) != protocol::text::LineStatus::kLine) {
      return Verdict::kNotARequest;  // a partial line is not a request
    }
    protocol::text::Request req;
    protocol::text::parse_line(line.text, &req);
    size_t end = pos + line.consumed;
    switch (req.cmd) {
      case Cmd::kReply:  // an error, a reply ("ERROR", "VALUE ..."), or garbage
        return Verdict::kNotARequest;
      case Cmd::kStats:
      case Cmd::kVerbosity:
      case Cmd::kShutdown:
      case Cmd::kQuit:
      case Cmd::kShield:
      case Cmd::kRefreshCerts:
      case Cmd::kLruCrawler:  // key dumps stream over TCP only
      case Cmd::kLru:
      case Cmd::kFlushAll:  // one datagram must never be able to empty the cache
      case Cmd::kCacheMemlimit:  // nor shrink it
      case Cmd::kWatch:
        return Verdict::kAdmin;
      default:
        break;
    }
    if (req.cmd == Cmd::kMeta) {
      size_t data_bytes = 0;
      Verdict v = classify_meta(req.args, &data_bytes);
      if (v != Verdict::kServe && (v != Verdict::kWrite || !allow_writes)) return v;
      end += data_bytes;
      if (end > text.size()) return Verdict::kNotARequest;
    }
    if (is_write(req.cmd) && !allow_writes) return Verdict::kWrite;
    if (protocol::text::is_storage(req.cmd)) {
      end += static_cast<size_t>(req.vlen) + 2;
      if (end > text.size()) return Verdict::kNotARequest;
    }
    if (dedupe && (req.cmd == Cmd::kGet || req.cmd == Cmd::kGets)) {
      std::unordered_set<std::string_view> seen;
      std::string line_out(req.cmd == Cmd::kGet ? "get" : "gets");
      protocol::text::for_each_key(req.keys, [&](std::string_view key) {
        if (seen.insert(key).second) {
          line_out += ' ';
          line_out += key;
        } else {
          changed = true;
        }
        return true;
      });
      out += line_out + "\r\n";
    } else {
      out.append(text.substr(pos, end - pos));
    }
    pos = end;
  }
  if (changed) *rewritten = std::move(out);
  return Verdict::kServe;
}

}  // namespace

void UdpService::on_datagram(const sockaddr_storage& from, std::string_view data, int worker,
                             std::vector<std::string>* replies) {
  if (ctx_.ascii_auth != nullptr) return;  // -Y: a datagram cannot authenticate, so no answer
  ShieldStats& st = shield_.stats;
  security::IpAddress src;
  if (!security::ip_from_sockaddr(reinterpret_cast<const sockaddr*>(&from), &src)) return;
  std::shared_ptr<const AccessRules> rules = shield_.rules();
  if (!rules->acl.allows(src)) {
    ShieldStats::add(st.udp_dropped_acl);
    return;
  }
  // Privileged source ports are where reflection targets live (DNS, NTP, ...), and our own port
  // is what another server's answers come from: answering either is how loops start.
  const int sport = source_port(from);
  if (sport < 1024 || sport == udp_port_) {
    ShieldStats::add(st.udp_dropped_bad_port);
    return;
  }
  const double now = monotonic_seconds();
  if (!shield_.rate.allow_packet(src, now)) {
    ShieldStats::add(st.udp_dropped_rate_limited);
    return;
  }
  udp::FrameHeader h;
  if (!udp::decode_header(data, &h) || h.sequence != 0 || h.total != 1) {
    ShieldStats::add(st.udp_dropped_not_a_request);  // includes multi-datagram requests
    return;
  }
  ShieldStats::add(st.udp_bytes_received, data.size());
  std::string_view text = data.substr(udp::kHeaderSize);
  const uint32_t unix_now = static_cast<uint32_t>(clock_.unix_now());

  bool cookie_ok = false;
  if (h.reserved == udp::kCookieMagic) {
    udp::CookieBlock block;
    if (!udp::decode_cookie_block(text, &block)) {
      ShieldStats::add(st.udp_dropped_not_a_request);
      return;
    }
    security::CookieVerdict v = security::CookieVerdict::kMissing;
    if (block.flags & udp::kFlagServerCookie) {
      v = shield_.cookies.verify(src, block.client_cookie, block.server_cookie, unix_now);
    }
    if (v != security::CookieVerdict::kValid) {
      // Not executed. The answer, a fresh cookie, is never larger than the request carrying
      // the block, so it amplifies nothing even if the source was spoofed.
      udp::CookieBlock fresh = block;
      fresh.flags = udp::kFlagServerCookie;
      shield_.cookies.mint(src, block.client_cookie, unix_now, fresh.server_cookie);
      std::string reply(udp::kHeaderSize + udp::kCookieBlockSize, '\0');
      udp::encode_header({h.request_id, 0, 1, udp::kCookieMagic}, reply.data());
      udp::encode_cookie_block(fresh, reply.data() + udp::kHeaderSize);
      if (reply.size() <= data.size() && shield_.egress.allow_bytes(reply.size(), now)) {
        ShieldStats::add(st.udp_cookie_refreshes);
        ShieldStats::add(st.udp_bytes_sent, reply.size());
        replies->push_back(std::move(reply));
      }
      return;
    }
    cookie_ok = true;
    text = text.substr(udp::kCookieBlockSize);
  } else if (h.reserved != 0) {
    ShieldStats::add(st.udp_dropped_not_a_request);
    return;
  }

  const bool trusted = !cookie_ok && rules->trusted(src);
  const bool tcp_ok = !cookie_ok && !trusted && shield_.validate_tcp &&
                      shield_.tcp_peers.contains(src);
  const bool proven = cookie_ok || trusted;  // may write, and gets whole answers
  // Only unvalidated requests earn credit: bytes that came with proof are answered in full
  // already, and must not pay for answers to forgeries in the same address's name.
  if (!proven && !tcp_ok) shield_.budget.on_received(src, data.size(), now);

  // Binary requests follow text's rules (no admin, writes only when proven, whole answers only
  // within the budget); an unproven source's get cannot be multiplied past the budget either.
  // With -S a datagram cannot authenticate, so binary is never answered.
  const bool binary = is_binary_payload(text);
  if (binary && ctx_.options.require_auth) {
    ShieldStats::add(st.udp_dropped_admin);
    return;
  }
  std::string rewritten;
  std::vector<std::string_view> packets;
  const Verdict verdict = binary ? classify_binary(text, proven, &packets)
                                 : classify(text, proven, !proven && !tcp_ok, &rewritten);
  switch (verdict) {
    case Verdict::kNotARequest:
      ShieldStats::add(st.udp_dropped_not_a_request);
      return;
    case Verdict::kAdmin:
      ShieldStats::add(st.udp_dropped_admin);
      return;
    case Verdict::kWrite:
      ShieldStats::add(st.udp_dropped_write_unvalidated);
      MS_INFO_RATELIMITED(1, 5, "UDP: dropped a write from unvalidated %s (writes need a cookie "
                          "or --udp-trust)", src.to_string().c_str());
      return;
    case Verdict::kServe:
      break;
  }
  if (!rewritten.empty()) text = rewritten;
  ShieldStats::add(cookie_ok ? st.udp_requests_cookie
                   : trusted ? st.udp_requests_trusted
                   : tcp_ok  ? st.udp_requests_tcp_validated
                             : st.udp_requests_unvalidated);

  // Computed whole before anything is sent: all or nothing.
  std::string response;
  std::vector<std::string> binary_datagrams;
  size_t framed = 0;
  if (binary) {
    if (!run_binary(ctx_, *thread_stats_[worker], h.request_id, packets, &binary_datagrams,
                    &framed)) {
      return;
    }
    if (binary_datagrams.empty()) return;  // only quiet requests: nothing to say
  } else {
    OutBuffer out;
    engine::TextSession session(ctx_, *thread_stats_[worker], -1);
    session.process(text, out, SIZE_MAX);
    response = out.to_string();
    framed = udp::framed_size(response.size());
  }

  bool send = false;
  if (proven) {
    send = true;
  } else if (tcp_ok) {
    send = shield_.rate.allow_bytes(src, framed, now);  // the weaker mode's byte-rate cap
  } else {
    send = shield_.budget.try_spend(src, framed, now) && shield_.rate.allow_bytes(src, framed, now);
  }
  if (send && !shield_.egress.allow_bytes(framed, now)) {
    ShieldStats::add(st.udp_dropped_egress);
    return;
  }
  if (!send) {
    ShieldStats::add(st.udp_responses_refused_budget);
    ShieldStats::add(st.udp_bytes_withheld, framed);
    MS_INFO_RATELIMITED(1, 5, "UDP: withheld a %zu-byte response to %s (over its amplification "
                        "budget or byte rate)", framed, src.to_string().c_str());
    // A short notice tells a legitimate client to use TCP: only in answer to a request at least
    // as large as the notice, and within the budget, so small requests leave their credit for
    // answers.
    size_t notice = udp::kHeaderSize + kBudgetNotice.size();
    if (!binary && !tcp_ok && notice <= data.size() && shield_.budget.try_spend(src, notice, now) &&
        shield_.egress.allow_bytes(notice, now)) {
      udp::frame_response(h.request_id, kBudgetNotice, replies);
      ShieldStats::add(st.udp_refusal_notices);
      ShieldStats::add(st.udp_bytes_sent, notice);
    }
    return;
  }
  if (binary) {
    for (std::string& d : binary_datagrams) replies->push_back(std::move(d));
  } else if (!udp::frame_response(h.request_id, response, replies)) {
    return;
  }
  ShieldStats::add(st.udp_bytes_sent, framed);
}

}  // namespace memshield::server
