// Binary cross-entropy, one pass over the inputs (and the weights, if any):
//   bce:             l = -w·(y·max(log p, -100) + (1-y)·max(log1p(-p), -100))   (torch's clamp)
//   bce_with_logits: l = w·(pw·y·softplus(-x) + (1-y)·softplus(x)),
//                    softplus(±x) = max(±x, 0) + log1p(exp(-|x|)): the tail log1p(exp(-|x|))
//                    once per element (kernels/softplus.hpp: float32 without exponent split or
//                    division), a sum of non-negative terms, so nothing cancels for large |x|.
// Terms in the input's precision, summed per lane in it for runs of 8 vectors, then in float64
// (accumulate.hpp); the chunk sums through parallel.hpp's ordered_reduce.
// bce checks p and y ∈ [0, 1] (NaN fails) in the same pass and reports the smallest bad index.
// Hard labels (a vector whose y lanes are all 0 or 1) take one log instead of two: y = 1
// needs log p, y = 0 needs log1p(-p), and both are a log of one argument (below).
// Weights broadcast along the flat index through a PeriodicWeight (args.hpp): a scalar, a
// per-last-axis vector or a full-shape array, read without materializing the broadcast.
// bce takes negated logs, the NaN part of its range check from the loss sum, a cheap
// soft-label test and no selects in the hard-label argument: each saves instructions.
// These loops are bound by the latency of one vector's chain (decompose, the division and
// the polynomials) over the vectors the out-of-order window holds, as much as by the
// instruction count: shorter chains pay. Counts: docs/performance.md, "Measurements".
#pragma once

#include <cstdint>
#include <limits>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/args.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/softplus.hpp"
#include "math/log.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// The logs of BCE come from log_positive (math/log.hpp: log(x) + corr for positive finite x,
// corr added before the final rounding), without log()'s special-value selects, which these
// arguments never need:
// - log p and log(1 - p) for p in [0, 1]. The argument is clamped below at kTiny, whose log
//   (-101.3) is under BCE's -100 floor, so p = 0 or 1 gives exactly the floor. log(1 - p) is
//   log(u) for u = fl(1 - p), corrected by err = (1 - p) - u, which Fast2Sum gives exactly
//   (|p| <= 1): log(1 - p) = log(u) + err/u + O(err²), as log1p(-p). err != 0 only for
//   p < 0.5, i.e. u in (0.5, 1], where 2 - u stands for 1/u with a relative error
//   (1-u)²/u <= 1/4 of a correction |err/u| <= 2^-24 (float; 2^-53 double): at most a quarter
//   ulp of |log u| at u = 0.5, shrinking as u -> 1. No division.
template <class T>
constexpr T kTiny = T(1e-44);  // log(kTiny) = -101.3 (a subnormal float)

// -log p and -log(1 - p) (neg_log_positive: BCE's loss is the negated log).
template <class V>
FASTLOSS_INLINE V bce_neg_log(V p) {
  using T = typename V::Elem;
  return neg_log_positive(max(p, V::set1(kTiny<T>)), V::set1(T(0)));
}
template <class V>
FASTLOSS_INLINE V bce_neg_log1m(V p) {
  using T = typename V::Elem;
  const V one = V::set1(T(1));
  const V u = one - p;
  const V err = (one - u) - p;
  return neg_log_positive(max(u, V::set1(kTiny<T>)), err * (V::set1(T(2)) - u));
}

// BCE's check that p and y lie in [0, 1], NaN excluded, folded over a chunk without a branch:
// running max and min of the lanes. max/min return their second operand on NaN and may drop
// it, but BCE's term is NaN for a NaN p or y (bce_impl), so a NaN in the chunk's sum of terms
// (kNeedsSum: summed in the "none" pass too) stands for it: a max above 1, a min below 0 or
// a NaN sum means some element may be out of range (-0 passes), and the chunk is rescanned.
// A NaN sum from valid inputs (a NaN or infinite weight) only costs that rescan.
template <class V>
struct UnitRangeCheck {
  using T = typename V::Elem;
  static constexpr bool kNeedsSum = true;
  V hi = V::set1(T(0)), lo = V::set1(T(0));
  void add(V p, V y) {
    hi = max(hi, max(p, y));
    lo = min(lo, min(p, y));
  }
  bool failed(double sum) const { return any(gt(hi, V::set1(T(1))) | lt(lo, V::set1(T(0)))) || sum != sum; }
  static bool bad_at(T p, T y) { return !(p >= T(0) && p <= T(1) && y >= T(0) && y <= T(1)); }
};

