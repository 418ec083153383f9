// Shared helpers of the kernel_check harness: a per-entry pass/fail report, memory with a
// PROT_NONE page right after the data (a read past the end faults), output buffers with guard
// values (a write past the end is detected), tolerant comparison and random data.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace kernel_check {

// ---------------------------------------------------------------- report
struct EntryReport {
  long cases = 0, fails = 0;
  long elems = 0, bit_diffs = 0;  // output elements compared, and those not bitwise equal
  std::vector<std::string> msgs;  // the first few failures
};

inline std::map<std::string, EntryReport>& report() {
  static std::map<std::string, EntryReport> r;
  return r;
}

inline void record(const std::string& entry, bool ok, const std::string& what) {
  EntryReport& e = report()[entry];
  ++e.cases;
  if (!ok) {
    ++e.fails;
    if (e.msgs.size() < 6) e.msgs.push_back(what);
  }
}

inline std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char* f, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// ---------------------------------------------------------------- memory
// n elements that end exactly at a PROT_NONE page: any read or write past element n-1 faults.
template <class T>
class Guarded {
 public:
  Guarded() = default;
  explicit Guarded(const std::vector<T>& v) { init(v.size(), v.data()); }
  Guarded(std::size_t n, const T* src) { init(n, src); }
  Guarded(const Guarded&) = delete;
  Guarded& operator=(const Guarded&) = delete;
  Guarded(Guarded&& o) noexcept { *this = std::move(o); }
  Guarded& operator=(Guarded&& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(len_, o.len_);
    std::swap(data_, o.data_);
    std::swap(n_, o.n_);
    return *this;
  }
  ~Guarded() {
    if (base_) munmap(base_, len_);
  }
  T* data() const { return data_; }
  std::size_t size() const { return n_; }

 private:
  void init(std::size_t n, const T* src) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    const std::size_t bytes = n * sizeof(T);
    const std::size_t pages = (bytes + page - 1) / page;
    len_ = (pages + 1) * page;
    base_ = mmap(nullptr, len_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base_ == MAP_FAILED) {
      std::perror("mmap");
      std::exit(3);
    }
    char* guard = static_cast<char*>(base_) + pages * page;
    if (mprotect(guard, page, PROT_NONE) != 0) {
      std::perror("mprotect");
      std::exit(3);
    }
    data_ = reinterpret_cast<T*>(guard - bytes);
    n_ = n;
    if (n) std::memcpy(data_, src, bytes);
  }
  void* base_ = nullptr;
  std::size_t len_ = 0;
  T* data_ = nullptr;
  std::size_t n_ = 0;
};

// An output of n elements followed (and preceded) by kGuard sentinel values.
template <class T>
class OutBuf {
 public:
  static constexpr std::size_t kGuard = 16;
  explicit OutBuf(std::size_t n) : n_(n), v_(n + 2 * kGuard) {
    for (std::size_t i = 0; i < v_.size(); ++i) set_sentinel(v_[i], i);
  }
  T* data() { return v_.data() + kGuard; }
  const T* data() const { return v_.data() + kGuard; }
  std::size_t size() const { return n_; }
  // True if no guard value was overwritten.
  bool guards_ok() const {
    for (std::size_t i = 0; i < kGuard; ++i) {
      if (!is_sentinel(v_[i], i) || !is_sentinel(v_[kGuard + n_ + i], kGuard + n_ + i)) return false;
    }
    return true;
  }

 private:
  static void set_sentinel(T& x, std::size_t i) {
    unsigned char b[sizeof(T)];
    for (std::size_t k = 0; k < sizeof(T); ++k) b[k] = static_cast<unsigned char>(0xA5 ^ (i * 7 + k));
    std::memcpy(&x, b, sizeof(T));
  }
  static bool is_sentinel(const T& x, std::size_t i) {
    T s;
    set_sentinel(s, i);
    return std::memcmp(&s, &x, sizeof(T)) == 0;
  }
  std::size_t n_;
  std::vector<T> v_;
};

// ---------------------------------------------------------------- half types
// The half storage types of half.hpp (Bf16, F16: 16 bits each) as harness values: the same
// bits, with conversions to and from float written here independently of the ones under test
// (kernels/unaligned.hpp, simd/<isa>.hpp): exact arithmetic in double, round to nearest even
// (the default rounding mode) by std::nearbyint. Man mantissa bits, Exp exponent bits.
template <int Man, int Exp>
struct HalfFormat {
  static constexpr int kMan = Man, kExp = Exp, kBias = (1 << (Exp - 1)) - 1, kEmax = (1 << Exp) - 1;
  static constexpr std::uint16_t kInf = kEmax << Man, kSign = 0x8000;

