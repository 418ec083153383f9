// Vector exp for Vec<float> and Vec<double>, written once over the Vec interface of
// simd/scalar.hpp (no ISA-specific code: every ISA runs the same arithmetic; only
// round_even and scale_pow2 are native, e.g. vscalefps on AVX-512).
//
// Method (Cody-Waite; measured bounds in docs/numerics.md):
//   n = round_even(x log2e)
//   r = x - n ln2_hi - n ln2_lo   two FMAs; ln2_hi is ln2 rounded to T, so the first FMA is
//                                 exact (|r| < 1/2 fits in T's precision), |r| <= ln2/2 + tiny
//   p = 1 + r + r^2 P(r) ~ e^r    one Horner chain of FMAs; P minimax in the relative error
//                                 (tools/fit_math_coeffs.py): degree 4 for float (2^-28.3),
//                                 degree 9 for double (2^-57.9)
//   exp(x) = scale_pow2(p, n)     exact scaling with IEEE overflow and gradual underflow
// Special values: x is clamped to [kUnderflow, kOverflow] before the reduction, which keeps
// n inside scale_pow2's range (|n| <= 150 / 1075) and makes the cut-offs exact: at kOverflow
// n = 128 (1024) and p >= 1, so the result is +inf; at kUnderflow n = -150 (-1075) and
// p < 1, so it rounds to +0. Hence x >= kOverflow (and +inf) -> +inf, x <= kUnderflow (and
// -inf) -> exactly +0, and every finite x between them is evaluated normally (denormal
// results included). NaN -> NaN (the input NaN) by an explicit select: the clamp maps NaN
// lanes to kUnderflow first (min/max return their second operand on NaN), so no NaN reaches
// the integer conversions inside scale_pow2.
//   float:  kOverflow = 88.72283935546875 (0x1.62e43p+6),  kUnderflow = -103.97208404541015625
//   double: kOverflow = 0x1.62e42fefa39f0p+9 (709.78271289338409),
//           kUnderflow = -0x1.74910d52d3052p+9 (-745.13321910194122)
//
// Cost per vector, float (Vec ops): clamp 2, reduction 4 (mul, round, 2 fnma), polynomial
// 6 fma, scale_pow2 1 (AVX-512 vscalefps; 11 instructions on AVX2), NaN select 2: 15 ops on
// AVX-512, 25 instructions on AVX2. exp_reduced alone: 10 ops.
//
// Accuracy, max error in ulp against a float64 (float) or 80-bit long double (double)
// reference; ulp = 2^(exponent(ref) - p + 1) floored at the smallest subnormal
// (tests/test_math_ulp.py, whose MAX_ULP asserts 0.92 float / 0.95 double):
//   float:  0.9091 ulp over all 2^32 inputs (avx2 and scalar, bitwise equal), worst at
//           x = 5.1997986 (0x40a664c0); 0.8571 on the default run's 10.5 M strided inputs.
//           The error budget: 0.5 (last FMA) + up to 0.18 each from the rounding of r and of
//           the inner Horner value + 0.05 (polynomial).
//   double: 0.8843 ulp over 10^8 samples (avx2 and scalar), worst at x = -3.82436915637129;
//           0.8608 on the default run's 2^20 samples.
// Every ISA runs the same IEEE operations in the same order (fma is exact, round_even and
// scale_pow2 round at most once), so results are bitwise equal across ISAs; tests check it
// for those the machine runs. AVX-512 was checked only under emulation (SIMDe, with a
// one-rounding vscalefps): bitwise equal to scalar on 7e7 float and 8e6 double inputs.
#pragma once

#include "attributes.hpp"
#include "math/poly.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
struct ExpConst;

template <>
struct ExpConst<float> {
  static constexpr float kLog2e = 0x1.715476p+0f;
  static constexpr float kLn2Hi = 0x1.62e430p-1f;    // ln2 rounded to float
  static constexpr float kLn2Lo = -0x1.05c610p-29f;  // ln2 - kLn2Hi rounded to float
  static constexpr float kOverflow = 0x1.62e430p+6f;
  static constexpr float kUnderflow = -0x1.9fe36ap+6f;
};

