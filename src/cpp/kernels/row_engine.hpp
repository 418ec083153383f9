// The rows engine of the softmax family (docs/architecture.md): lse(x) = log Σ_c e^{x_c} of one
// row at a time, vectorized along the classes, with the sums cross_entropy.hpp and
// evaluate.hpp need.
//
// Rows (n_inner == 1, C > kMaxLaneClasses): one row at a time, vectorized along the classes.
// The fast pass reads each logit once with a fixed shift s = k ln2, k = round(seed / ln2),
// seed = max(the row's first vector, the target logit when there is one):
//   e^{x - s} = p 2^{n - k},  (p, n) = exp_reduced(x)  (math/exp.hpp),
// and n - k goes straight into the exponent field (pow2_low_bits of the magic-added n), so
// every term carries exp's own error however far the row max lies above s: confident rows
// (target 20-40 above the rest) and rows offset by ±50 keep full accuracy (docs/numerics.md,
// "Confident rows"). x is clamped to [(k - 126.75) ln2, (k + 126) ln2] first (constants first,
// so NaN survives): below, the term is exactly +0, so -inf (masked) classes stay exact;
// above, it is >= 2^126, far beyond the accepted Σ <= 2^100. Σ is accumulated in float32
// lanes; every kWidenEvery steps the U accumulators are added pairwise in float32 and widened
// once into float64 (at most 9 roundings on a lane's path: Σ within 5.4e-7 relative, see
// kWidenEvery; one widening per flush rather than U saves instructions, docs/performance.md),
// and lse = s + log Σ in float64. Σ >= e^{-ln2/2} always holds for a finite row, because
// the seed is one of its values. A row whose seed is not finite, |k| > kMaxFoldK, or whose
// Σ is not in [0.5, 2^100] (a max far above the seed, +inf, NaN) is redone exactly: a max
// pass, then Σ e^{x - max} with the full exp. Software prefetch runs kPrefetchBytes ahead
// of the stream (into the next row): the loop is throughput-bound and the hardware
// prefetcher alone falls behind. softmax writes the terms e^{x - s} in the same pass and
// scales them by 1/Σ while the row is still in cache; log_softmax writes
// (x - lse_hi) - lse_lo from the cached row; both emit row r - 1's output inside row r's
// pass (softmax_rows).
//
// Threads: chunks of rows through parallel.hpp (its determinism contract).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/unaligned.hpp"
#include "math/exp.hpp"
#include "math/log.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

constexpr double kLn2d = 0.693147180559945309417232121458;
constexpr double kLog2ed = 1.44269504088896340735992468100;
// |k| bound of the folded shift: keeps |x| <~ 22700 inside exp_reduced's exact reduction.
constexpr double kMaxFoldK = 32768.0;
// Vectors per accumulator between two flushes of the float32 partial sums (row_pass). A lane
// of an accumulator adds at most kWidenEvery terms between flushes (the first onto 0: exact),
// and the flush adds the U accumulators pairwise in T (log2 U adds, pairwise_sum) before one
// widening into float64: at most 7 + 2 = 9 roundings on a lane's path (U = 4), each at most
// 2^-24 times the partial it produces, and no partial exceeds Σ (all terms >= 0), so Σ is off
// by at most 9·2^-24 = 5.4e-7 relative and lse by as much absolute: within the 1e-6 bound on a
// confident row (the worst case: the dominant 1 first in a lane, the other terms of its lane
// just below its half-ulp, all dropped; tests/test_evaluate.py builds it). The linear sums
// (mixed signs) are off by at most 9·2^-24 Σ|terms| the same way.
constexpr int kWidenEvery = 8;
// How far ahead of the stream the rows engine prefetches: 8 KB where a vector is 64 bytes
// (AVX-512), 2 KB elsewhere; each the fastest measured on its ISA's hardware
// (docs/performance.md, "Measurements").
constexpr std::int64_t kPrefetchBytes = Vec<float>::kLanes >= 16 ? 8192 : 2048;

template <class T>
struct FoldBits;
template <>
struct FoldBits<float> {
  static constexpr float kMagic = 0x1.8p23f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr int kBias = 127;
};
template <>
struct FoldBits<double> {
  static constexpr double kMagic = 0x1.8p52;
  static constexpr int kBias = 1023;
};

