// Server cookies (see udp_cookie.h): mints and checks the 16-byte cookie, keeps the current and
// previous secret, and rotates them. verify runs on every cookie-carrying datagram from every
// worker, so readers never write shared memory: the secrets sit behind a seqlock, and each thread
// keeps its own pre-keyed HMAC contexts, looked up by the secret's generation number.
#include "security/udp_cookie.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace memshield::security {
namespace {

constexpr uint8_t kCookieVersion = 1;
constexpr size_t kSecretSize = 32;
constexpr size_t kMacSize = 8;
constexpr size_t kSignedHeaderSize = 8;  // version | reserved(3) | timestamp(4)
// A clock a little ahead of ours is tolerated (several servers minting for the same clients);
// anything further ahead is not a cookie we could have minted.
constexpr uint64_t kMaxFutureSeconds = 300;
// MAC input: signed header | family | address (up to 16) | client cookie.
constexpr size_t kMaxMacInput = kSignedHeaderSize + 1 + 16 + kClientCookieSize;

// Generation numbers are unique across every CookieJar in the process, so a thread's cache of
// keyed contexts can never hand one jar's key to another jar.
std::atomic<uint64_t> g_next_generation{1};

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "memshield: udp_cookie: %s\n", what);
  std::abort();
}

// Without a secret there is no safe cookie to hand out, and getrandom(2) only fails on kernels
// older than 3.17, so a failure here is a broken invariant, not a peer-triggerable error.
void fill_random(uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(out + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("getrandom failed");
    }
    done += static_cast<size_t>(r);
  }
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void store_be32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Builds the MAC input; `header` is the cookie's first 8 bytes (version, reserved, timestamp).
size_t build_mac_input(const uint8_t header[kSignedHeaderSize], const IpAddress& client,
                       const uint8_t client_cookie[kClientCookieSize], uint8_t out[kMaxMacInput]) {
  size_t n = 0;
  std::memcpy(out, header, kSignedHeaderSize);
  n += kSignedHeaderSize;
  out[n++] = client.v4 ? 4 : 6;
  std::memcpy(out + n, client.bytes, client.size());
  n += client.size();
  std::memcpy(out + n, client_cookie, kClientCookieSize);
  n += kClientCookieSize;
  return n;
}

// Per-thread HMAC-SHA256 contexts, each already keyed with one secret. Re-initialising a keyed
// context with a NULL key only restores the precomputed pad state: measured ~270 ns per MAC,
// against ~1.8 us for the one-shot HMAC() (which fetches the algorithm on every call).
class KeyedMacCache {
 public:
  KeyedMacCache() = default;
  KeyedMacCache(const KeyedMacCache&) = delete;
  KeyedMacCache& operator=(const KeyedMacCache&) = delete;
  ~KeyedMacCache() {
    for (Slot& s : slots_) EVP_MAC_CTX_free(s.ctx);  // frees and cleanses the key schedule
    EVP_MAC_free(mac_);
  }

  // A context for `generation` ready for EVP_MAC_update, or nullptr if it is not cached.
  EVP_MAC_CTX* find(uint64_t generation) {
    for (Slot& s : slots_) {
      if (s.generation == generation && s.ctx != nullptr) {
        if (EVP_MAC_init(s.ctx, nullptr, 0, nullptr) != 1) return nullptr;
        return s.ctx;
      }
    }
    return nullptr;
  }

  // Keys a context for `generation`, replacing the oldest generation cached; nullptr on failure
  // (allocation), which callers treat as "no match".
  EVP_MAC_CTX* insert(uint64_t generation, const uint8_t key[kSecretSize]) {
    if (mac_ == nullptr) {
      mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
      if (mac_ == nullptr) return nullptr;
    }
    Slot* victim = &slots_[0];
    for (Slot& s : slots_) {
      if (s.generation < victim->generation) victim = &s;
    }
    if (victim->ctx == nullptr) victim->ctx = EVP_MAC_CTX_new(mac_);
    if (victim->ctx == nullptr) return nullptr;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_init(victim->ctx, key, kSecretSize, params) != 1) {
      victim->generation = 0;
      return nullptr;
    }
    victim->generation = generation;
    return victim->ctx;
  }

 private:
  struct Slot {
    uint64_t generation = 0;  // 0: empty
    EVP_MAC_CTX* ctx = nullptr;
  };
  // Two secrets per jar; room for two jars (a server has one, tests have a few).
  Slot slots_[4];
  EVP_MAC* mac_ = nullptr;
};

thread_local KeyedMacCache t_mac_cache;

