// Regression losses, d = input - target, one pass over both inputs:
//   mse |d|^2, l1 |d|, huber(δ): 0.5 d^2 if |d| < δ else δ(|d| - 0.5δ),
//   smooth_l1(β): 0.5 d^2/β if |d| < β else |d| - 0.5β (β = 0 is l1).
// Terms in the input's precision, sums in float64 (accumulate.hpp). NaN propagates: every
// comparison on NaN is false, so NaN lanes take the arithmetic branch.
#pragma once

#include "half.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/args.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// S: the storage type of input, target and out (half.hpp).
template <class S>
double regression(const RegressionArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  const S* x = static_cast<const S*>(a.input);
  const S* y = static_cast<const S*>(a.target);
  S* out = static_cast<S*>(a.out);
  const T p = static_cast<T>(a.param);
  const V half = V::set1(T(0.5));
  switch (a.kind) {
    case RegressionKind::kMse:
      return map2_sum(x, y, out, a.n, a.n_threads, [](V xv, V yv) {
        const V d = xv - yv;
        return d * d;
      });
    case RegressionKind::kL1: return map2_sum(x, y, out, a.n, a.n_threads, [](V xv, V yv) { return abs(xv - yv); });
    case RegressionKind::kHuber: {
      const V delta = V::set1(p), half_delta = V::set1(T(0.5) * p);
      return map2_sum(x, y, out, a.n, a.n_threads, [=](V xv, V yv) {
        const V d = xv - yv, ad = abs(d);
        return select(lt(ad, delta), half * d * d, delta * (ad - half_delta));
      });
    }
    case RegressionKind::kSmoothL1: {
      // 0.5/β is inf for β = 0, but then |d| < β never holds and that lane is not chosen.
      const V beta = V::set1(p), half_beta = V::set1(T(0.5) * p), half_over_beta = V::set1(T(0.5) / p);
      return map2_sum(x, y, out, a.n, a.n_threads, [=](V xv, V yv) {
        const V d = xv - yv, ad = abs(d);
        return select(lt(ad, beta), d * d * half_over_beta, ad - half_beta);
      });
    }
  }
  return 0.0;
}

}  // namespace fastloss::FASTLOSS_ISA