  static float decode(std::uint16_t h) {
    const unsigned e = (h >> Man) & kEmax, m = h & ((1u << Man) - 1);
    const bool neg = (h & kSign) != 0;
    if (e == unsigned(kEmax)) {  // inf, or NaN with its payload in the top mantissa bits of a float
      const std::uint32_t b = (neg ? 0x80000000u : 0u) | 0x7f800000u | (m << (23 - Man));
      float f;
      std::memcpy(&f, &b, sizeof f);
      return f;
    }
    const double v = e == 0 ? std::ldexp(double(m), 1 - kBias - Man)
                            : std::ldexp(double(m | (1u << Man)), int(e) - kBias - Man);
    return static_cast<float>(neg ? -v : v);
  }
  // Round to nearest even; beyond the largest finite half: inf; NaN: quiet, the top payload bits kept.
  static std::uint16_t encode(float f) {
    std::uint32_t fb;
    std::memcpy(&fb, &f, sizeof fb);
    const auto sign = static_cast<std::uint16_t>((fb >> 16) & kSign);
    if (std::isnan(f))
      return static_cast<std::uint16_t>(sign | kInf | (1u << (Man - 1)) | ((fb & 0x7fffffu) >> (23 - Man)));
    if (std::isinf(f)) return sign | kInf;
    const double a = std::fabs(double(f));
    if (a == 0) return sign;
    int e;
    std::frexp(a, &e);                                // a = m 2^e, m in [0.5, 1): leading bit 2^(e-1)
    const int lead = std::max(e - 1, 1 - kBias);     // subnormals: the smallest normal's exponent
    const double r = std::nearbyint(std::ldexp(a, Man - lead));  // in ulps, the implicit bit included
    // (exponent field lead + bias - 1) << Man plus r: r's implicit bit adds the 1 (normal), a
    // subnormal has none, and a carry to 2^(Man+1) moves into the exponent, up to inf.
    const double bits = std::ldexp(double(lead + kBias - 1), Man) + r;
    if (bits >= double(kInf)) return sign | kInf;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(bits));
  }
};
using Bf16Format = HalfFormat<7, 8>;
using F16Format = HalfFormat<10, 5>;