// The jar's shared state, as published to readers.
struct State {
  static constexpr uint64_t kUnanchored = ~uint64_t{0};
  uint64_t period_start = kUnanchored;  // unix time the current secret's period began
  uint64_t current_generation = 0;
  uint64_t previous_generation = 0;  // 0: no previous secret
  uint8_t current[kSecretSize] = {};
  uint8_t previous[kSecretSize] = {};
};

constexpr size_t kHeadWords = 3;  // period_start, current_generation, previous_generation
constexpr size_t kKeyWords = kSecretSize / 8;
constexpr size_t kStateWords = kHeadWords + 2 * kKeyWords;

}  // namespace

struct CookieJar::Impl {
  uint64_t rotation = 1;
  std::mutex writer_mu;  // serialises rotations; readers never take it
  State master;          // guarded by writer_mu; what was last published
  // Seqlock: odd while a writer publishes. Words are atomics so a torn read is merely retried,
  // never a data race.
  std::atomic<uint32_t> seq{0};
  std::atomic<uint64_t> words[kStateWords];

  Impl() {
    for (auto& w : words) w.store(0, std::memory_order_relaxed);
  }

  ~Impl() { OPENSSL_cleanse(&master, sizeof(master)); }

  void publish_locked() {
    uint64_t w[kStateWords];
    w[0] = master.period_start;
    w[1] = master.current_generation;
    w[2] = master.previous_generation;
    std::memcpy(&w[kHeadWords], master.current, kSecretSize);
    std::memcpy(&w[kHeadWords + kKeyWords], master.previous, kSecretSize);
    const uint32_t s = seq.load(std::memory_order_relaxed);
    seq.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    for (size_t i = 0; i < kStateWords; ++i) words[i].store(w[i], std::memory_order_relaxed);
    seq.store(s + 2, std::memory_order_release);
    OPENSSL_cleanse(w, sizeof(w));
  }

  // Reads the first `n` words consistently. A writer holds the odd count for a handful of
  // stores, so the retry loop ends as soon as it does.
  void read_words(uint64_t* out, size_t n) const {
    for (;;) {
      const uint32_t s1 = seq.load(std::memory_order_acquire);
      if ((s1 & 1) != 0) continue;
      for (size_t i = 0; i < n; ++i) out[i] = words[i].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if (seq.load(std::memory_order_relaxed) == s1) return;
    }
  }

  // Period start and generations; no key material leaves the jar on the fast path.
  void read_head(State* s) const {
    uint64_t w[kHeadWords];
    read_words(w, kHeadWords);
    s->period_start = w[0];
    s->current_generation = w[1];
    s->previous_generation = w[2];
  }

  // The key of `generation` if it is still current or previous; false once rotated away.
  bool key_for(uint64_t generation, uint8_t key[kSecretSize]) const {
    uint64_t w[kStateWords];
    read_words(w, kStateWords);
    bool found = false;
    if (generation != 0 && w[1] == generation) {
      std::memcpy(key, &w[kHeadWords], kSecretSize);
      found = true;
    } else if (generation != 0 && w[2] == generation) {
      std::memcpy(key, &w[kHeadWords + kKeyWords], kSecretSize);
      found = true;
    }
    OPENSSL_cleanse(w, sizeof(w));
    return found;
  }

  // Periods are aligned to the first time the jar was used, so "valid for up to two periods"
  // holds however irregularly callers arrive. A gap of two or more periods retires both secrets:
  // the previous one would belong to a period that has already ended twice.
  void rotate_locked(uint64_t now) {
    if (master.period_start == State::kUnanchored) {
      master.period_start = now;
      publish_locked();
      return;
    }
    if (now < master.period_start + rotation) return;  // also covers a clock stepping back
    const uint64_t periods = (now - master.period_start) / rotation;
    master.period_start += periods * rotation;
    if (periods == 1) {
      std::memcpy(master.previous, master.current, kSecretSize);
      master.previous_generation = master.current_generation;
    } else {
      OPENSSL_cleanse(master.previous, kSecretSize);
      master.previous_generation = 0;
    }
    fill_random(master.current, kSecretSize);
    master.current_generation = g_next_generation.fetch_add(1, std::memory_order_relaxed);
    publish_locked();
  }

  // The state for time `now`, rotating first if its period is over.
  void current_head(uint64_t now, State* s) {
    read_head(s);
    if (s->period_start != State::kUnanchored && now < s->period_start + rotation) return;
    {
      std::lock_guard<std::mutex> lock(writer_mu);
      rotate_locked(now);
    }
    read_head(s);
  }

