// Streaming regression metrics (RegressionEvaluator): one pass over (input, target[, weight])
// gives Σw, Σw·d², Σw·|d|, Σw·huber_δ(d), max |d| over weighted rows, and the weighted mean and
// M2 = Σw·(y - ȳ)² of the target for R². d = input - target.
//
// M2 is never Σw·y² - (Σw·y)²/Σw, which cancels catastrophically: each chunk (sized to stay in
// L2) computes its own mean, then re-reads its target from cache for Σw·(y - ȳ)²; the chunks
// are merged with Chan et al.'s update (stats.cpp) by parallel.hpp's ordered_reduce. The mean
// is taken about the chunk's first target y0 (ȳ = y0 + Σw·(y - y0) / Σw): a constant target
// then has its mean exactly and M2 exactly 0, where Σw·y / Σw rounds a few ulp off and leaves
// an M2 > 0 that makes R² = 1 - SSE/M2 read -1e20 instead of 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "half.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/args.hpp"
#include "kernels/unaligned.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"
#include "stats.hpp"

namespace fastloss::FASTLOSS_ISA {

// x, y: storage type S (half.hpp); w and the arithmetic: its compute type T.
template <class S, class T = Compute<S>>
RegressionStats regression_stats_chunk(const S* x, const S* y, const T* w, std::int64_t n, T delta_t) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const V delta = V::set1(delta_t), half = V::set1(T(0.5)), half_delta = V::set1(T(0.5) * delta_t);
  const V zero = V::set1(T(0)), one = V::set1(T(1));
  const T y0 = n > 0 && std::isfinite(load_one(y)) ? load_one(y) : T(0);  // a finite pivot: padding lanes add 0
  const V y0_v = V::set1(y0);
  SumAcc<T> w_acc, sq_acc, abs_acc, huber_acc, wy_acc;
  V max_v = zero;
  auto step = [&](V xv, V yv, V wv) {
    const V d = xv - yv, ad = abs(d);
    const V huber = select(lt(ad, delta), half * d * d, delta * (ad - half_delta));
    w_acc.add(wv);
    sq_acc.add(wv * d * d);
    abs_acc.add(wv * ad);
    huber_acc.add(wv * huber);
    wy_acc.add(wv * (yv - y0_v));
    // Rows of weight 0 do not count for the max; NaN wins (max returns its second operand
    // when either is NaN, so max_v stays NaN once it is).
    const V counted = select(gt(wv, zero), ad, zero);
    max_v = select(is_nan(counted), counted, max(counted, max_v));
  };
  std::int64_t i = 0;
  for (; i + L <= n; i += L) step(V::load(x + i), V::load(y + i), w ? V::load(w + i) : one);
  const std::int64_t rest = n - i;
  if (rest > 0)
    step(V::load_n(x + i, rest, 0), V::load_n(y + i, rest, 0), w ? V::load_n(w + i, rest, 0) : keep_first(one, rest));

  RegressionStats s;
  s.count = n;
  s.weight_sum = w_acc.total();
  s.sq_sum = sq_acc.total();
  s.abs_sum = abs_acc.total();
  s.huber_sum = huber_acc.total();
  T lanes[L];
  max_v.store(lanes);
  s.max_abs = 0.0;
  for (std::int64_t k = 0; k < L; ++k) s.max_abs = nan_max(s.max_abs, lanes[k]);
  s.y_mean = s.weight_sum > 0.0 ? static_cast<double>(y0) + wy_acc.total() / s.weight_sum : 0.0;
  // Second pass over this chunk, from cache: Σ w·(y - ȳ)².
  const V mean_v = V::set1(static_cast<T>(s.y_mean));
  SumAcc<T> m2_acc;
  for (i = 0; i + L <= n; i += L) {
    const V c = V::load(y + i) - mean_v;
    m2_acc.add((w ? V::load(w + i) : one) * c * c);
  }
  if (rest > 0) {
    const V c = V::load_n(y + i, rest, 0) - mean_v;
    m2_acc.add(keep_first((w ? V::load_n(w + i, rest, 0) : one) * c * c, rest));
  }
  s.y_m2 = m2_acc.total();
  return s;
}

// RegressionStats as an ordered_reduce state: Chan's merge (stats.cpp), {} its identity.
struct StatsTotals : RegressionStats {
  static StatsTotals zero() { return {}; }
  void merge(const StatsTotals& o) { static_cast<RegressionStats&>(*this) = ::fastloss::merge(*this, o); }
};

template <class S>
RegressionStats regression_stats(const RegressionStatsArgs& a) {
  using T = Compute<S>;
  const S* x = static_cast<const S*>(a.input);
  const S* y = static_cast<const S*>(a.target);
  const T* w = static_cast<const T*>(a.weight);
  // A chunk of input, target and weight stays in L2 for the second pass.
  const Chunks ch = fixed_chunks(a.n, 1 << 13);
  // Under 8 chunks the work is less than starting a team costs.
  return ordered_reduce<StatsTotals>(ch, ch.count >= 8 ? a.n_threads : 1, [&](std::int64_t begin, std::int64_t end) {
    return StatsTotals{
        regression_stats_chunk<S>(x + begin, y + begin, w ? w + begin : nullptr, end - begin, static_cast<T>(a.delta))};
  });
}

}  // namespace fastloss::FASTLOSS_ISA
