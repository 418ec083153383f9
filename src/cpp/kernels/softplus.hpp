// softplus_tail(x) = log1p(exp(-|x|)), the tail of softplus(±x) = max(±x, 0) + log1p(exp(-|x|))
// that bce_with_logits (kernels/binary.hpp) takes once per element. Not part of the math library
// (math/): its bound is looser (tests/test_math_ulp.py checks it through kernels/math_eval.hpp).
#pragma once

#include "attributes.hpp"
#include "math/exp.hpp"
#include "math/log.hpp"
#include "math/poly.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// e^z for z <= 0: exp() without its overflow clamp and NaN select. A NaN z gives finite
// garbage; the callers carry NaN into the loss by other terms.
template <class V>
inline V exp_nonpositive(V z) {
  using C = ExpConst<typename V::Elem>;
  V n;
  const V p = exp_reduced(max(z, V::set1(C::kUnderflow)), &n);
  return scale_pow2(p, n);
}

// log1p(exp(-|x|)) for float, the tail of softplus(±x) = max(±x, 0) + log1p(exp(-|x|)), in
// 24 vector ops where exp_nonpositive + log1p cost ~50 with two divisions:
// - e = exp(-a), a = min(|x|, 87): Cody-Waite as math/exp.hpp (the same polynomial, its odd
//   coefficients negated so that it takes r = a + n ln2 = -(reduced argument)), n rounded by
//   one FMA against the magic 1.5·2^23 + 127, which leaves 127 + n in the low bits for
//   pow2_low_bits: e = p·2^n in one shift and one product. a <= 87 keeps e >= 1.6e-38 normal,
//   so no scaling fix-ups; beyond 87 the tail (< 1.7e-38) is returned as log1p(e^-87), an
//   absolute error under 1.7e-38, far inside the 1e-6 bound (the other term of the loss is
//   then >= 87 or the loss itself is below 1.7e-38).
// - log1p(e) = e + e²·H(e) on [0, 1], H of degree 7 minimax in the relative error of log1p
//   (2^-24.9; tools/fit_math_coeffs.py log1p_unit): no exponent split, no division.
// Max error 2.13 ulp of the tail over every float |x| <= 87 (worst at |x| = 0.499587685),
// measured exhaustively against float64; most of it is exp's own 0.91 ulp carried through.
// (H by Estrin: half the latency, but ~0.2 ulp more and 4 more instructions with the spills,
// and no measurable gain on a loaded machine.)
// NaN x gives finite garbage: the callers carry NaN into the loss through max(0, ±x).
FASTLOSS_INLINE VecF softplus_tail(VecF x) {
  using V = VecF;
  const V a = min(abs(x), V::set1(87.0f));
  const V magic = V::set1(0x1.8p23f + 127.0f);
  const V j = fnma(a, V::set1(ExpConst<float>::kLog2e), magic);  // magic + 127 + n, n = -round(a log2e)
  const V n = j - magic;                                          // exact, in [-126, 0]
  V r = fma(n, V::set1(ExpConst<float>::kLn2Hi), a);              // exact (as exp_reduced)
  r = fma(n, V::set1(ExpConst<float>::kLn2Lo), r);
  const V e = exp_poly_neg(r) * pow2_low_bits(j);  // e^-r: exp_poly(-r) bit for bit
  const V h = horner(e, -0.499996480f, 0.333213226f, -0.248571638f, 0.191536554f, -0.137538034f, 0.0792045487f,
                     -0.0300658004f, 0.00536482638f);
  return fma(e * e, h, e);
}
// float64: exp_nonpositive and log1p (math/log.hpp's, without its special cases; u in [1, 2]);
// 1.55 ulp at most on tests/test_math_ulp.py's 7.9e5 samples.
FASTLOSS_INLINE VecD softplus_tail(VecD x) {
  using V = VecD;
  const V one = V::set1(1.0);
  const V e = exp_nonpositive(-abs(x));
  const V u = one + e;
  return log_positive(u, (e - (u - one)) / u);
}

}  // namespace fastloss::FASTLOSS_ISA
