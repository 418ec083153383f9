// Binary cross-entropy, one pass over the inputs (and the weights, if any):
//   bce:             l = -w·(y·max(log p, -100) + (1-y)·max(log1p(-p), -100))   (torch's clamp)
//   bce_with_logits: l = w·(pw·y·softplus(-x) + (1-y)·softplus(x)),
//                    softplus(±x) = max(±x, 0) + log1p(exp(-|x|)): the tail log1p(exp(-|x|))
//                    once per element (softplus_tail: float32 without exponent split or
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

#include "math/exp.hpp"
#include "math/log.hpp"

// A chunk loop is compiled with everything it calls inlined: GCC otherwise keeps exp/log out
// of line (a call per vector, operands spilled around it) once a TU uses them in many places.
#ifndef FASTLOSS_FLATTEN
#if defined(__GNUC__) || defined(__clang__)
#define FASTLOSS_FLATTEN __attribute__((flatten))
#else
#define FASTLOSS_FLATTEN
#endif
#endif

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
// - log1p(e) for e = exp(-|x|) in [0, 1] (bce_with_logits, float64): u = 1 + e in [1, 2],
//   corrected by c/u exactly as math/log.hpp's log1p, without its special cases. float32 has
//   its own polynomial (softplus_tail).
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

// The weight of element i, a vector at a time, for a PeriodicWeight.
template <class T>
struct WeightCursor {
  const T* tile = nullptr;
  std::int64_t period = 1, pos = 0;
  WeightCursor(const PeriodicWeight& w, std::int64_t begin) {
    if (w.tile == nullptr) return;
    tile = static_cast<const T*>(w.tile);
    period = w.period;
    pos = begin % period;
  }
  Vec<T> at(std::int64_t k) const { return Vec<T>::load(tile + pos + k); }
  Vec<T> at_n(std::int64_t k, std::int64_t n) const { return Vec<T>::load_n(tile + pos + k, n, T(1)); }
  // step <= 4 lanes-vectors <= kWeightTilePad <= period (or period = n), so one wrap suffices.
  void advance(std::int64_t step) {
    pos += step;
    if (pos >= period) pos -= period;
  }
};

// No input check (bce_with_logits and kl_div check nothing, as torch).
template <class V>
struct NoCheck {
  static constexpr bool kNeedsSum = false;
  void add(V, V) {}
  bool failed(double) const { return false; }
  static bool bad_at(typename V::Elem, typename V::Elem) { return false; }
};

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

// A chunk's sum and its smallest bad index (-1: none): an ordered_reduce state.
struct BceTotals {
  double sum;
  std::int64_t first_bad;
  static BceTotals zero() { return {0.0, -1}; }
  void merge(const BceTotals& o) {
    sum += o.sum;
    if (o.first_bad >= 0 && (first_bad < 0 || o.first_bad < first_bad)) first_bad = o.first_bad;
  }
};

