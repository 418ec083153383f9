// Vec<T> in plain C++, one lane: the whole interface of the SIMD layer and the model for
// simd/avx2.hpp and simd/avx512.hpp. Kernels and math are written once against it.
//
// Interface (every ISA provides exactly this, inside namespace fastloss::FASTLOSS_ISA):
//   Vec<T>::kLanes, Vec<T>::Mask
//   Vec<T>::load(p), load_n(p, n, fill) (n < kLanes lanes, the rest = fill), set1(x)
//   v.store(p), v.store_n(p, n)
//   Vec<float> also loads from and stores to the half types (half.hpp): load(const Bf16*),
//     load(const F16*), load_n(p, n, float fill), store(Bf16*), store_n(F16*, n), ...:
//     converted as loaded, rounded to nearest even as stored (NaN stays a quiet NaN).
//   + - * /, fma(a,b,c) = a*b+c (one rounding), fnma(a,b,c) = c-a*b (one rounding)
//   min(a,b), max(a,b): return b when either is NaN (the x86 rule): put a constant first,
//     max(kLow, x), so that a NaN in x survives.
//   abs, lt le gt ge eq (ordered: false on NaN), is_nan, select(m, a, b) = m ? a : b,
//   m1 & m2, m1 | m2, any(m), none(m)
//   round_even(v): nearest integer, ties to even, as a float value
//   scale_pow2(v, n): v * 2^n for integral n; exact, IEEE overflow/underflow; |n| <= 250 (float)
//     or 2000 (double)
//   decompose(x, &e): for positive finite x (subnormals included) returns m with
//     x = m * 2^e, m in [sqrt(2)/2, sqrt(2)), e integral
//   decompose_normal(x, &e): decompose for positive normal finite x only (garbage for
//     subnormals), without the subnormal scaling: for callers that clamp x to >= the smallest
//     normal first (kl_div's y log y)
//   reduce_add(v) (fixed lane order), reduce_max(v)
//   widen_add(acc_lo, acc_hi, v): adds the float lanes of v into two Vec<double>
//     accumulators (lanes 0..k/2-1 into acc_lo); for Vec<double> see widen_add(acc, v)
//   pow2_low_bits(y): the value whose bits are bits(y) << 23 (float) / << 52 (double). For
//     y = 1.5*2^23 + j (float) / 1.5*2^52 + j (double) with integral j in [0, 254] / [0, 2046]
//     that is 2^(j - 127) / 2^(j - 1023), and +0 for j = 0: the exponent scaling of an exp whose
//     n was rounded by the "magic add", in one shift (kernels/row_engine.hpp folds its shift in j).
//   Vec<T>::load_transposed(p, stride, out): a kLanes x kLanes transpose on load: out[i] lane j
//     = p[j*stride + i] for i, j < kLanes (reads kLanes elements at each of the kLanes row
//     starts); kLanes*stride must fit in int32.
//   Vec<T>::load_transposed_n(p, stride, n, out): load_transposed for the first n (1 <= n <=
//     kLanes) outputs only; reads at most kLanes elements at each row start (AVX2 reads fewer
//     and shuffles less for n <= 4: the last class block of a short row).
//   Vec<T>::load_index(p, n, ignore) for p of std::int32_t or std::int64_t: lane j = -1 when
//     p[j] == ignore, else T(p[j]) when 0 <= p[j] < n, else -2 (1 <= n <= 2^24: every index
//     is exact in T): class indices as values, for eq(index, set1(c)); reads kLanes indices.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "half.hpp"
#include "kernels/unaligned.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
struct Vec {
  using Elem = T;
  using Mask = bool;
  static constexpr int kLanes = 1;
  T raw;