// e^{x - k ln2} for a fixed integral k (see the header). With kClampHigh = false, x must be
// <= (k + bias - 1) ln2 or NaN (the lanes engine: x - max <= 0, k = 0).
template <class T, bool kClampHigh = true>
struct FoldedExp {
  using V = Vec<T>;
  V magic, lo, hi;
  double shift = 0.0;  // k ln2
  T offset = 0;        // shift rounded to T: the origin of the linear sums

  // False when seed is not finite or too large for the fold.
  bool init(double seed) {
    if (!(std::fabs(seed) <= (kMaxFoldK - 256.0) * kLn2d)) return false;
    const double k = std::nearbyint(seed * kLog2ed);
    constexpr int b = FoldBits<T>::kBias;
    magic = V::set1(static_cast<T>(FoldBits<T>::kMagic + (b - k)));  // exact: an integer < 2^23
    lo = V::set1(static_cast<T>((k - b + 0.25) * kLn2d));              // n = k - b there: +0
    hi = V::set1(static_cast<T>((k + b - 1) * kLn2d));                 // n <= k + b - 1
    shift = k * kLn2d;
    offset = static_cast<T>(shift);
    return true;
  }
  V operator()(V x) const {
    V xc = max(lo, x);  // constant first: NaN survives
    if constexpr (kClampHigh) xc = min(hi, xc);
    V n;
    const V p = exp_reduced(xc, &n);
    // NaN: p is NaN, and NaN times the garbage scale stays NaN.
    return p * pow2_low_bits(n + magic);
  }
};

// e^{x - m} with the full exp (the exact path: m is the row max).
template <class T>
struct MaxShiftedExp {
  using V = Vec<T>;
  V m;
  V operator()(V x) const { return exp(x - m); }
};

// ---------------------------------------------------------------------------------------
// Rows engine

// Sums of one pass over a row (off = the origin of the linear sums):
//   exp_sum = Σ e^{x - shift}, wx = Σ w (x - off), wy = Σ w y', wyx = Σ w y' (x - off),
// with y' = (1 - ε) y + ε/C (probability targets) and w = 1 without weights.
struct RowSums {
  double exp_sum = 0.0, wx = 0.0, wy = 0.0, wyx = 0.0;
};

// S: the storage type of the row and its targets (half.hpp); weights and stored terms are in
// its compute type T.
template <class S>
struct RowOpts {
  using T = Compute<S>;
  const T* w = nullptr;  // class weights (kWeighted)
  const S* y = nullptr;  // the row's probability targets (kProb)
  T* store = nullptr;    // the row's exp terms are written here (kStore)
  T one_minus_eps = 1, eps_over_c = 0;
};

// Which sums a row pass keeps besides Σ e.
template <bool kStoreV, bool kLinearV, bool kProbV, bool kWeightedV>
struct RowFlags {
  static constexpr bool kStore = kStoreV, kLinear = kLinearV, kProb = kProbV, kWeighted = kWeightedV;
};
using PlainRow = RowFlags<false, false, false, false>;

// A job run at the offsets of a row pass, vector by vector: side(i, count) with count == kLanes
// for full vectors. softmax_rows writes the previous row's output with it, so that every step
// mixes exp work with stores instead of alternating an exp pass and a store pass.
struct NoSide {
  void operator()(std::int64_t, std::int64_t) const {}
};

