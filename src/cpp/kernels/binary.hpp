// Binary cross-entropy, one pass over the inputs (and the weights, if any):
//   bce:             l = -w·(y·max(log p, -100) + (1-y)·max(log1p(-p), -100))   (torch's clamp)
//   bce_with_logits: l = w·(pw·y·softplus(-x) + (1-y)·softplus(x)),
//                    softplus(±x) = max(±x, 0) + log1p(exp(-|x|)): one exp, one log per element,
//                    a sum of non-negative terms, so nothing cancels for large |x|.
// Terms in the input's precision, summed per lane in it for runs of 8 vectors, then in float64
// (accumulate.hpp); chunked as parallel.hpp, so every thread count gives the same bits.
// bce checks p and y ∈ [0, 1] (NaN fails) in the same pass and reports the smallest bad index.
// Hard labels (a vector whose y lanes are all 0 or 1) take one log instead of two: y = 1
// needs log p, y = 0 needs log1p(-p), and both are a log of one argument (below).
// Weights broadcast along the flat index through a PeriodicWeight (args.hpp): a scalar, a
// per-last-axis vector or a full-shape array, read without materializing the broadcast.
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
// - log1p(e) for e = exp(-|x|) in [0, 1] (bce_with_logits): u = 1 + e in [1, 2], corrected by
//   c/u exactly as math/log.hpp's log1p, without its special cases.
template <class T>
constexpr T kTiny = T(1e-44);  // log(kTiny) = -101.3 (a subnormal float)

template <class V>
inline V bce_log(V p) {
  using T = typename V::Elem;
  return log_positive(max(p, V::set1(kTiny<T>)), V::set1(T(0)));
}
template <class V>
inline V bce_log1m(V p) {  // log(1 - p)
  using T = typename V::Elem;
  const V one = V::set1(T(1));
  const V u = one - p;
  const V err = (one - u) - p;
  return log_positive(max(u, V::set1(kTiny<T>)), err * (V::set1(T(2)) - u));
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
  void add(V, V) {}
  bool failed() const { return false; }
  static bool bad_at(typename V::Elem, typename V::Elem) { return false; }
};

// BCE's check that p and y lie in [0, 1], NaN excluded, folded over a chunk without a branch:
// running max and min of the lanes and a running sum. max/min return their second operand on
// NaN and may drop it, but the sum keeps it; in-range inputs keep the sum finite, so a NaN or
// inf sum, a max above 1 or a min below 0 means some element is out of range (-0 passes).
template <class V>
struct UnitRangeCheck {
  using T = typename V::Elem;
  V hi = V::set1(T(0)), lo = V::set1(T(0)), sum = V::set1(T(0));
  void add(V p, V y) {
    hi = max(hi, max(p, y));
    lo = min(lo, min(p, y));
    sum = sum + (p + y);
  }
  bool failed() const { return any(gt(hi, V::set1(T(1))) | lt(lo, V::set1(T(0))) | is_nan(sum - sum)); }
  static bool bad_at(T p, T y) { return !(p >= T(0) && p <= T(1) && y >= T(0) && y <= T(1)); }
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
  const std::int64_t chunk = chunk_length(n, kMinChunk);
  const std::int64_t n_chunks = (n + chunk - 1) / chunk;
  double partials[kMaxChunks];
  std::int64_t first_bad[kMaxChunks];