  // The first 8 bytes of HMAC-SHA256 under the secret of `generation`; false if that secret is
  // gone or OpenSSL failed, which verify treats as a mismatch (fail closed).
  bool mac(uint64_t generation, const uint8_t* input, size_t len, uint8_t out[kMacSize]) const {
    EVP_MAC_CTX* ctx = t_mac_cache.find(generation);
    if (ctx == nullptr) {
      uint8_t key[kSecretSize];
      if (!key_for(generation, key)) return false;
      ctx = t_mac_cache.insert(generation, key);
      OPENSSL_cleanse(key, sizeof(key));
      if (ctx == nullptr) return false;
    }
    uint8_t full[EVP_MAX_MD_SIZE];
    size_t full_len = 0;
    if (EVP_MAC_update(ctx, input, len) != 1 ||
        EVP_MAC_final(ctx, full, &full_len, sizeof(full)) != 1 || full_len < kMacSize) {
      return false;
    }
    std::memcpy(out, full, kMacSize);
    return true;
  }
};

CookieJar::CookieJar(uint32_t rotation_seconds) : impl_(std::make_unique<Impl>()) {
  impl_->rotation = rotation_seconds == 0 ? 1 : rotation_seconds;
  std::lock_guard<std::mutex> lock(impl_->writer_mu);
  fill_random(impl_->master.current, kSecretSize);
  impl_->master.current_generation = g_next_generation.fetch_add(1, std::memory_order_relaxed);
  impl_->publish_locked();
}

CookieJar::~CookieJar() = default;

void CookieJar::mint(const IpAddress& client, const uint8_t client_cookie[kClientCookieSize],
                     uint32_t now_unix, uint8_t out[kServerCookieSize]) {
  uint8_t header[kSignedHeaderSize] = {kCookieVersion, 0, 0, 0};
  store_be32(header + 4, now_unix);
  uint8_t input[kMaxMacInput];
  const size_t len = build_mac_input(header, client, client_cookie, input);
  uint8_t tag[kMacSize];
  // The current secret can only vanish between reading its generation and keying a context if
  // two rotations race in between; holding the writer lock for the retry rules that out.
  State s;
  impl_->current_head(now_unix, &s);
  bool ok = impl_->mac(s.current_generation, input, len, tag);
  if (!ok) {
    std::lock_guard<std::mutex> lock(impl_->writer_mu);
    ok = impl_->mac(impl_->master.current_generation, input, len, tag);
  }
  if (!ok) {
    // Only an OpenSSL allocation failure gets here. An all-zero cookie verifies as kMissing, so
    // the client simply asks again; no unverifiable cookie is ever issued.
    std::memset(out, 0, kServerCookieSize);
    return;
  }
  std::memcpy(out, header, kSignedHeaderSize);
  std::memcpy(out + kSignedHeaderSize, tag, kMacSize);
}

CookieVerdict CookieJar::verify(const IpAddress& client,
                                const uint8_t client_cookie[kClientCookieSize],
                                const uint8_t server_cookie[kServerCookieSize], uint32_t now_unix) {
  static constexpr uint8_t kZero[kServerCookieSize] = {};
  // A client that has no cookie yet sends zeros; that is "missing", not an attack.
  if (std::memcmp(server_cookie, kZero, kServerCookieSize) == 0) return CookieVerdict::kMissing;
  if (server_cookie[0] != kCookieVersion || server_cookie[1] != 0 || server_cookie[2] != 0 ||
      server_cookie[3] != 0) {
    return CookieVerdict::kMalformed;
  }
  // Cheap checks before the MAC, so a flood of stale or random cookies costs no HMAC. An
  // attacker can forge the timestamp, but then the MAC fails.
  const uint64_t stamp = load_be32(server_cookie + 4);
  const uint64_t now = now_unix;
  if (stamp > now + kMaxFutureSeconds) return CookieVerdict::kExpired;
  if (now > stamp && now - stamp > 2 * impl_->rotation) return CookieVerdict::kExpired;

  uint8_t input[kMaxMacInput];
  const size_t len = build_mac_input(server_cookie, client, client_cookie, input);
  State s;
  impl_->current_head(now, &s);
  uint8_t tag[kMacSize];
  if (impl_->mac(s.current_generation, input, len, tag) &&
      CRYPTO_memcmp(tag, server_cookie + kSignedHeaderSize, kMacSize) == 0) {
    return CookieVerdict::kValid;
  }
  if (s.previous_generation != 0 && impl_->mac(s.previous_generation, input, len, tag) &&
      CRYPTO_memcmp(tag, server_cookie + kSignedHeaderSize, kMacSize) == 0) {
    return CookieVerdict::kValid;
  }
  return CookieVerdict::kBadMac;
}

void CookieJar::maybe_rotate(uint32_t now_unix) {
  State s;
  impl_->current_head(now_unix, &s);
}

}  // namespace memshield::security