template <class F, class S, class Exp, class Side = NoSide, class T = Compute<S>>
RowSums row_pass(const S* x, std::int64_t n, const Exp& ex, T off, const RowOpts<S>& o, const Side& side = Side{}) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr bool kLin = F::kLinear || F::kProb;
  constexpr int U = kLin ? 2 : 4;  // accumulators per sum: enough to hide exp's latency
  constexpr std::int64_t kStep = U * L;
  // Sums that do not depend on the order of the terms (no weights, targets, stores or side
  // job): bfloat16 rows then load two vectors at a time (Vec::load_pairs: a load and two
  // integer ops, where one vector's shift-and-widen takes a load and two).
  constexpr bool kSumsOnly = std::is_same_v<S, Bf16> && !F::kWeighted && !F::kProb && !F::kStore &&
                             std::is_same_v<Side, NoSide>;
  const V zero = V::set1(T(0)), off_v = V::set1(off);
  const V ome = V::set1(o.one_minus_eps), eoc = V::set1(o.eps_over_c);
  V e_acc[U], wx_acc[U], wy_acc[U], wyx_acc[U];
  SumAcc<T> e_tot, wx_tot, wy_tot, wyx_tot;
  auto reset = [&] {  // only the sums this pass keeps: the others would be stored for nothing
    for (int u = 0; u < U; ++u) {
      e_acc[u] = zero;
      if constexpr (F::kLinear) wx_acc[u] = zero;
      if constexpr (F::kProb) wy_acc[u] = wyx_acc[u] = zero;
    }
  };
  // The U accumulators added pairwise in T, then one widening (see kWidenEvery).
  auto flush = [&] {
    e_tot.add(pairwise_sum(e_acc));
    if constexpr (F::kLinear) wx_tot.add(pairwise_sum(wx_acc));
    if constexpr (F::kProb) {
      wy_tot.add(pairwise_sum(wy_acc));
      wyx_tot.add(pairwise_sum(wyx_acc));
    }
    reset();
  };
  // One vector of terms; w_v is ignored without weights, y_v without probability targets.
  auto body = [&](int u, V x_v, V w_v, V y_v, T* store_at) {
    const V e = ex(x_v);
    if constexpr (F::kStore) e.store(store_at);
    e_acc[u] = e_acc[u] + e;
    if constexpr (kLin) {
      const V d = x_v - off_v;
      if constexpr (F::kLinear) wx_acc[u] = F::kWeighted ? fma(w_v, d, wx_acc[u]) : wx_acc[u] + d;
      if constexpr (F::kProb) {
        const V yp = fma(y_v, ome, eoc);
        const V wy = F::kWeighted ? w_v * yp : yp;
        wy_acc[u] = wy_acc[u] + wy;
        wyx_acc[u] = fma(wy, d, wyx_acc[u]);
      }
    }
  };
  reset();
  std::int64_t i = 0;
  while (i + kStep <= n) {
    const std::int64_t block_end = std::min(n, i + kWidenEvery * kStep);
    for (; i + kStep <= block_end; i += kStep) {
      for (std::int64_t b = 0; b < kStep * static_cast<std::int64_t>(sizeof(S)); b += 64) {
        FASTLOSS_PREFETCH(reinterpret_cast<const char*>(x + i) + kPrefetchBytes + b);
        if constexpr (F::kProb) FASTLOSS_PREFETCH(reinterpret_cast<const char*>(o.y + i) + kPrefetchBytes + b);
        if constexpr (F::kStore) FASTLOSS_PREFETCH_W(reinterpret_cast<char*>(o.store + i) + kPrefetchBytes + b);
      }
      // Stored terms wider than x (half x: float32 terms) take a second line per line of x.
      if constexpr (F::kStore && sizeof(T) > sizeof(S)) {
        for (std::int64_t b = kStep * static_cast<std::int64_t>(sizeof(S));
             b < kStep * static_cast<std::int64_t>(sizeof(T)); b += 64)
          FASTLOSS_PREFETCH_W(reinterpret_cast<char*>(o.store + i) + kPrefetchBytes + b);
      }
      if constexpr (kSumsOnly) {
        // bfloat16 taking only sums: the even and odd values of 2L, one load (Vec::load_pairs).
        for (int u = 0; u < U; u += 2) {
          V even, odd;
          V::load_pairs(x + i + u * L, even, odd);
          body(u, even, zero, zero, nullptr);
          body(u + 1, odd, zero, zero, nullptr);
        }
      } else {
        for (int u = 0; u < U; ++u) {
          const std::int64_t j = i + u * L;
          body(u, V::load(x + j), F::kWeighted ? V::load(o.w + j) : zero, F::kProb ? V::load(o.y + j) : zero,
               F::kStore ? o.store + j : nullptr);
          side(j, L);
        }
      }
    }
    flush();
  }
  for (; i + L <= n; i += L) {
    body(0, V::load(x + i), F::kWeighted ? V::load(o.w + i) : zero, F::kProb ? V::load(o.y + i) : zero,
         F::kStore ? o.store + i : nullptr);
    side(i, L);
  }
  if (i < n) {
    side(i, n - i);
    // -inf is exp's identity for Σ; the linear sums get x = off (d = 0) and w = 0.
    const std::int64_t r = n - i;
    const V e = ex(V::load_n(x + i, r, -std::numeric_limits<T>::infinity()));
    if constexpr (F::kStore) e.store_n(o.store + i, r);
    e_acc[0] = e_acc[0] + e;
    if constexpr (kLin) {
      const V d = V::load_n(x + i, r, off) - off_v;
      const V w_v = F::kWeighted ? V::load_n(o.w + i, r, 0) : keep_first(V::set1(T(1)), r);
      if constexpr (F::kLinear) wx_acc[0] = fma(w_v, d, wx_acc[0]);
      if constexpr (F::kProb) {
        const V wy = w_v * fma(V::load_n(o.y + i, r, 0), ome, eoc);
        wy_acc[0] = wy_acc[0] + wy;
        wyx_acc[0] = fma(wy, d, wyx_acc[0]);
      }
    }
  }
  flush();
  RowSums s;
  s.exp_sum = e_tot.total();
  if constexpr (F::kLinear) s.wx = wx_tot.total();
  if constexpr (F::kProb) {
    s.wy = wy_tot.total();
    s.wyx = wyx_tot.total();
  }
  return s;
}

