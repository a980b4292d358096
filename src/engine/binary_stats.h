// Binary STAT: which `stats` group a STAT key names and how memcached 1.6.18 frames its answer
// over the binary protocol. The numbers themselves come from the server's text `stats <group>`
// answer (Hooks::stats), so both protocols report the same values and pick up new groups.
#pragma once

#include <string_view>

#include "common/out_buffer.h"
#include "engine/context.h"
#include "protocol/binary/header.h"

namespace memshield::engine {

enum class StatForm {
  kPairs,       // each "STAT name value" line a packet, then an empty packet
  kEmpty,       // the command's effect only: one empty packet (reset, detail on/off)
  kDetailDump,  // one packet, key "detailed", value the whole text dump, then an empty packet
  kNotFound,    // "Not found" (unknown groups, and those memcached serves over text only)
};

struct StatRoute {
  StatForm form = StatForm::kNotFound;
  std::string_view text_args;  // what to ask Hooks::stats for
};

// Pure: maps a binary STAT key to its text group, as memcached 1.6.18 matches them (observed:
// "reset..." and "settings..." by prefix, "detail on|off|dump" by the word's first letters,
// "items", "slabs", "sizes" exactly; "conns", "cachedump", "extstore" and the rest not found).
StatRoute route_stat_key(std::string_view key);

// Answers one binary STAT request into `out`.
void answer_stat(Hooks& hooks, const protocol::binary::Header& h, std::string_view key,
                 OutBuffer& out);

}  // namespace memshield::engine
