// Vector log and log1p for Vec<float> and Vec<double>, written once over the Vec interface of
// simd/scalar.hpp (no ISA-specific code; decompose is the ISA's native exponent split).
//
// Method (the classic atanh form; coefficients our own, tools/fit_math_coeffs.py):
//   x = m 2^e, m in [sqrt(2)/2, sqrt(2))      decompose (subnormals included)
//   f = m - 1 (exact), s = f / (2 + f), z = s^2, |s| <= 3 - 2 sqrt(2) = 0.1716
//   (the divisor is formed as m + 1, the same value with one add less on the critical path)
//   log(m) = 2 atanh(s) = f - s (f - R(z)),  R(z) = 2 atanh(s)/s - 2 = z H(z),
//   rewritten with hfsq = f^2/2 (f s = hfsq (1 - s)) as
//   log(m) = f - (hfsq - (s (hfsq + R) + e ln2_lo))
//   log(x) = e ln2_hi + log(m)               one final FMA
// The large terms f and hfsq enter unmultiplied by the rounded s, so the division's rounding
// reaches the result only through s (hfsq + R) ~ f^3/4: this is what gives ~1 ulp in plain
// float arithmetic, without hi/lo pairs or float64 lanes. H is minimax in the error of R
// relative to log(m) ~ 2s: degree 2 for float (2^-29.2), degree 6 for double (2^-58.5).
// Cost per vector (float, AVX2): 32 instructions: decompose 10 (5 without subnormals:
// log_normal), core 16 (one division), specials 6. log1p: 37 (u, c, c/u, a fourth select).
//
// neg_log_positive gives -(log(x) + corr) from the same operations, the last two negated
// (exact): for losses that are a negated log (BCE), at no extra instruction.
//
// Specials (explicit selects): log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf,
// NaN -> NaN; subnormal x is exact through decompose.
//
// log1p(x) = log(u) + c/u with u = 1 + x and c = x - (u - 1), the rounding error of 1 + x
// (exact for |x| <= 1 and while x <= 2^24 / 2^53; beyond, the true c/u is below 2^-24 /
// 2^-53 against a result above 16 / 36, under 1/16 ulp). The correction c/u enters the low
// part of log before the final rounding, so log1p is as accurate as log, where
// log(u) x / (u - 1) would add the rounding of a division and of a product. u == 1 gives
// exactly x (also -0). log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf, NaN -> NaN.
//
// Accuracy, max error in ulp against a float64 (float) or 80-bit long double (double)
// reference; ulp = 2^(exponent(ref) - p + 1) floored at the smallest subnormal
// (tests/test_math_ulp.py, whose MAX_ULP asserts 0.85 float / 0.95 double):
//   log   float:  0.8399 ulp over all 2^32 inputs (avx2 and scalar, bitwise equal), worst at
//                 x = 1.4133185 (0x3fb4e79f); 0.7826 on the default run's strided inputs
//   log   double: 0.8237 ulp over 10^8 samples, worst at x = 0.7019736695645481
//   log1p float:  0.8399 ulp over all 2^32 inputs, worst at x = 0.4133185 (0x3ed39e7c)
//   log1p double: 0.8208 ulp over 10^8 samples, worst at x = -0.2958358772810773
// Bitwise equal across ISAs (same operations, same order); AVX-512 checked under emulation
// only (SIMDe): bitwise equal to scalar on 7e7 float and 8e6 double inputs.
#pragma once

#include <limits>

#include "attributes.hpp"
#include "math/poly.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
struct LogConst;

// ln2_hi is ln2 rounded to T: e ln2_hi + log(m) is one FMA, so e ln2_hi need not be exact.
template <>
struct LogConst<float> {
  static constexpr float kLn2Hi = 0x1.62e430p-1f;
  static constexpr float kLn2Lo = -0x1.05c610p-29f;
};