  static Vec set1(T x) { return {x}; }
  // Loads and stores through load_one/store_one: no alignment assumed, as the vector ISAs' loadu.
  static Vec load(const T* p) { return {load_one(p)}; }
  static Vec load_n(const T* p, std::int64_t n, T fill) { return {n > 0 ? load_one(p) : fill}; }
  static void load_transposed(const T* p, std::int64_t /*stride*/, Vec* out) { out[0] = {load_one(p)}; }
  static void load_transposed_n(const T* p, std::int64_t /*stride*/, std::int64_t /*n*/, Vec* out) {
    out[0] = {load_one(p)};
  }
  template <class I>
  static Vec load_index(const I* p, std::int64_t n, std::int64_t ignore) {
    const std::int64_t v = load_one(p);
    return {v == ignore ? T(-1) : v >= 0 && v < n ? static_cast<T>(v) : T(-2)};
  }
  void store(T* p) const { store_one(p, raw); }
  void store_n(T* p, std::int64_t n) const {
    if (n > 0) store_one(p, raw);
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  static Vec load(const H* p) {
    return {static_cast<T>(load_one(p))};
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  static Vec load_n(const H* p, std::int64_t n, T fill) {
    return {n > 0 ? static_cast<T>(load_one(p)) : fill};
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  void store(H* p) const {
    store_one(p, static_cast<float>(raw));
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  void store_n(H* p, std::int64_t n) const {
    if (n > 0) store_one(p, static_cast<float>(raw));
  }
};

using VecF = Vec<float>;
using VecD = Vec<double>;

template <class T> inline Vec<T> operator+(Vec<T> a, Vec<T> b) { return {a.raw + b.raw}; }
template <class T> inline Vec<T> operator-(Vec<T> a, Vec<T> b) { return {a.raw - b.raw}; }
template <class T> inline Vec<T> operator*(Vec<T> a, Vec<T> b) { return {a.raw * b.raw}; }
template <class T> inline Vec<T> operator/(Vec<T> a, Vec<T> b) { return {a.raw / b.raw}; }
template <class T> inline Vec<T> operator-(Vec<T> a) { return {-a.raw}; }
template <class T> inline Vec<T> fma(Vec<T> a, Vec<T> b, Vec<T> c) { return {std::fma(a.raw, b.raw, c.raw)}; }
template <class T> inline Vec<T> fnma(Vec<T> a, Vec<T> b, Vec<T> c) { return {std::fma(-a.raw, b.raw, c.raw)}; }
template <class T> inline Vec<T> min(Vec<T> a, Vec<T> b) { return {a.raw < b.raw ? a.raw : b.raw}; }
template <class T> inline Vec<T> max(Vec<T> a, Vec<T> b) { return {a.raw > b.raw ? a.raw : b.raw}; }
template <class T> inline Vec<T> abs(Vec<T> a) { return {std::fabs(a.raw)}; }

template <class T> inline bool lt(Vec<T> a, Vec<T> b) { return a.raw < b.raw; }
template <class T> inline bool le(Vec<T> a, Vec<T> b) { return a.raw <= b.raw; }
template <class T> inline bool gt(Vec<T> a, Vec<T> b) { return a.raw > b.raw; }
template <class T> inline bool ge(Vec<T> a, Vec<T> b) { return a.raw >= b.raw; }
template <class T> inline bool eq(Vec<T> a, Vec<T> b) { return a.raw == b.raw; }
template <class T> inline bool is_nan(Vec<T> a) { return a.raw != a.raw; }
template <class T> inline Vec<T> select(bool m, Vec<T> a, Vec<T> b) { return m ? a : b; }
inline bool any(bool m) { return m; }
inline bool none(bool m) { return !m; }

template <class T> inline Vec<T> round_even(Vec<T> a) { return {std::nearbyint(a.raw)}; }
template <class T> inline Vec<T> scale_pow2(Vec<T> v, Vec<T> n) { return {std::ldexp(v.raw, static_cast<int>(n.raw))}; }
template <class T> inline Vec<T> decompose(Vec<T> x, Vec<T>* e) {
  int k;
  T m = std::frexp(x.raw, &k);  // m in [0.5, 1)
  if (m < static_cast<T>(0.70710678118654752440)) {
    m *= 2;
    k -= 1;
  }
  *e = {static_cast<T>(k)};
  return {m};
}

template <class T> inline Vec<T> decompose_normal(Vec<T> x, Vec<T>* e) { return decompose(x, e); }

template <class T> inline T reduce_add(Vec<T> v) { return v.raw; }
template <class T> inline T reduce_max(Vec<T> v) { return v.raw; }
inline void widen_add(Vec<double>& acc_lo, Vec<double>& /*acc_hi*/, Vec<float> v) {
  acc_lo.raw += static_cast<double>(v.raw);
}
inline void widen_add(Vec<double>& acc, Vec<double> v) { acc.raw += v.raw; }

inline Vec<float> pow2_low_bits(Vec<float> y) {
  std::uint32_t b;
  std::memcpy(&b, &y.raw, sizeof b);
  b <<= 23;
  float r;
  std::memcpy(&r, &b, sizeof r);
  return {r};
}
inline Vec<double> pow2_low_bits(Vec<double> y) {
  std::uint64_t b;
  std::memcpy(&b, &y.raw, sizeof b);
  b <<= 52;
  double r;
  std::memcpy(&r, &b, sizeof r);
  return {r};
}

}  // namespace fastloss::FASTLOSS_ISA
