// Reading what a peer said back to the audit's probes, without trusting it: classifies the first
// reply line (memcached, memcached asking for authentication, an error, or another protocol),
// parses "STAT name value" blocks, and builds/reads the one binary-protocol request we send.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace memshield::audit {

enum class ReplyKind {
  kVersion,       // "VERSION x.y.z"
  kAuthRequired,  // "CLIENT_ERROR unauthenticated" (memcached -Y) or binary status 0x20 (-S)
  kError,         // "ERROR", "CLIENT_ERROR ...", "SERVER_ERROR ...": memcached-like, no version
  kOther,         // some other protocol (HTTP, SSH, ...)
};

// Classifies the first line a peer sent in answer to "version\r\n"; *version gets the version.
ReplyKind classify_text_reply(std::string_view line, std::string* version);

// True once `buf` holds a full stats block (ends with END) or an error line.
bool stats_reply_complete(std::string_view buf);

// "STAT name value\r\n" lines into name -> value; other lines are ignored.
std::map<std::string, std::string> parse_stats(std::string_view buf);

// A printable, bounded excerpt of bytes from an unknown peer, for the report.
std::string printable_excerpt(std::string_view bytes, size_t max_chars = 60);

// Binary protocol: a 24-byte "version" request (opcode 0x0b).
std::string binary_version_request();
enum class BinaryReply { kIncomplete, kVersion, kAuthRequired, kError, kOther };
// *version gets the body of a successful version reply.
BinaryReply classify_binary_reply(std::string_view buf, std::string* version);

// Whether an "inter" setting (memcached's -l, memshield's listen summary) means "every
// interface": "NULL" (no -l), 0.0.0.0, ::, with or without ports, comma-separated.
bool listens_on_all_interfaces(std::string_view inter);

}  // namespace memshield::audit
