// See key_dump.h.
#include "engine/key_dump.h"

#include "common/itoa.h"
#include "common/number_parse.h"
#include "protocol/text/meta_parser.h"

namespace memshield::engine {

namespace {
constexpr size_t kChunkBytes = 64u << 10;  // output per step before the session yields
constexpr uint32_t kMaxClasses = 64;       // memcached's MAX_NUMBER_OF_SLAB_CLASSES

void append_u64(std::string& s, uint64_t v) {
  char buf[24];
  char* end = write_u64(buf, v);
  s.append(buf, static_cast<size_t>(end - buf));
}
}  // namespace

bool parse_dump_classes(std::string_view arg, bool* includes_items) {
  *includes_items = false;
  if (arg == "all" || arg == "hash") {
    *includes_items = true;
    return true;
  }
  bool any = false;
  while (!arg.empty()) {
    size_t comma = arg.find(',');
    std::string_view id = arg.substr(0, comma);
    arg = comma == std::string_view::npos ? std::string_view() : arg.substr(comma + 1);
    if (id.empty()) continue;  // "1,,2": empty ids are skipped
    uint32_t n = 0;
    if (!parse_u32(id, &n) || n == 0 || n >= kMaxClasses) return false;
    if (n == 1) *includes_items = true;
    any = true;
  }
  return any;
}

void append_uri_encoded(std::string& out, std::string_view key) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : key) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

void KeyDump::step(const store::Store& store, const Clock& clock, OutBuffer& out) {
  if (!active_) return;
  const time_t started = clock.process_started();
  size_t produced = 0;
  while (produced < kChunkBytes) {
    if (next_ == entries_.size()) {
      // The next shard: copied under its lock (cheap), formatted later, a chunk per step.
      if (shard_ >= store.shard_count()) break;
      entries_.clear();
      keys_.clear();
      next_ = 0;
      store.for_each_in_shard(shard_, [&](const store::ItemView& it) {
        entries_.push_back({static_cast<uint32_t>(keys_.size()),
                            static_cast<uint32_t>(it.key.size()), it.exptime, it.last_access,
                            it.cas(),
                            static_cast<uint32_t>(store.item_total(it.key.size(), it.flags,
                                                                   it.value.size())),
                            it.fetched, it.key_binary});
        keys_.append(it.key);
        return true;
      });
      ++shard_;
      continue;
    }
    // "key=<uri-encoded> exp=<unix time or -1> la=<unix time> cas=<n> fetch=<yes|no> cls=1
    // size=<memcached's item size>\n", as memcached 1.6.18 writes them (LF only; END has CRLF).
    const Entry& e = entries_[next_++];
    if (mg_) {
      std::string_view key(keys_.data() + e.key_offset, e.key_size);
      line_.assign("mg ");
      if (e.key_binary) {
        protocol::text::base64_encode(key, &line_);
        line_.append(" b");
      } else {
        line_.append(key);
      }
      line_.append("\r\n");
      out.append(line_);
      produced += line_.size();
      continue;
    }
    line_.assign("key=");
    append_uri_encoded(line_, std::string_view(keys_.data() + e.key_offset, e.key_size));
    line_.append(" exp=");
    if (e.exptime == 0) {
      line_.append("-1");
    } else {
      append_u64(line_, static_cast<uint64_t>(e.exptime + started));
    }
    line_.append(" la=");
    append_u64(line_, static_cast<uint64_t>(e.last_access + started));
    line_.append(" cas=");
    append_u64(line_, e.cas);
    line_.append(e.fetched ? " fetch=yes cls=1 size=" : " fetch=no cls=1 size=");
    append_u64(line_, e.size);
    line_.push_back('\n');
    out.append(line_);
    produced += line_.size();
  }
  if (shard_ >= store.shard_count() && next_ == entries_.size()) {
    out.append(mg_ ? std::string_view("EN\r\n") : std::string_view("END\r\n"));
    active_ = false;
    entries_ = {};
    keys_ = {};
    next_ = 0;
  }
}

}  // namespace memshield::engine