template <class S, bool kHasW>
BceResult bce_impl(const BceArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), cap = V::set1(T(100));
  auto term = [=](V p, V y, V w, V) {
    // The loss is -y·max(log p, -100) - (1-y)·max(log(1-p), -100), formed from negated logs
    // (neg_log_positive: the same bits, no negation per vector) capped at +100. A NaN p or y
    // makes the term NaN in either branch (through the Fast2Sum correction of log(1 - p), or
    // err below), which UnitRangeCheck relies on.
    V l;
    if (any(gt(fnma(y, y, y), zero))) {  // some 0 < y < 1 (y - y² > 0; false on NaN): both logs
      l = fma(y, min(cap, bce_neg_log(p)), (one - y) * min(cap, bce_neg_log1m(p)));
    } else {  // y in {0, 1}: log p where y = 1, log(1 - p) where y = 0, from one log
      // arg = c + sgn·p with c = 1 - y, sgn = 2y - 1 (both from y at once: the loop is bound
      // by this chain's latency): p (exact) for y = 1, fl(1 - p) for y = 0; err is
      // bce_neg_log1m's Fast2Sum error for y = 0 and exactly 0 for y = 1. So a hard label
      // gives the same bits as in the soft branch, without selects, and NaN in p or y reaches
      // the term through err.
      const V c = one - y, sgn = fma(V::set1(T(2)), y, -one);
      const V arg = fma(sgn, p, c);
      const V err = fma(sgn, p, c - arg);
      l = min(cap, neg_log_positive(max(arg, V::set1(kTiny<T>)), err * (V::set1(T(2)) - arg)));
    }
    return kHasW ? l * w : l;
  };
  return weighted_map<S, kHasW, false, UnitRangeCheck<V>>(
      static_cast<const S*>(a.input), static_cast<const S*>(a.target), a.weight, PeriodicWeight{nullptr, 1},
      static_cast<S*>(a.out), a.n, a.n_threads, T(0.5), T(0.5), term);
}

// S: the storage type of input, target and out (half.hpp); weights in its compute type.
template <class S>
BceResult bce(const BceArgs& a) {
  return a.weight.tile != nullptr ? bce_impl<S, true>(a) : bce_impl<S, false>(a);
}

template <class S, bool kHasW, bool kHasPW>
double bce_with_logits_impl(const BceWithLogitsArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), inf = V::set1(std::numeric_limits<T>::infinity());
  auto term = [=](V x, V y, V w, V pw) {
    // A NaN x makes the tail garbage, but max(0, ±x) is NaN and so is the loss.
    const V l = softplus_tail(x);
    const V mx = max(zero, x), mnx = max(zero, -x);  // constant first keeps NaN
    V t;
    if constexpr (kHasPW) {
      const V a = pw * y, b = one - y;
      t = fma(a, mnx + l, b * (mx + l));
      // A target outside [0, 1] (torch accepts any) or a negative pw makes one term negative,
      // and the two can cancel (y = 1e30, x = 0: 0 instead of log 2). There torch's form,
      // (1-y)·x + (1+(pw-1)·y)·softplus(-x), which does not, for finite x; infinite x keeps the
      // sum above, whose value is the limit. In-range vectors pay two compares and a branch.
      const typename V::Mask negative = lt(a, zero) | lt(b, zero);
      if (any(negative)) {
        const V torch_form = fma(b, x, fma(pw - one, y, one) * (mnx + l));
        t = select(negative & lt(abs(x), inf), torch_form, t);
      }
    } else {
      // y·softplus(-x) + (1-y)·softplus(x) with the common tail taken out: non-negative terms
      // for y in [0, 1], and 0·inf = NaN where torch's formula has it (x = ±inf). Outside
      // [0, 1] only one of max(0, ±x) is non-zero, so nothing cancels beyond l itself.
      t = l + fma(y, mnx, (one - y) * mx);
    }
    return kHasW ? t * w : t;
  };
  return weighted_map<S, kHasW, kHasPW, NoCheck<V>>(static_cast<const S*>(a.input), static_cast<const S*>(a.target),
                                                    a.weight, a.pos_weight, static_cast<S*>(a.out), a.n, a.n_threads,
                                                    T(0), T(0), term)
      .sum;
}

template <class S>
double bce_with_logits(const BceWithLogitsArgs& a) {
  const bool w = a.weight.tile != nullptr, pw = a.pos_weight.tile != nullptr;
  if (w && pw) return bce_with_logits_impl<S, true, true>(a);
  if (w) return bce_with_logits_impl<S, true, false>(a);
  if (pw) return bce_with_logits_impl<S, false, true>(a);
  return bce_with_logits_impl<S, false, false>(a);
}

}  // namespace fastloss::FASTLOSS_ISA