template <>
struct ExpConst<double> {
  static constexpr double kLog2e = 0x1.71547652b82fep+0;
  static constexpr double kLn2Hi = 0x1.62e42fefa39efp-1;
  static constexpr double kLn2Lo = 0x1.abc9e3b39803fp-56;
  static constexpr double kOverflow = 0x1.62e42fefa39f0p+9;
  static constexpr double kUnderflow = -0x1.74910d52d3052p+9;
};

// e^r on |r| <= ln2/2 (a little beyond is fine), r already reduced.
FASTLOSS_INLINE Vec<float> exp_poly(Vec<float> r) {
  return horner(r, 1.0f, 1.0f, 0.499999933f, 0.166665184f, 0.0416684142f, 0.00836898595f, 0.00138140412f);
}
FASTLOSS_INLINE Vec<double> exp_poly(Vec<double> r) {
  return horner(r, 1.0, 1.0, 0.50000000000000110, 0.16666666666666403, 0.041666666666526015, 0.0083333333334994306,
                0.0013888888944876124, 0.00019841269498845133, 2.4801491671323722e-5, 2.7557590495213602e-6,
                2.7630799979297122e-7, 2.4999651294046227e-8);
}

// e^r on |r| <= ln2/2 from nr = -r: exp_poly(-r) bit for bit. Its odd coefficients are
// negated, so each Horner step is the exact negation of exp_poly's (rounding commutes with
// negation); the last two steps are written with fnma so that 1 is the only unit constant.
FASTLOSS_INLINE Vec<float> exp_poly_neg(Vec<float> nr) {
  using V = Vec<float>;
  const V a2 = horner(nr, 0.499999933f, -0.166665184f, 0.0416684142f, -0.00836898595f, 0.00138140412f);
  const V one = V::set1(1.0f);
  return fnma(fnma(a2, nr, one), nr, one);  // 1 - nr (1 - nr a2) = 1 + nr (nr a2 - 1)
}
FASTLOSS_INLINE Vec<double> exp_poly_neg(Vec<double> nr) {
  using V = Vec<double>;
  const V a2 = horner(nr, 0.50000000000000110, -0.16666666666666403, 0.041666666666526015, -0.0083333333334994306,
                      0.0013888888944876124, -0.00019841269498845133, 2.4801491671323722e-5, -2.7557590495213602e-6,
                      2.7630799979297122e-7, -2.4999651294046227e-8);
  const V one = V::set1(1.0);
  return fnma(fnma(a2, nr, one), nr, one);
}

// The reduced exp: returns p in [~0.7, ~1.42] and sets *n (integral) with exp(x) = p 2^n,
// the same p and n that exp() uses, so exp(x) == scale_pow2(p, *n) bit for bit for x in
// [kUnderflow, kOverflow], and exp(x - k ln2) = scale_pow2(p, *n - k) for integral k (the
// folded shift of cross-entropy and softmax) is as accurate as exp itself. No special-value
// handling and no scaling. p keeps exp's accuracy for |x| <= 2^15 ln2 ~ 22713 (float and
// double; |n| <= 2^15): the first FMA of the reduction stays exact there, and the
// polynomial is fitted up to |r| <= ln2/2 (1 + 2^-8), which covers the rounding of x log2e.
// scale_pow2(p, *n) itself is meaningful only while |n| is within scale_pow2's range
// (|x| <~ 87 float / 708 double without a fold). NaN gives NaN p and n; +-inf give NaN p.
template <class V>
FASTLOSS_INLINE V exp_reduced(V x, V* n) {
  using C = ExpConst<typename V::Elem>;
  const V k = round_even(x * V::set1(C::kLog2e));
  V r = fnma(k, V::set1(C::kLn2Hi), x);
  r = fnma(k, V::set1(C::kLn2Lo), r);
  *n = k;
  return exp_poly(r);
}

// e^x for every input; see the header for the cut-offs and special values.
template <class V>
FASTLOSS_INLINE V exp(V x) {
  using C = ExpConst<typename V::Elem>;
  // x first: on NaN max/min return the constant, so NaN lanes compute finite garbage.
  const V xc = min(max(x, V::set1(C::kUnderflow)), V::set1(C::kOverflow));
  V n;
  const V p = exp_reduced(xc, &n);
  return select(is_nan(x), x, scale_pow2(p, n));
}

}  // namespace fastloss::FASTLOSS_ISA