// One elementwise pass over x, y and up to two periodic weights. term(x_v, y_v, w_v, pw_v)
// gives the loss vector (w_v, pw_v are 1 when absent: the term skips them at compile time).
// Check (NoCheck or UnitRangeCheck) sees every element; a chunk whose check fails is scanned
// again, element by element, for its smallest bad index (only on the error path), and the
// smallest over chunks is returned. Tails load x, y with the given fills (valid inputs) and
// their padding lanes are zeroed before they are summed.
template <class T, bool kHasW, bool kHasPW, class Check, class Term>
BceResult weighted_map(const T* x, const T* y, const PeriodicWeight& w, const PeriodicWeight& pw, T* out,
                       std::int64_t n, int n_threads, T fill_x, T fill_y, Term term) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr std::int64_t kMinChunk = 1 << 16;
  const T* const x_all = x;
  const T* const y_all = y;
  T* const out_all = out;
  const BceTotals tot = ordered_reduce<BceTotals>(n, kMinChunk, n_threads,
                                                  [&](std::int64_t begin, std::int64_t end) FASTLOSS_FLATTEN {
    // Local copies: read through the captured references, they were reloaded every step (a
    // store through out might have changed them, as far as the compiler knows).
    const T* const x = x_all;
    const T* const y = y_all;
    T* const out = out_all;
    WeightCursor<T> wc(w, begin), pc(pw, begin);
    const V one = V::set1(T(1));
    auto eval = [&](const V xv, const V yv, std::int64_t k) {
      return term(xv, yv, kHasW ? wc.at(k) : one, kHasPW ? pc.at(k) : one);
    };
    Check check;
    // Terms are summed in T for kRun steps, then widened into the float64 accumulators: a
    // float32 sum of kRun terms per lane loses at most ~kRun/2 ulp of them, far inside the
    // tolerance, and the widening (5 ops per vector on AVX2) is paid once per kRun vectors.
    constexpr int kRun = 8;
    SumAcc<T> a0, a1, a2, a3;
    V f0 = V::set1(T(0)), f1 = f0, f2 = f0, f3 = f0;
    int run = 0;
    auto flush = [&] {
      a0.add(f0);
      a1.add(f1);
      a2.add(f2);
      a3.add(f3);
      f0 = f1 = f2 = f3 = V::set1(T(0));
    };
    std::int64_t i = begin;
    for (; i + 4 * L <= end; i += 4 * L) {
      const V x0 = V::load(x + i), x1 = V::load(x + i + L), x2 = V::load(x + i + 2 * L), x3 = V::load(x + i + 3 * L);
      const V y0 = V::load(y + i), y1 = V::load(y + i + L), y2 = V::load(y + i + 2 * L), y3 = V::load(y + i + 3 * L);
      check.add(x0, y0);
      check.add(x1, y1);
      check.add(x2, y2);
      check.add(x3, y3);
      const V t0 = eval(x0, y0, 0), t1 = eval(x1, y1, L), t2 = eval(x2, y2, 2 * L), t3 = eval(x3, y3, 3 * L);
      if (out != nullptr) {
        t0.store(out + i);
        t1.store(out + i + L);
        t2.store(out + i + 2 * L);
        t3.store(out + i + 3 * L);
      }
      if (out == nullptr || Check::kNeedsSum) {
        f0 = f0 + t0;
        f1 = f1 + t1;
        f2 = f2 + t2;
        f3 = f3 + t3;
        if (++run == kRun) {
          flush();
          run = 0;
        }
      }
      wc.advance(4 * L);
      pc.advance(4 * L);
    }
    for (; i < end; i += L) {
      const std::int64_t rest = std::min<std::int64_t>(L, end - i);
      const V xv = rest == L ? V::load(x + i) : V::load_n(x + i, rest, fill_x);
      const V yv = rest == L ? V::load(y + i) : V::load_n(y + i, rest, fill_y);
      check.add(xv, yv);
      const V t = rest == L ? eval(xv, yv, 0)
                            : term(xv, yv, kHasW ? wc.at_n(0, rest) : one, kHasPW ? pc.at_n(0, rest) : one);
      if (out != nullptr) t.store_n(out + i, rest);
      if (out == nullptr || Check::kNeedsSum) a0.add(rest == L ? t : keep_first(t, rest));
      wc.advance(L);
      pc.advance(L);
    }
    flush();
    BceTotals part{(a0.total() + a1.total()) + (a2.total() + a3.total()), -1};
    if (check.failed(part.sum)) {
      for (std::int64_t j = begin; j < end; ++j) {
        if (Check::bad_at(x[j], y[j])) {
          part.first_bad = j;
          break;
        }
      }
    }
    return part;
  });
  return tot.first_bad >= 0 ? BceResult{0.0, tot.first_bad} : BceResult{tot.sum, -1};
}

template <class T, bool kHasW>
BceResult bce_impl(const BceArgs& a) {
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
  return weighted_map<T, kHasW, false, UnitRangeCheck<V>>(
      static_cast<const T*>(a.input), static_cast<const T*>(a.target), a.weight, PeriodicWeight{nullptr, 1},
      static_cast<T*>(a.out), a.n, a.n_threads, T(0.5), T(0.5), term);
}

template <class T>
BceResult bce(const BceArgs& a) {
  return a.weight.tile != nullptr ? bce_impl<T, true>(a) : bce_impl<T, false>(a);
}

template <class T, bool kHasW, bool kHasPW>
double bce_with_logits_impl(const BceWithLogitsArgs& a) {
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
  return weighted_map<T, kHasW, kHasPW, NoCheck<V>>(static_cast<const T*>(a.input), static_cast<const T*>(a.target),
                                                    a.weight, a.pos_weight, static_cast<T*>(a.out), a.n, a.n_threads,
                                                    T(0), T(0), term)
      .sum;
}

template <class T>
double bce_with_logits(const BceWithLogitsArgs& a) {
  const bool w = a.weight.tile != nullptr, pw = a.pos_weight.tile != nullptr;
  if (w && pw) return bce_with_logits_impl<T, true, true>(a);
  if (w) return bce_with_logits_impl<T, true, false>(a);
  if (pw) return bce_with_logits_impl<T, false, true>(a);
  return bce_with_logits_impl<T, false, false>(a);
}

inline BceResult bce_f32(const BceArgs& a) { return bce<float>(a); }
inline BceResult bce_f64(const BceArgs& a) { return bce<double>(a); }
inline double bce_with_logits_f32(const BceWithLogitsArgs& a) { return bce_with_logits<float>(a); }
inline double bce_with_logits_f64(const BceWithLogitsArgs& a) { return bce_with_logits<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
