// Encoding of the warm-restart metadata file; see restart_meta.h. Little-endian fixed-width
// fields (the file never leaves the machine that wrote it), counted vectors, then XXH3-64 of
// everything before it.
#include "store/restart_meta.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/hash.h"

namespace memshield::store {
namespace {

constexpr char kMagic[8] = {'M', 'S', 'H', 'M', 'E', 'T', 'A', '1'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kMaxShards = 1u << 16;
constexpr uint64_t kMaxSegments = 1u << 26;

class Writer {
 public:
  template <class T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof(v));
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), n_(n) {}
  template <class T>
  bool get(T* v) {
    if (n_ - off_ < sizeof(T)) return false;
    memcpy(v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return true;
  }
  size_t left() const { return n_ - off_; }

 private:
  const char* p_;
  size_t n_;
  size_t off_ = 0;
};

}  // namespace

std::string LayoutSettings::mismatch(const LayoutSettings& now, std::string* old_value) const {
  struct {
    const char* name;
    uint64_t was, is;
  } fields[] = {
      {"maxbytes", memory_limit, now.memory_limit},
      {"item_size_max", item_size_max, now.item_size_max},
      {"use_cas", use_cas, now.use_cas},
      {"evict", evict, now.evict},
      {"shards", shards_log2, now.shards_log2},
      {"segment_size", segment_size, now.segment_size},
      {"file_size", file_bytes, now.file_bytes},
  };
  for (const auto& f : fields) {
    if (f.was != f.is) {
      *old_value = std::to_string(f.was);
      return f.name;
    }
  }
  return "";
}

std::string encode_meta(const RestartMeta& m) {
  Writer w;
  w.out().append(kMagic, sizeof(kMagic));
  w.put(kVersion);
  const LayoutSettings& l = m.layout;
  w.put(l.memory_limit);
  w.put(l.item_size_max);
  w.put(l.segment_size);
  w.put(l.file_bytes);
  w.put(l.shards_log2);
  w.put(l.use_cas);
  w.put(l.evict);
  w.put(m.process_started);
  w.put(m.stop_time);
  w.put(m.current_time);
  w.put(m.last_cas);
  w.put(m.oldest_cas);
  w.put(m.oldest_live);
  w.put(m.flush_pending);
  w.put(static_cast<uint64_t>(m.table_capacity.size()));
  for (uint64_t c : m.table_capacity) w.put(c);
  w.put(static_cast<uint64_t>(m.segments.size()));
  for (const SegmentRecord& s : m.segments) {
    w.put(s.offset);
    w.put(s.map_bytes);
    w.put(s.used);
    w.put(s.checksum);
    w.put(s.queue);
    w.put(s.large);
  }
  w.put(static_cast<uint64_t>(XXH3_64bits(w.out().data(), w.out().size())));
  return std::move(w.out());
}

bool decode_meta(const std::string& bytes, RestartMeta* m, std::string* error) {
  if (bytes.size() < sizeof(kMagic) + 8 || memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    *error = bytes.empty() ? "empty metadata file" : "not a memshield metadata file";
    return false;
  }
  const size_t body = bytes.size() - 8;
  uint64_t sum;
  memcpy(&sum, bytes.data() + body, 8);
  if (sum != XXH3_64bits(bytes.data(), body)) {
    *error = "metadata checksum mismatch (truncated or altered)";
    return false;
  }
  Reader r(bytes.data() + sizeof(kMagic), body - sizeof(kMagic));
  uint32_t version = 0;
  if (!r.get(&version) || version != kVersion) {
    *error = "unsupported metadata version";
    return false;
  }
  RestartMeta out;
  LayoutSettings& l = out.layout;
  uint64_t n = 0;
  bool ok = r.get(&l.memory_limit) && r.get(&l.item_size_max) && r.get(&l.segment_size) &&
            r.get(&l.file_bytes) && r.get(&l.shards_log2) && r.get(&l.use_cas) && r.get(&l.evict) &&
            r.get(&out.process_started) && r.get(&out.stop_time) && r.get(&out.current_time) &&
            r.get(&out.last_cas) && r.get(&out.oldest_cas) && r.get(&out.oldest_live) &&
            r.get(&out.flush_pending) && r.get(&n) && n <= kMaxShards;
  if (ok) {
    out.table_capacity.resize(n);
    for (uint64_t& c : out.table_capacity) ok = ok && r.get(&c);
  }
  ok = ok && r.get(&n) && n <= kMaxSegments && n * 34 <= r.left();
  if (ok) {
    out.segments.resize(n);
    for (SegmentRecord& s : out.segments) {
      ok = ok && r.get(&s.offset) && r.get(&s.map_bytes) && r.get(&s.used) && r.get(&s.checksum) &&
           r.get(&s.queue) && r.get(&s.large);
    }
  }
  if (!ok || r.left() != 0) {
    *error = "malformed metadata";
    return false;
  }
  *m = std::move(out);
  return true;
}

bool write_meta_file(const std::string& path, const RestartMeta& m, std::string* error) {
  const std::string bytes = encode_meta(m);
  const std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = tmp + ": " + strerror(errno);
    return false;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = tmp + ": " + strerror(errno);
      close(fd);
      unlink(tmp.c_str());
      return false;
    }
    off += static_cast<size_t>(n);
  }
  fsync(fd);
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    *error = path + ": " + strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

MetaRead read_meta_file(const std::string& path, RestartMeta* m, std::string* error) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return MetaRead::kAbsent;
    *error = path + ": " + strerror(errno);
    return MetaRead::kInvalid;
  }
  std::string bytes;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = path + ": " + strerror(errno);
      close(fd);
      return MetaRead::kInvalid;
    }
    if (n == 0) break;
    bytes.append(buf, static_cast<size_t>(n));
    if (bytes.size() > (size_t{64} << 30)) break;
  }
  close(fd);
  if (!decode_meta(bytes, m, error)) {
    *error = path + ": " + *error;
    return MetaRead::kInvalid;
  }
  return MetaRead::kOk;
}

}  // namespace memshield::store
