// Small pieces both load generators (loadgen.cc over TCP, udp_bench.cc over UDP) share: the
// monotonic clock, their command-line loop with strict number parsing, the key format, which is
// the same in both so a server prefilled by either tool serves the other, and the report's rates.
#pragma once

#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace memshield::bench {

inline constexpr uint64_t kNsPerSec = 1'000'000'000ULL;

inline uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * kNsPerSec + static_cast<uint64_t>(ts.tv_nsec);
}

// Decimal digits only: no sign, no spaces, no trailing junk, no overflow.
inline bool ParseU64(const char* s, uint64_t* out) {
  if (*s == '\0' || *s == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

inline bool ParseInt(const char* s, int lo, int hi, int* out) {
  uint64_t v;
  if (!ParseU64(s, &v) || v < static_cast<uint64_t>(lo) || v > static_cast<uint64_t>(hi)) {
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

inline bool ParseDouble(const char* s, double lo, double hi, double* out) {
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

// The command-line loop: each tool registers its options (where a value goes, within which
// bounds), then Parse() walks argv. "--name value" always, "--name=value" too where the tool
// allows it; --help or -h prints the usage and exits 0. Errors go to stderr, Parse() is false.
class OptionParser {
 public:
  // Stores the option's value; false if it is not acceptable.
  using Setter = std::function<bool(const std::string& value)>;

  OptionParser(void (*usage)(), bool allow_equals) : usage_(usage), allow_equals_(allow_equals) {}

  void Flag(std::string name, bool* out) { options_.push_back({std::move(name), out, nullptr}); }
  void Value(std::string name, Setter set) {
    options_.push_back({std::move(name), nullptr, std::move(set)});
  }
  void String(std::string name, std::string* out) {
    Value(std::move(name), [out](const std::string& v) {
      *out = v;
      return true;
    });
  }
  void Int(std::string name, int lo, int hi, int* out) {
    Value(std::move(name),
          [lo, hi, out](const std::string& v) { return ParseInt(v.c_str(), lo, hi, out); });
  }
  void U64(std::string name, uint64_t lo, uint64_t hi, uint64_t* out) {
    Value(std::move(name), [lo, hi, out](const std::string& v) {
      uint64_t u;
      if (!ParseU64(v.c_str(), &u) || u < lo || u > hi) return false;
      *out = u;
      return true;
    });
  }
  void Double(std::string name, double lo, double hi, double* out) {
    Value(std::move(name),
          [lo, hi, out](const std::string& v) { return ParseDouble(v.c_str(), lo, hi, out); });
  }

  bool Parse(int argc, char** argv) const {
    for (int i = 1; i < argc; ++i) {
      std::string name = argv[i];
      std::string value;
      bool has_value = false;
      size_t eq = allow_equals_ ? name.find('=') : std::string::npos;
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name.resize(eq);
        has_value = true;
      }
      if (name == "--help" || name == "-h") {
        usage_();
        std::exit(0);
      }
      const Option* opt = Find(name);
      bool ok = true;
      if (opt != nullptr && opt->flag != nullptr) {
        *opt->flag = true;
        ok = !has_value;  // a flag takes no value
      } else {
        // Anything else takes a value, an unknown option too (it is named only after that).
        if (!has_value) {
          if (i + 1 >= argc) {
            std::fprintf(stderr, "missing value for %s\n", name.c_str());
            return false;
          }
          value = argv[++i];
        }
        if (opt == nullptr) {
          std::fprintf(stderr, "unknown option %s\n", name.c_str());
          usage_();
          return false;
        }
        ok = opt->set(value);
      }
      if (!ok) {
        std::fprintf(stderr, "bad value for %s: %s\n", name.c_str(), value.c_str());
        return false;
      }
    }
    return true;
  }

 private:
  struct Option {
    std::string name;
    bool* flag;  // a flag: set to true when given
    Setter set;  // otherwise: takes the value
  };

  const Option* Find(const std::string& name) const {
    for (const Option& o : options_) {
      if (o.name == name) return &o;
    }
    return nullptr;
  }

  void (*usage_)();
  bool allow_equals_;
  std::vector<Option> options_;
};

// count per second, 0 for an empty run.
inline double PerSecond(uint64_t count, double seconds) {
  return seconds > 0 ? static_cast<double>(count) / seconds : 0;
}

// part / whole, 0 when there is no whole.
inline double Fraction(uint64_t part, uint64_t whole) {
  return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0;
}

inline int DecimalDigits(uint64_t v) {
  int n = 1;
  for (; v >= 10; v /= 10) ++n;
  return n;
}

// Key `index` as 'k' followed by zero-padded decimal digits, exactly key_size bytes.
inline void AppendKey(std::string* out, uint64_t index, int key_size) {
  size_t at = out->size();
  out->resize(at + key_size);
  char* p = out->data() + at;
  p[0] = 'k';
  for (int i = key_size - 1; i >= 1; --i) {
    p[i] = static_cast<char>('0' + index % 10);
    index /= 10;
  }
}

}  // namespace memshield::bench