  parallel_chunks(n, kMinChunk, n_threads, [&](std::int64_t begin, std::int64_t end) FASTLOSS_FLATTEN {
    WeightCursor<T> wc(w, begin), pc(pw, begin);
    const V one = V::set1(T(1));
    auto eval = [&](const V xv, const V yv, std::int64_t k) {
      return term(xv, yv, kHasW ? wc.at(k) : one, kHasPW ? pc.at(k) : one);
    };
    Check check;
    // Terms are summed in T for kRun steps, then widened into the float64 accumulators: a
    // float32 sum of kRun terms per lane loses at most ~kRun/2 ulp of them, far inside SPEC
    // §4, and the widening (5 ops per vector on AVX2) is paid once per kRun vectors.
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
      } else {
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
      if (out != nullptr) {
        t.store_n(out + i, rest);
      } else {
        a0.add(rest == L ? t : keep_first(t, rest));
      }
      wc.advance(L);
      pc.advance(L);
    }
    flush();
    const std::int64_t k_chunk = begin / chunk;
    partials[k_chunk] = (a0.total() + a1.total()) + (a2.total() + a3.total());
    first_bad[k_chunk] = -1;
    if (check.failed()) {
      for (std::int64_t j = begin; j < end; ++j) {
        if (Check::bad_at(x[j], y[j])) {
          first_bad[k_chunk] = j;
          break;
        }
      }
    }
  });

  BceResult r{0.0, -1};
  for (std::int64_t k = 0; k < n_chunks; ++k) {
    if (first_bad[k] >= 0) return {0.0, first_bad[k]};
    r.sum += partials[k];
  }
  return r;
}

template <class T, bool kHasW>
BceResult bce_impl(const BceArgs& a) {
  using V = Vec<T>;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), floor = V::set1(T(-100));
  auto term = [=](V p, V y, V w, V) {
    V l;
    if (any(gt(y, zero) & lt(y, one))) {  // soft labels: both logs
      l = fma(y, max(floor, bce_log(p)), (one - y) * max(floor, bce_log1m(p)));
    } else {  // y in {0, 1}: log p where y = 1, log(1 - p) where y = 0, from one log
      // The same operations as bce_log/bce_log1m lane by lane, so that a hard label gives
      // the same bits in either branch.
      const V u = one - p;
      const V err = (one - u) - p;
      const auto pos = eq(y, one);
      const V arg = max(select(pos, p, u), V::set1(kTiny<T>));
      const V corr = select(pos, zero, err * (V::set1(T(2)) - u));
      l = max(floor, log_positive(arg, corr));
    }
    return kHasW ? -(l * w) : -l;
  };
  return weighted_map<T, kHasW, false, UnitRangeCheck<V>>(static_cast<const T*>(a.input),
                                                          static_cast<const T*>(a.target), a.weight,
                                                          PeriodicWeight{nullptr, 1}, static_cast<T*>(a.out), a.n,
                                                          a.n_threads, T(0.5), T(0.5), term);
}

template <class T>
BceResult bce(const BceArgs& a) {
  return a.weight.tile != nullptr ? bce_impl<T, true>(a) : bce_impl<T, false>(a);
}

template <class T, bool kHasW, bool kHasPW>
double bce_with_logits_impl(const BceWithLogitsArgs& a) {
  using V = Vec<T>;
  const V zero = V::set1(T(0)), one = V::set1(T(1));
  auto term = [=](V x, V y, V w, V pw) {
    // e = exp(-|x|) in [0, 1] never overflows; log1p(e) = log(u) + c/u as math/log.hpp's
    // log1p, without its special cases (u is in [1, 2]). A NaN x makes e garbage, but
    // max(0, ±x) below is NaN and so is the loss.
    const V e = exp_nonpositive(-abs(x));
    const V u = one + e;
    const V l = log_positive(u, (e - (u - one)) / u);
    const V sp_pos = max(zero, x) + l;   // softplus(x); constant first keeps NaN
    const V sp_neg = max(zero, -x) + l;  // softplus(-x)
    const V y_pos = kHasPW ? pw * y : y;
    const V t = fma(y_pos, sp_neg, (one - y) * sp_pos);
    return kHasW ? t * w : t;
  };
  return weighted_map<T, kHasW, kHasPW, NoCheck<V>>(static_cast<const T*>(a.input),
                                                     static_cast<const T*>(a.target), a.weight, a.pos_weight,
                                                     static_cast<T*>(a.out), a.n, a.n_threads, T(0), T(0), term)
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