template <>
struct LogConst<double> {
  static constexpr double kLn2Hi = 0x1.62e42fefa39efp-1;
  static constexpr double kLn2Lo = 0x1.abc9e3b39803fp-56;
};

// hfsq + R(z) = hfsq + z H(z).
FASTLOSS_INLINE Vec<float> log_tail(Vec<float> z, Vec<float> hfsq) {
  return fma(z, horner(z, 0.666667764f, 0.399775415f, 0.298717305f), hfsq);
}
FASTLOSS_INLINE Vec<double> log_tail(Vec<double> z, Vec<double> hfsq) {
  return fma(z,
             horner(z, 0.66666666666667344, 0.39999999999414672, 0.28571428742389226, 0.22222198573003157,
                    0.18183564336350303, 0.15314050271110184, 0.14795952694349936),
             hfsq);
}

// log(x) + corr for positive finite x (subnormals included) and a correction |corr| much
// smaller than ulp(1) that is added before the final rounding; kNegate: its negation, with the
// last two operations negated (exact), so bitwise -(log(x) + corr) except +0 where that is -0
// (x = 1, corr = 0). Other x give garbage. kNormalOnly: x must also be normal (>= the smallest
// normal), which saves decompose's subnormal scaling (5 instructions per vector on AVX2); the
// same bits for normal x.
template <bool kNegate, bool kNormalOnly = false, class V>
FASTLOSS_INLINE V log_positive_signed(V x, V corr) {
  using T = typename V::Elem;
  using C = LogConst<T>;
  V e;
  const V m = kNormalOnly ? decompose_normal(x, &e) : decompose(x, &e);
  const V f = m - V::set1(T(1));
  const V s = f / (m + V::set1(T(1)));  // = f / (2 + f) bit for bit (f is exact), 3 cycles earlier
  const V hfsq = (V::set1(T(0.5)) * f) * f;
  const V lo = fma(s, log_tail(s * s, hfsq), fma(e, V::set1(C::kLn2Lo), corr));
  if constexpr (kNegate) return fma(e, V::set1(-C::kLn2Hi), (hfsq - lo) - f);
  return fma(e, V::set1(C::kLn2Hi), f - (hfsq - lo));
}

template <class V>
FASTLOSS_INLINE V log_positive(V x, V corr) {
  return log_positive_signed<false>(x, corr);
}

// log(x) for positive normal finite x: log_positive(x, 0) without the subnormal scaling.
template <class V>
FASTLOSS_INLINE V log_normal(V x) {
  return log_positive_signed<false, true>(x, V::set1(typename V::Elem(0)));
}

// -(log(x) + corr), for losses that are a negated log (binary cross-entropy): no negation per
// vector.
template <class V>
FASTLOSS_INLINE V neg_log_positive(V x, V corr) {
  return log_positive_signed<true>(x, corr);
}

template <class V>
FASTLOSS_INLINE V log(V x) {
  using T = typename V::Elem;
  const V zero = V::set1(T(0)), inf = V::set1(std::numeric_limits<T>::infinity());
  V y = log_positive(x, zero);
  y = select(eq(x, inf), inf, y);
  y = select(eq(x, zero), -inf, y);
  // ge is false for x < 0 and for NaN.
  return select(ge(x, zero), y, V::set1(std::numeric_limits<T>::quiet_NaN()));
}

template <class V>
FASTLOSS_INLINE V log1p(V x) {
  using T = typename V::Elem;
  const V one = V::set1(T(1)), inf = V::set1(std::numeric_limits<T>::infinity());
  const V u = one + x;
  const V c = x - (u - one);
  V y = log_positive(u, c / u);
  y = select(eq(u, one), x, y);
  y = select(eq(x, inf), inf, y);
  y = select(eq(x, -one), -inf, y);
  return select(ge(x, -one), y, V::set1(std::numeric_limits<T>::quiet_NaN()));
}

}  // namespace fastloss::FASTLOSS_ISA
