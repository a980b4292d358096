// The anti-amplification budget. Each address keeps two half-window buckets (current and previous)
// of bytes received and sent; a spend must fit within factor times what both buckets received,
// counting everything both have sent. Credit therefore lives between half a window and one
// window, never longer than window_seconds, and over the span the buckets cover memshield has
// never sent more than factor times what it received. The factor is fixed-point so that the
// boundary (receive 100, spend exactly 100 at factor 1) is decided exactly.
#include "security/udp_budget.h"

#include <cmath>
#include <cstdint>

#include "security/address_table.h"

namespace memshield::security {
namespace {

constexpr uint64_t kFactorOne = 1'000'000;  // the factor is kept in parts per million
constexpr double kMaxFactor = 3.0;
constexpr double kMinWindowSeconds = 1e-3;
constexpr int64_t kMaxIndex = int64_t{1} << 62;

uint64_t add_saturating(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

struct BudgetRecord {
  int64_t epoch;         // index of the half-window that slot 0 counts
  uint64_t received[2];  // [0] current half-window, [1] the one before
  uint64_t sent[2];
};

// Moves the buckets forward to half-window `index`. A clock that steps back (threads reading
// "now" in a slightly different order) keeps counting into the current bucket.
void rotate(BudgetRecord* r, int64_t index) {
  if (index <= r->epoch) return;
  if (index == r->epoch + 1) {
    r->received[1] = r->received[0];
    r->sent[1] = r->sent[0];
  } else {
    r->received[1] = 0;
    r->sent[1] = 0;
  }
  r->received[0] = 0;
  r->sent[0] = 0;
  r->epoch = index;
}

}  // namespace

struct AmplificationBudget::Impl {
  explicit Impl(const BudgetConfig& c) : table(c.max_addresses) {
    double factor = c.factor;
    if (!(factor > 0)) factor = 0;  // also NaN: the safe reading of nonsense is "never"
    if (factor > kMaxFactor) factor = kMaxFactor;
    // Rounded down, with a hair of slack so that 0.3 (0.29999...) is still 300000 ppm.
    factor_ppm = static_cast<uint64_t>(std::floor(factor * kFactorOne + 1e-6));
    double window = c.window_seconds;
    if (std::isnan(window)) window = BudgetConfig{}.window_seconds;
    if (window < kMinWindowSeconds) window = kMinWindowSeconds;
    half_window = window / 2;
  }

  int64_t index(double now_seconds) const {
    if (!(now_seconds > 0)) return 0;
    double i = std::floor(now_seconds / half_window);
    return i >= static_cast<double>(kMaxIndex) ? kMaxIndex : static_cast<int64_t>(i);
  }

  uint64_t factor_ppm = 0;
  double half_window = 5.0;
  internal::AddressTable<BudgetRecord> table;
};

AmplificationBudget::AmplificationBudget(const BudgetConfig& config)
    : impl_(std::make_unique<Impl>(config)) {}

AmplificationBudget::~AmplificationBudget() = default;

void AmplificationBudget::on_received(const IpAddress& ip, size_t bytes, double now_seconds) {
  Impl& m = *impl_;
  if (m.factor_ppm == 0 || bytes == 0) return;  // no credit to keep; don't churn the table
  int64_t index = m.index(now_seconds);
  m.table.visit(ip, true, [&](BudgetRecord* r) {
    rotate(r, index);
    r->received[0] = add_saturating(r->received[0], bytes);
  });
}

bool AmplificationBudget::try_spend(const IpAddress& ip, size_t bytes, double now_seconds) {
  Impl& m = *impl_;
  if (m.factor_ppm == 0) return false;
  int64_t index = m.index(now_seconds);
  // No insert: an address we hold nothing for has no credit, and spends must not evict credit.
  return m.table.visit(ip, false, [&](BudgetRecord* r) {
    if (r == nullptr) return bytes == 0;
    rotate(r, index);
    uint64_t received = add_saturating(r->received[0], r->received[1]);
    uint64_t sent = add_saturating(r->sent[0], r->sent[1]);
    if (bytes > UINT64_MAX - sent) return false;  // saturated counts must not start to agree
    sent += bytes;
    using u128 = unsigned __int128;
    if (u128{sent} * kFactorOne > u128{received} * m.factor_ppm) return false;
    r->sent[0] = add_saturating(r->sent[0], bytes);
    return true;
  });
}

size_t AmplificationBudget::tracked_addresses() const { return impl_->table.size(); }

}  // namespace memshield::security