// The row max (-inf for an empty row). NaN may or may not survive: callers detect it through Σ.
template <class S, class T = Compute<S>>
T row_max(const S* x, std::int64_t n) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const T ninf = -std::numeric_limits<T>::infinity();
  V m0 = V::set1(ninf), m1 = m0, m2 = m0, m3 = m0;
  std::int64_t i = 0;
  for (; i + 4 * L <= n; i += 4 * L) {
    m0 = max(m0, V::load(x + i));
    m1 = max(m1, V::load(x + i + L));
    m2 = max(m2, V::load(x + i + 2 * L));
    m3 = max(m3, V::load(x + i + 3 * L));
  }
  for (; i < n; i += L) m0 = max(m0, V::load_n(x + i, std::min<std::int64_t>(L, n - i), ninf));
  return reduce_max(max(max(m0, m1), max(m2, m3)));
}

// lse of a row whose finite max is not available or not usable: torch's answer for the
// non-finite cases (NaN if any NaN, else +inf if any +inf, else -inf).
template <class S>
double nonfinite_lse(const S* x, std::int64_t n, std::int64_t stride) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < n; ++c) {
    const double v = load_one(x + c * stride);
    if (v != v) return v;
    m = v > m ? v : m;
  }
  return m;
}

// What a row pass found: lse = base + rel with base the shift (or the max) and rel = log Σ,
// kept apart so that lse - x_t = (base - x_t) + rel does not lose rel against a huge base
// (rows of ±1e300); `off` is the origin of the linear sums. A non-finite row has finite =
// false and base = torch's lse (NaN, +inf or -inf), rel = 0.
struct RowLse {
  double base, rel, off;
  RowSums sums;
  bool finite;
  double lse() const { return base + rel; }
};

// lse and sums of one row: the folded one-pass path, or the exact two-pass one (see header).
// `hint` is a value of the row known in advance (the target logit), or NaN.
// side: a job for the offsets [0, n), run once, inside the fast pass when there is one.
template <class F, class S, class Side = NoSide>
RowLse row_lse(const S* x, std::int64_t n, double hint, const RowOpts<S>& o, const Side& side = Side{}) {
  using T = Compute<S>;
  using V = Vec<T>;
  bool side_done = false;
  if (n > 0) {
    const double m0 = reduce_max(
        V::load_n(x, std::min<std::int64_t>(V::kLanes, n), -std::numeric_limits<T>::infinity()));
    const double seed = hint > m0 ? hint : m0;  // false for a NaN hint
    FoldedExp<T> fe;
    if (fe.init(seed)) {
      const RowSums s = row_pass<F>(x, n, fe, fe.offset, o, side);
      side_done = true;
      if (s.exp_sum >= 0.5 && s.exp_sum <= 0x1p100) return {fe.shift, std::log(s.exp_sum), double(fe.offset), s, true};
    }
  }
  if constexpr (!std::is_same_v<Side, NoSide>) {
    if (!side_done)
      for (std::int64_t i = 0; i < n; i += V::kLanes) side(i, std::min<std::int64_t>(V::kLanes, n - i));
  }
  const T m = row_max(x, n);
  if (std::fabs(m) <= std::numeric_limits<T>::max()) {
    const RowSums s = row_pass<F>(x, n, MaxShiftedExp<T>{V::set1(m)}, m, o);
    // Σ >= 1 unless it is NaN (a NaN in the row).
    if (s.exp_sum >= 1.0) return {double(m), std::log(s.exp_sum), double(m), s, true};
    return {s.exp_sum, 0.0, double(m), s, false};
  }
  return {nonfinite_lse(x, n, 1), 0.0, double(m), RowSums{}, false};
}
}  // namespace fastloss::FASTLOSS_ISA
