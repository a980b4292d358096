// Binary STAT dispatch; see binary_stats.h.
#include "engine/binary_stats.h"

#include <string>

#include "protocol/binary/response.h"

namespace memshield::engine {

namespace bin = protocol::binary;

StatRoute route_stat_key(std::string_view key) {
  auto starts = [](std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; };
  if (key.empty() || key == "items" || key == "slabs" || key == "sizes") {
    return {StatForm::kPairs, key};
  }
  if (starts(key, "reset")) return {StatForm::kEmpty, "reset"};
  if (starts(key, "settings")) return {StatForm::kPairs, "settings"};
  if (starts(key, "detail ")) {
    std::string_view sub = key.substr(7);
    if (starts(sub, "on")) return {StatForm::kEmpty, "detail on"};
    if (starts(sub, "off")) return {StatForm::kEmpty, "detail off"};
    if (starts(sub, "dump")) return {StatForm::kDetailDump, "detail dump"};
  }
  return {};
}

namespace {

// Writes each "STAT name value" line of a text answer as a packet, up to its END.
void write_pairs(std::string_view text, const bin::Header& h, OutBuffer& out) {
  bin::ResponseParts parts;
  while (!text.empty()) {
    size_t eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 2);
    if (line.substr(0, 5) != "STAT ") return;
    line.remove_prefix(5);
    size_t sp = line.find(' ');
    parts.key = line.substr(0, sp);
    parts.value = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
    bin::write_response(out, h.opcode, h.opaque, bin::Status::kSuccess, parts);
  }
}

// A text answer the binary protocol reports as "Not found": an error line where a group was asked.
bool is_error(std::string_view text) {
  return text.substr(0, 5) == "ERROR" || text.substr(0, 12) == "CLIENT_ERROR" ||
         text.substr(0, 12) == "SERVER_ERROR";
}

}  // namespace

void answer_stat(Hooks& hooks, const bin::Header& h, std::string_view key, OutBuffer& out) {
  StatRoute route = route_stat_key(key);
  if (route.form == StatForm::kNotFound) {
    bin::write_status(out, h.opcode, h.opaque, bin::Status::kKeyNotFound);
    return;
  }
  OutBuffer text_out;
  hooks.stats(route.text_args, text_out);
  const std::string text = text_out.to_string();
  if (is_error(text)) {
    bin::write_status(out, h.opcode, h.opaque, bin::Status::kKeyNotFound);
    return;
  }
  switch (route.form) {
    case StatForm::kPairs:
      write_pairs(text, h, out);
      break;
    case StatForm::kDetailDump: {
      bin::ResponseParts parts;
      parts.key = "detailed";
      parts.value = text;
      bin::write_response(out, h.opcode, h.opaque, bin::Status::kSuccess, parts);
      break;
    }
    case StatForm::kEmpty:
    case StatForm::kNotFound:
      break;
  }
  bin::write_response(out, h.opcode, h.opaque, bin::Status::kSuccess, bin::ResponseParts());
}

}  // namespace memshield::engine