// A harness value of a half type: converts to float (exactly) and from float (rounded, as
// above); a double goes through float first (for making inputs only).
template <class Fmt>
struct Half {
  using Format = Fmt;
  std::uint16_t bits;
  Half() = default;
  Half(double v) : bits(Fmt::encode(static_cast<float>(v))) {}  // NOLINT: implicit, as a float
  operator float() const { return Fmt::decode(bits); }           // NOLINT
  static Half of_bits(std::uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
};
using HBf16 = Half<Bf16Format>;  // the bits of fastloss::Bf16
using HF16 = Half<F16Format>;    // the bits of fastloss::F16

template <class T>
constexpr bool kIsHalfValue = std::is_same_v<T, HBf16> || std::is_same_v<T, HF16>;
// The type the kernels compute in for data of type T, and the type of the weights that are not
// data (class weights, BCE weight tiles, the evaluator's float weights): float for the halves.
template <class T>
using CompOf = std::conditional_t<kIsHalfValue<T>, float, T>;

// ---------------------------------------------------------------- comparison
template <class T>
struct Tol;
template <>
struct Tol<float> {
  static constexpr double r = 1e-5;
  static constexpr const char* name = "f32";
};
template <>
struct Tol<double> {
  static constexpr double r = 1e-12;
  static constexpr const char* name = "f64";
};
// Half data computes in float32: float32's tolerance r for every result in float32 or float64
// (sums), and for a result stored in the half type one rounding of it on each side (scalar's
// and the ISA's float results may lie on either side of a rounding boundary): + 2 u relative
// (u = 2^-8 bfloat16, 2^-11 float16) and + sub absolute, one subnormal step of the type (a
// subnormal result is rounded to a fixed step: at most half a step on each side).
template <>
struct Tol<HBf16> {
  static constexpr double r = 1e-5, u = 0x1p-8, sub = 0x1p-133;
  static constexpr const char* name = "bf16";
};
template <>
struct Tol<HF16> {
  static constexpr double r = 1e-5, u = 0x1p-11, sub = 0x1p-24;
  static constexpr const char* name = "f16";
};

// a and b agree: both NaN, or the same infinity, or |a - b| <= rtol max(|a|, |b|) + atol.
inline bool close(double a, double b, double rtol, double atol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  if (std::isinf(a) || std::isinf(b)) return a == b;
  return std::fabs(a - b) <= rtol * std::max(std::fabs(a), std::fabs(b)) + atol;
}

template <class T>
bool same_bits(T a, T b) {
  return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// Element-wise comparison of two outputs (scalar reference a, neon b).
template <class T>
struct ArrayDiff {
  std::size_t mismatches = 0, bit_diffs = 0, first = 0;
  double fa = 0, fb = 0;
  bool ok() const { return mismatches == 0; }
};
template <class T>
ArrayDiff<T> compare_arrays(const T* a, const T* b, std::size_t n, double rtol, double atol) {
  ArrayDiff<T> d;
  for (std::size_t i = 0; i < n; ++i) {
    if (!(std::isnan(a[i]) && std::isnan(b[i])) && !same_bits(a[i], b[i])) ++d.bit_diffs;
    if (!close(a[i], b[i], rtol, atol)) {
      if (d.mismatches == 0) {
        d.first = i;
        d.fa = a[i];
        d.fb = b[i];
      }
      ++d.mismatches;
    }
  }
  return d;
}

template <class T>
void check_arrays(const std::string& entry, const std::string& what, const T* a, const T* b, std::size_t n, double rtol,
                  double atol) {
  const ArrayDiff<T> d = compare_arrays(a, b, n, rtol, atol);
  record(entry, d.ok(),
         fmt("%s: %zu of %zu elements differ, first at %zu: scalar %.17g neon %.17g", what.c_str(), d.mismatches, n,
             d.first, d.fa, d.fb));
}

inline void check_value(const std::string& entry, const std::string& what, double a, double b, double rtol,
                        double atol) {
  record(entry, close(a, b, rtol, atol),
         fmt("%s: scalar %.17g neon %.17g (rtol %g atol %g)", what.c_str(), a, b, rtol, atol));
}

inline void check_exact(const std::string& entry, const std::string& what, double a, double b) {
  const bool ok = (std::isnan(a) && std::isnan(b)) || same_bits(a, b);
  record(entry, ok, fmt("%s: scalar %.17g neon %.17g (must be bitwise equal)", what.c_str(), a, b));
}

// ---------------------------------------------------------------- random data
inline std::mt19937_64& rng() {
  static std::mt19937_64 r(0x5eed1234abcdULL);
  return r;
}
inline double uni(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng()); }
inline double gauss() { return std::normal_distribution<double>(0.0, 1.0)(rng()); }
inline std::int64_t rint_in(std::int64_t lo, std::int64_t hi) {  // [lo, hi]
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng());
}
inline bool coin(double p) { return uni(0.0, 1.0) < p; }

// Places the special values at positions 0, n/2, n-1, n-2, n-3 (the last lanes of a tail) and
// at random positions (fraction frac), cycling through vals.
template <class T>
void inject(std::vector<T>& v, const std::vector<T>& vals, double frac) {
  const std::size_t n = v.size();
  if (n == 0 || vals.empty()) return;
  std::size_t k = 0;
  auto put = [&](std::size_t i) {
    if (i < n) v[i] = vals[k++ % vals.size()];
  };
  put(0);
  put(n / 2);
  put(n - 1);
  if (n > 2) put(n - 2);
  if (n > 3) put(n - 3);
  for (std::size_t i = 0; i < n; ++i)
    if (coin(frac)) put(i);
}

template <class T>
struct Lim {
  static T nan() { return std::numeric_limits<T>::quiet_NaN(); }
  static T inf() { return std::numeric_limits<T>::infinity(); }
  static T denorm() { return std::numeric_limits<T>::denorm_min(); }
  static T tiny() { return std::numeric_limits<T>::min(); }  // smallest normal
  static T max() { return std::numeric_limits<T>::max(); }
  static T below(T x) { return std::nextafter(x, T(0)); }  // the next value toward 0, x > 0
};
template <class Fmt>
struct Lim<Half<Fmt>> {
  using H = Half<Fmt>;
  static H nan() { return H::of_bits(Fmt::kInf | (1u << (Fmt::kMan - 1))); }
  static H inf() { return H::of_bits(Fmt::kInf); }
  static H denorm() { return H::of_bits(1); }
  static H tiny() { return H::of_bits(1u << Fmt::kMan); }
  static H max() { return H::of_bits(Fmt::kInf - 1); }
  static H below(H x) { return H::of_bits(static_cast<std::uint16_t>(x.bits - 1)); }
};

}  // namespace kernel_check
