// The softmax family over a class axis, and the row machinery that cross_entropy.hpp builds on:
//   lse(x) = log Σ_c e^{x_c},   softmax(x)_c = e^{x_c - lse},   log_softmax(x)_c = x_c - lse.
// x is C-contiguous (n_outer, C, n_inner): the class axis has stride n_inner (1 for the last
// axis), so axis=1 of (N, C, d1, ...) is handled in place, never through a transposed copy.
//
// Two engines (KERNELS.md §3):
//
// Rows (n_inner == 1, C > kMaxLaneClasses): one row at a time, vectorized along the classes.
//   The fast pass reads each logit once with a fixed shift s = k ln2, k = round(seed / ln2),
//   seed = max(the row's first vector, the target logit when there is one):
//     e^{x - s} = p 2^{n - k},  (p, n) = exp_reduced(x)  (math/exp.hpp),
//   and n - k goes straight into the exponent field (pow2_low_bits of the magic-added n), so
//   every term carries exp's own error however far the row max lies above s: confident rows
//   (target 20-40 above the rest) and rows offset by ±50 keep full accuracy (KERNELS.md §3,
//   "The catch"). x is clamped to [(k - 126.75) ln2, (k + 126) ln2] first (constants first,
//   so NaN survives): below, the term is exactly +0, so -inf (masked) classes stay exact;
//   above, it is >= 2^126, far beyond the accepted Σ <= 2^100. Σ is accumulated in float32
//   lanes, widened into float64 every kWidenEvery steps (a lane that holds the dominant term 1
//   then drops at most kWidenEvery - 1 terms below its half-ulp: confident rows need those),
//   and lse = s + log Σ in float64. Σ >= e^{-ln2/2} always holds for a finite row, because
//   the seed is one of its values. A row whose seed is not finite, |k| > kMaxFoldK, or whose
//   Σ is not in [0.5, 2^100] (a max far above the seed, +inf, NaN) is redone exactly: a max
//   pass, then Σ e^{x - max} with the full exp. Software prefetch runs kPrefetchBytes ahead
//   of the stream (into the next row): the loop is throughput-bound and the hardware
//   prefetcher alone falls behind. softmax writes the terms e^{x - s} in the same pass and
//   scales them by 1/Σ while the row is still in cache; log_softmax writes
//   (x - lse_hi) - lse_lo from the cached row; both emit row r - 1's output inside row r's
//   pass (softmax_rows).
//
// Lanes (n_inner > 1, or n_inner == 1 with C <= kMaxLaneClasses): one row per lane, kGroup
//   rows per group (2 vectors: 16 on AVX2). For n_inner > 1 the lanes are the contiguous inner
//   positions (axis=1 of (N, C, H, W)), read in place: per lane a max over the classes, then
//   Σ e^{x - max} (float32 partials widened every 8 classes beyond 16), lse = max + log Σ with
//   the vector log, the per-row log included. For rows (n_inner == 1) the group is loaded
//   through kLanes x kLanes register transposes (Vec::load_transposed; a gather costs ~11
//   cycles on Zen 3, as much as a scalar transpose) and summed in the same pass, shifted by
//   m0 = the max of the first kLanes classes (the exact max when C <= kLanes). A later class
//   above m0 is still summed accurately while Σ <= kMaxSeedSum: its argument x - m0 < 8.4
//   rounds by < 3e-7. A lane whose Σ ends above kMaxSeedSum (beyond which the float32 log of
//   Σ would also lose accuracy) or is not a number sends its group to the exact two-pass code
//   on a class-major copy. Measured on Zen 3 (AVX2) for N=1M, C=10: 2.3-2.5x the
//   exp limit, with the exp pass ~half of it and transposes, per-row targets and logs the rest.
//
// Threads: work is cut into chunks of rows (or lane groups) whose size depends only on the
// shape, so every thread count gives the same bits.
#pragma once

#include <type_traits>

#include "math/exp.hpp"
#include "math/log.hpp"

// Software prefetch for reading: GCC and Clang only, a no-op elsewhere.
#ifndef FASTLOSS_PREFETCH
#if defined(__GNUC__) || defined(__clang__)
#define FASTLOSS_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define FASTLOSS_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#define FASTLOSS_PREFETCH(p) ((void)(p))
#define FASTLOSS_PREFETCH_W(p) ((void)(p))
#endif
#endif

namespace fastloss::FASTLOSS_ISA {

constexpr double kLn2d = 0.693147180559945309417232121458;
constexpr double kLog2ed = 1.44269504088896340735992468100;
// |k| bound of the folded shift: keeps |x| <~ 22700 inside exp_reduced's exact reduction.
constexpr double kMaxFoldK = 32768.0;
// Rows of at most this many classes (n_inner == 1) run on the lanes engine.
constexpr std::int64_t kMaxLaneClasses = 48;
// Vectors per accumulator between two widenings of the float32 partial sums.
constexpr int kWidenEvery = 8;
constexpr std::int64_t kLaneNoWiden = 16;
constexpr std::int64_t kPrefetchBytes = 2048;

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

template <class T>
struct RowOpts {
  const T* w = nullptr;  // class weights (kWeighted)
  const T* y = nullptr;  // the row's probability targets (kProb)
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

template <class F, class T, class Exp, class Side = NoSide>
RowSums row_pass(const T* x, std::int64_t n, const Exp& ex, T off, const RowOpts<T>& o, const Side& side = Side{}) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr bool kLin = F::kLinear || F::kProb;
  constexpr int U = kLin ? 2 : 4;  // accumulators per sum: enough to hide exp's latency
  constexpr std::int64_t kStep = U * L;
  const V zero = V::set1(T(0)), off_v = V::set1(off);
  const V ome = V::set1(o.one_minus_eps), eoc = V::set1(o.eps_over_c);
  V e_acc[U], wx_acc[U], wy_acc[U], wyx_acc[U];
  SumAcc<T> e_tot, wx_tot, wy_tot, wyx_tot;
  auto reset = [&] {
    for (int u = 0; u < U; ++u) e_acc[u] = wx_acc[u] = wy_acc[u] = wyx_acc[u] = zero;
  };
  auto flush = [&] {
    for (int u = 0; u < U; ++u) {
      e_tot.add(e_acc[u]);
      if constexpr (F::kLinear) wx_tot.add(wx_acc[u]);
      if constexpr (F::kProb) {
        wy_tot.add(wy_acc[u]);
        wyx_tot.add(wyx_acc[u]);
      }
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
      for (std::int64_t b = 0; b < kStep * static_cast<std::int64_t>(sizeof(T)); b += 64) {
        FASTLOSS_PREFETCH(reinterpret_cast<const char*>(x + i) + kPrefetchBytes + b);
        if constexpr (F::kProb) FASTLOSS_PREFETCH(reinterpret_cast<const char*>(o.y + i) + kPrefetchBytes + b);
        if constexpr (F::kStore) FASTLOSS_PREFETCH_W(reinterpret_cast<char*>(o.store + i) + kPrefetchBytes + b);
      }
      for (int u = 0; u < U; ++u) {
        const std::int64_t j = i + u * L;
        body(u, V::load(x + j), F::kWeighted ? V::load(o.w + j) : zero, F::kProb ? V::load(o.y + j) : zero,
             F::kStore ? o.store + j : nullptr);
        side(j, L);
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
template <class T>
T row_max(const T* x, std::int64_t n) {
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
template <class T>
double nonfinite_lse(const T* x, std::int64_t n, std::int64_t stride) {
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t c = 0; c < n; ++c) {
    const double v = x[c * stride];
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
template <class F, class T, class Side = NoSide>
RowLse row_lse(const T* x, std::int64_t n, double hint, const RowOpts<T>& o, const Side& side = Side{}) {
  using V = Vec<T>;
  bool side_done = false;
  if (n > 0) {
    const double m0 = reduce_max(V::load_n(x, std::min<std::int64_t>(V::kLanes, n), -std::numeric_limits<T>::infinity()));
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

// ---------------------------------------------------------------------------------------
// Lanes engine

// Lanes that are contiguous in memory (the inner axis): class c of lane block u at
// base + c * class_stride + u * L; `valid` lanes in all (the last tile may be partial).
template <class T>
struct ContiguousLanes {
  const T* base;
  std::int64_t class_stride;
  std::int64_t valid;
  Vec<T> load(std::int64_t c, int u) const {
    constexpr std::int64_t L = Vec<T>::kLanes;
    const std::int64_t left = valid - u * L;
    const T* p = base + c * class_stride + u * L;
    return left >= L ? Vec<T>::load(p) : Vec<T>::load_n(p, left, 0);
  }
};

// Per-lane float64 accumulation of Vec<T> values, read back as a Vec<T>.
template <class T>
struct LaneSum;
template <>
struct LaneSum<float> {
  VecD lo = VecD::set1(0.0), hi = VecD::set1(0.0);
  void add(VecF v) { widen_add(lo, hi, v); }
  VecF value() const {
    double d[VecF::kLanes];
    lo.store(d);
    if constexpr (VecF::kLanes > 1) hi.store(d + VecD::kLanes);
    float f[VecF::kLanes];
    for (int i = 0; i < VecF::kLanes; ++i) f[i] = static_cast<float>(d[i]);
    return VecF::load(f);
  }
};
template <>
struct LaneSum<double> {
  VecD acc = VecD::set1(0.0);
  void add(VecD v) { acc = acc + v; }
  VecD value() const { return acc; }
};

template <class T, int U>
struct LaneStats {
  Vec<T> m[U], sum[U], wx[U], wy[U], wyx[U];  // linear sums are relative to m
};

// Pass 1 (max) and pass 2 (Σ e^{x - m} and the linear sums of RowSums, relative to m) over
// the C classes of U lane blocks. store_exp(c, u, e) receives the terms when F::kStore.
// Everything stays in locals until the end: st may alias nothing, but the compiler cannot know
// that, and a running max or sum kept in memory is a store-forwarding chain per class.
template <class F, class T, int U, class Src, class StoreExp>
void lane_stats(const Src& x, const Src& y, std::int64_t n_classes, const T* w, T one_minus_eps, T eps_over_c,
                StoreExp&& store_exp, LaneStats<T, U>& st) {
  using V = Vec<T>;
  const V zero = V::set1(T(0));
  V m[U];
  for (int u = 0; u < U; ++u) m[u] = V::set1(-std::numeric_limits<T>::infinity());
  for (std::int64_t c = 0; c < n_classes; ++c)
    for (int u = 0; u < U; ++u) m[u] = max(m[u], x.load(c, u));
  FoldedExp<T, false> ex;
  ex.init(0.0);
  const V ome = V::set1(one_minus_eps), eoc = V::set1(eps_over_c);
  V e_acc[U], wx_acc[U], wy_acc[U], wyx_acc[U];
  for (int u = 0; u < U; ++u) e_acc[u] = wx_acc[u] = wy_acc[u] = wyx_acc[u] = zero;
  auto step = [&](std::int64_t c) {
    const V w_c = V::set1(F::kWeighted ? w[c] : T(1));
    for (int u = 0; u < U; ++u) {
      const V d = x.load(c, u) - m[u];
      const V e = ex(d);
      if constexpr (F::kStore) store_exp(c, u, e);
      e_acc[u] = e_acc[u] + e;
      if constexpr (F::kLinear) wx_acc[u] = F::kWeighted ? fma(w_c, d, wx_acc[u]) : wx_acc[u] + d;
      if constexpr (F::kProb) {
        const V yp = fma(y.load(c, u), ome, eoc);
        const V wy = F::kWeighted ? w_c * yp : yp;
        wy_acc[u] = wy_acc[u] + wy;
        wyx_acc[u] = fma(wy, d, wyx_acc[u]);
      }
    }
  };
  // Up to kLaneNoWiden classes the float32 lane sums are kept: a lane holding the dominant 1
  // drops at most 15 terms below its half-ulp (< 5e-7 in all, within SPEC §4's 1e-6).
  if (n_classes <= kLaneNoWiden) {
    for (std::int64_t c = 0; c < n_classes; ++c) step(c);
    for (int u = 0; u < U; ++u) {
      st.m[u] = m[u];
      st.sum[u] = e_acc[u];
      st.wx[u] = wx_acc[u];
      st.wy[u] = wy_acc[u];
      st.wyx[u] = wyx_acc[u];
    }
    return;
  }
  LaneSum<T> e_tot[U], wx_tot[U], wy_tot[U], wyx_tot[U];
  for (std::int64_t c0 = 0; c0 < n_classes; c0 += kWidenEvery) {
    const std::int64_t c1 = std::min(n_classes, c0 + kWidenEvery);
    for (std::int64_t c = c0; c < c1; ++c) step(c);
    for (int u = 0; u < U; ++u) {
      e_tot[u].add(e_acc[u]);
      if constexpr (F::kLinear) wx_tot[u].add(wx_acc[u]);
      if constexpr (F::kProb) {
        wy_tot[u].add(wy_acc[u]);
        wyx_tot[u].add(wyx_acc[u]);
      }
      e_acc[u] = wx_acc[u] = wy_acc[u] = wyx_acc[u] = zero;
    }
  }
  for (int u = 0; u < U; ++u) {
    st.m[u] = m[u];
    st.sum[u] = e_tot[u].value();
    if constexpr (F::kLinear) st.wx[u] = wx_tot[u].value();
    if constexpr (F::kProb) {
      st.wy[u] = wy_tot[u].value();
      st.wyx[u] = wyx_tot[u].value();
    }
  }
}


// Cuts n_items work items into chunks that depend only on n_items and the work per item.
inline std::int64_t min_chunk_items(std::int64_t work_per_item) {
  const std::int64_t target = 1 << 15;  // elements per chunk, at least
  return std::max<std::int64_t>(1, target / std::max<std::int64_t>(1, work_per_item));
}

// Lane blocks per group: two vectors of lanes hide the exp latency without spilling.
constexpr int kLaneBlocks = 2;

// Lanes per group, and the scratch a group of rows (n_inner == 1) is transposed into: class c
// of lane j at scratch[c * kGroup + j], with kLanes spare class rows for the transposing stores.
template <class T>
constexpr std::int64_t kGroup = kLaneBlocks * Vec<T>::kLanes;
template <class T>
constexpr std::int64_t kScratch = (kMaxLaneClasses + Vec<T>::kLanes) * kGroup<T>;
// The rows engine streams ahead with prefetch; the lanes engine fetches kLaneAhead groups ahead.
constexpr std::int64_t kLaneAhead = 4;

template <class T>
inline void prefetch_span(const T* p, std::int64_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  for (std::int64_t b = 0; b < n * static_cast<std::int64_t>(sizeof(T)); b += 64) FASTLOSS_PREFETCH(c + b);
}

// Rows [0, rows) of C classes (row-major, rows + kLanes readable elements past the last row's
// start... see with_lane_group) into scratch, class-major: kLanes x kLanes register transposes.
template <class T>
void transpose_in(const T* src, std::int64_t C, T* scratch) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for (int u = 0; u < kLaneBlocks; ++u)
    for (std::int64_t c0 = 0; c0 < C; c0 += L) {
      V t[L];
      V::load_transposed(src + u * L * C + c0, C, t);
      for (std::int64_t i = 0; i < L; ++i) t[i].store(scratch + (c0 + i) * G + u * L);
    }
}

// The inverse: class-major scratch back into `rows` rows of C classes at dst (row-major).
template <class T>
void transpose_out(const T* scratch, std::int64_t C, std::int64_t rows, T* dst) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for (int u = 0; u < kLaneBlocks && u * L < rows; ++u)
    for (std::int64_t c0 = 0; c0 < C; c0 += L) {
      V t[L];
      V::load_transposed(scratch + c0 * G + u * L, G, t);
      const std::int64_t n = std::min(L, C - c0);
      for (std::int64_t i = 0; i < L && u * L + i < rows; ++i) {
        T* row = dst + (u * L + i) * C + c0;
        if (n == L) t[i].store(row); else t[i].store_n(row, n);
      }
    }
}

// A group of kGroup rows of C classes (n_inner == 1), row-major at `rows` with G*C + L - 1
// readable elements, and a kScratch<T> scratch for a class-major copy.
template <class T>
struct RowBlockLanes {
  const T* rows;
  std::int64_t C;
  T* scratch;
  ContiguousLanes<T> class_major() const {
    transpose_in(rows, C, scratch);
    return {scratch, kGroup<T>, kGroup<T>};
  }
};

// The largest Σ e^{x - m0} the single pass below accepts: log Σ <= 8.4 keeps the float32 log
// of the epilogue within 5e-7 absolute.
constexpr double kMaxSeedSum = 4096.0;

// lane_stats for a group of rows, in one pass straight from the transposing loads (no
// scratch, no separate max pass): the shift m0 is the max of the first kLanes classes (the
// exact max when C <= kLanes), and a later class above it is still summed exactly by the
// folded exp. If a lane's Σ exceeds kMaxSeedSum or is not a number (a max far above m0, an
// all -inf first block, +inf, NaN), the group is redone by the exact two-pass lane_stats on a
// class-major copy.
template <class F, class T, int U, class StoreExp>
void lane_stats(const RowBlockLanes<T>& x, const RowBlockLanes<T>& y, std::int64_t n_classes, const T* w,
                T one_minus_eps, T eps_over_c, StoreExp&& store_exp, LaneStats<T, U>& st) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const std::int64_t C = n_classes;
  const V zero = V::set1(T(0)), limit = V::set1(static_cast<T>(kMaxSeedSum));
  const V ome = V::set1(one_minus_eps), eoc = V::set1(eps_over_c);
  FoldedExp<T> ex;
  ex.init(0.0);
  const bool widen = C > kLaneNoWiden;
  bool ok = true;
  for (int u = 0; u < U; ++u) {
    const T* xr = x.rows + u * L * C;
    const T* yr = F::kProb ? y.rows + u * L * C : nullptr;
    V m0 = zero, e_acc = zero, wx_acc = zero, wy_acc = zero, wyx_acc = zero;
    LaneSum<T> e_tot, wx_tot, wy_tot, wyx_tot;
    auto term = [&](std::int64_t c, V xv, V yv) {
      const V d = xv - m0;
      const V e = ex(d);
      if constexpr (F::kStore) store_exp(c, u, e);
      e_acc = e_acc + e;
      const V w_c = V::set1(F::kWeighted ? w[c] : T(1));
      if constexpr (F::kLinear) wx_acc = F::kWeighted ? fma(w_c, d, wx_acc) : wx_acc + d;
      if constexpr (F::kProb) {
        const V yp = fma(yv, ome, eoc);
        const V wy = F::kWeighted ? w_c * yp : yp;
        wy_acc = wy_acc + wy;
        wyx_acc = fma(wy, d, wyx_acc);
      }
    };
    for (std::int64_t c0 = 0; c0 < C; c0 += L) {
      V t[L], ty[L];
      V::load_transposed(xr + c0, C, t);
      if constexpr (F::kProb) V::load_transposed(yr + c0, C, ty);
      const std::int64_t n = std::min(L, C - c0);
      if (c0 == 0) {
        m0 = t[0];
        for (std::int64_t i = 1; i < n; ++i) m0 = max(m0, t[i]);
      }
      if (n == L) {
        for (std::int64_t i = 0; i < L; ++i) term(c0 + i, t[i], F::kProb ? ty[i] : zero);
      } else {
        for (std::int64_t i = 0; i < n; ++i) term(c0 + i, t[i], F::kProb ? ty[i] : zero);
      }
      if (widen) {
        e_tot.add(e_acc);
        if constexpr (F::kLinear) wx_tot.add(wx_acc);
        if constexpr (F::kProb) {
          wy_tot.add(wy_acc);
          wyx_tot.add(wyx_acc);
        }
        e_acc = wx_acc = wy_acc = wyx_acc = zero;
      }
    }
    st.m[u] = m0;
    st.sum[u] = widen ? e_tot.value() : e_acc;
    if constexpr (F::kLinear) st.wx[u] = widen ? wx_tot.value() : wx_acc;
    if constexpr (F::kProb) {
      st.wy[u] = widen ? wy_tot.value() : wy_acc;
      st.wyx[u] = widen ? wyx_tot.value() : wyx_acc;
    }
    ok = ok && none(gt(st.sum[u], limit) | is_nan(st.sum[u]));
  }
  if (!ok) {
    const ContiguousLanes<T> cy = F::kProb ? y.class_major() : ContiguousLanes<T>{nullptr, kGroup<T>, kGroup<T>};
    lane_stats<F, T, U>(x.class_major(), cy, n_classes, w, one_minus_eps, eps_over_c, store_exp, st);
  }
}

// Lane groups of an (n_outer, C, n_inner) array: for n_inner == 1, groups of kGroup rows; else
// tiles of kGroup inner positions of one outer index.
inline std::int64_t lane_items(std::int64_t n_outer, std::int64_t n_inner, std::int64_t G) {
  return n_inner == 1 ? (n_outer + G - 1) / G : n_outer * ((n_inner + G - 1) / G);
}

// Calls fn(row0, lanes, src_x, src_y) for lane group q, with row0 the flat (outer, inner) index
// of its lane 0: RowBlockLanes over the rows in place (n_inner == 1; near the end of the array
// a zero-padded copy, since the transposing loads read up to G*C + L - 1 elements), or
// ContiguousLanes over a tile of the inner axis. sx, sy: kScratch<T> elements each.
template <class T, class Fn>
void with_row_group(const T* x, const T* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner,
                    std::int64_t q, T* sx, T* sy, Fn&& fn) {
  constexpr std::int64_t L = Vec<T>::kLanes, G = kGroup<T>;
  if (n_inner == 1) {
    const std::int64_t row0 = q * G, rows = std::min(G, n_outer - row0);
    if (row0 + (kLaneAhead + 1) * G <= n_outer) {
      prefetch_span(x + (row0 + kLaneAhead * G) * C, G * C);
      if (y) prefetch_span(y + (row0 + kLaneAhead * G) * C, G * C);
    }
    const T* gx = x + row0 * C;
    const T* gy = y ? y + row0 * C : nullptr;
    if ((row0 + G) * C + L - 1 <= n_outer * C) {
      fn(row0, rows, RowBlockLanes<T>{gx, C, sx}, RowBlockLanes<T>{gy, C, sy});
      return;
    }
    // Zero only what the transposes read (G*C + L - 1 elements): small calls come here.
    T pad_x[kMaxLaneClasses * G + L], pad_y[kMaxLaneClasses * G + L];
    const std::size_t used = static_cast<std::size_t>(rows * C), span = static_cast<std::size_t>(G * C + L);
    std::memcpy(pad_x, gx, sizeof(T) * used);
    std::memset(pad_x + used, 0, sizeof(T) * (span - used));
    if (gy) {
      std::memcpy(pad_y, gy, sizeof(T) * used);
      std::memset(pad_y + used, 0, sizeof(T) * (span - used));
    }
    fn(row0, rows, RowBlockLanes<T>{pad_x, C, sx}, RowBlockLanes<T>{gy ? pad_y : nullptr, C, sy});
    return;
  }
  const std::int64_t tiles = (n_inner + G - 1) / G;
  const std::int64_t outer = q / tiles, s0 = (q % tiles) * G, lanes = std::min(G, n_inner - s0);
  const std::int64_t off = outer * C * n_inner + s0;
  fn(outer * n_inner + s0, lanes, ContiguousLanes<T>{x + off, n_inner, lanes},
     ContiguousLanes<T>{y ? y + off : nullptr, n_inner, lanes});
}

// As with_row_group, but rows always come class-major (transposed into sx, sy first), so fn
// sees ContiguousLanes in both layouts (evaluate.hpp reads the classes of a group repeatedly).
template <class T, class Fn>
void with_lane_group(const T* x, const T* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner,
                     std::int64_t q, T* sx, T* sy, Fn&& fn) {
  with_row_group(x, y, n_outer, C, n_inner, q, sx, sy, [&](std::int64_t row0, std::int64_t lanes, const auto& sxl,
                                                           const auto& syl) {
    if constexpr (std::is_same_v<std::decay_t<decltype(sxl)>, RowBlockLanes<T>>) {
      const ContiguousLanes<T> cy = y ? syl.class_major() : ContiguousLanes<T>{nullptr, kGroup<T>, kGroup<T>};
      fn(row0, lanes, sxl.class_major(), cy);
    } else {
      fn(row0, lanes, sxl, syl);
    }
  });
}

// with_row_group over every group, in parallel chunks fixed by the shape.
template <class T, class Fn>
void for_lane_groups(const T* x, const T* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner,
                     int n_threads, Fn&& fn) {
  constexpr std::int64_t G = kGroup<T>;
  parallel_chunks(lane_items(n_outer, n_inner, G), min_chunk_items(G * C), n_threads,
                  [&](std::int64_t begin, std::int64_t end) {
    T sx[kScratch<T>], sy[kScratch<T>];
    for (std::int64_t q = begin; q < end; ++q) with_row_group(x, y, n_outer, C, n_inner, q, sx, sy, fn);
  });
}

// ---------------------------------------------------------------------------------------
// Kernels

template <class T, class Out>
void logsumexp_kernel(const SoftmaxArgs& a) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const T* x = static_cast<const T*>(a.x);
  Out* out = static_cast<Out*>(a.out);
  const std::int64_t C = a.n_classes;
  if (a.n_inner == 1 && C > kMaxLaneClasses) {
    parallel_chunks(a.n_outer, min_chunk_items(C), a.n_threads, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r)
        out[r] = static_cast<Out>(row_lse<PlainRow>(x + r * C, C, std::numeric_limits<double>::quiet_NaN(), RowOpts<T>{}).lse());
    });
    return;
  }
  const std::int64_t cstride = a.n_inner;
  for_lane_groups(x, static_cast<const T*>(nullptr), a.n_outer, C, a.n_inner, a.n_threads,
                  [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y) {
    LaneStats<T, kLaneBlocks> st;
    lane_stats<PlainRow, T, kLaneBlocks>(src, src_y, C, nullptr, T(1), T(0), [](std::int64_t, int, V) {}, st);
    T res[kLaneBlocks * L];
    for (int u = 0; u < kLaneBlocks; ++u) (st.m[u] + log(st.sum[u])).store(res + u * L);
    for (std::int64_t j = 0; j < lanes; ++j) {
      double v = res[j];
      if (!(std::fabs(v) <= std::numeric_limits<double>::max())) {
        // Lane j's row: the same class stride, lane j's start.
        const T* row = a.n_inner == 1 ? x + (row0 + j) * C
                                      : x + ((row0 + j) / a.n_inner) * C * a.n_inner + (row0 + j) % a.n_inner;
        v = nonfinite_lse(row, C, cstride);
      }
      out[row0 + j] = static_cast<Out>(v);
    }
  });
}

template <class T>
void fill_nan(T* p, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) p[i] = std::numeric_limits<T>::quiet_NaN();
}

// softmax / log_softmax over rows (n_inner == 1), software-pipelined: the output of row r - 1
// (softmax: its terms, still in cache, times 1/Σ; log_softmax: (x - lse_hi) - lse_lo from its
// cached logits) is written inside row r's fast pass, at the same offsets, so the store stream
// overlaps the exp work instead of following it (measured 0-10% faster at one thread on the
// noisy Zen 3 development VM). Non-temporal stores of the output, tried to save the
// write-allocate read, were 1.4x slower there.
template <class T>
void softmax_rows(const T* x, T* out, std::int64_t n_rows, std::int64_t C, bool log_out, int n_threads) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  parallel_chunks(n_rows, min_chunk_items(C), n_threads, [&](std::int64_t begin, std::int64_t end) {
    // The pending row's output: nan (non-finite row), else scale (softmax) or hi, lo.
    std::int64_t pending = -1;
    bool pending_nan = false;
    V scale = V::set1(T(0)), hi_v = scale, lo_v = scale;
    auto emit = [&](std::int64_t i, std::int64_t n) {
      if (pending < 0) return;
      T* yr = out + pending * C + i;
      if (pending_nan) {
        V::set1(std::numeric_limits<T>::quiet_NaN()).store_n(yr, n);
        return;
      }
      if (!log_out) {
        if (n == L) (V::load(yr) * scale).store(yr); else (V::load_n(yr, n, 0) * scale).store_n(yr, n);
      } else {
        const T* xr = x + pending * C + i;
        if (n == L) ((V::load(xr) - hi_v) - lo_v).store(yr); else ((V::load_n(xr, n, 0) - hi_v) - lo_v).store_n(yr, n);
      }
    };
    auto set_pending = [&](std::int64_t r, const RowLse& res) {
      pending = r;
      pending_nan = !res.finite;
      if (!res.finite) return;
      if (!log_out) {
        scale = V::set1(static_cast<T>(1.0 / res.sums.exp_sum));
      } else {
        // lse as hi + lo: x - hi is exact near the max, so the largest outputs round once.
        // (base - hi) is exact, so lo keeps rel even where base absorbs it (rows of 1e300).
        const T hi = static_cast<T>(res.lse());
        hi_v = V::set1(hi);
        lo_v = V::set1(static_cast<T>((res.base - double(hi)) + res.rel));
      }
    };
    for (std::int64_t r = begin; r < end; ++r) {
      const T* xr = x + r * C;
      RowLse res;
      if (!log_out) {
        RowOpts<T> o;
        o.store = out + r * C;
        res = row_lse<RowFlags<true, false, false, false>>(xr, C, std::numeric_limits<double>::quiet_NaN(), o, emit);
      } else {
        res = row_lse<PlainRow>(xr, C, std::numeric_limits<double>::quiet_NaN(), RowOpts<T>{}, emit);
      }
      set_pending(r, res);
    }
    for (std::int64_t i = 0; i < C; i += L) emit(i, std::min(L, C - i));
  });
}

// softmax / log_softmax through the lanes engine. Rows (n_inner == 1) are computed in the
// class-major scratch and transposed back; tiles of the inner axis are written in place.
template <class T>
void softmax_lanes(const T* x, T* out, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner, bool log_out,
                   int n_threads) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for_lane_groups(x, static_cast<const T*>(nullptr), n_outer, C, n_inner, n_threads,
                  [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y) {
    constexpr bool kRows = std::is_same_v<std::decay_t<decltype(src)>, RowBlockLanes<T>>;
    // Class c of lane block u goes to res(c, u): the group's scratch (rows, transposed out at
    // the end) or out itself (tiles of the inner axis).
    T* res;
    std::int64_t res_stride;
    if constexpr (kRows) {
      res = src.scratch;
      res_stride = G;
    } else {
      res = out + (row0 / n_inner) * C * n_inner + row0 % n_inner;
      res_stride = n_inner;
    }
    auto put = [&](std::int64_t c, int u, V v) {
      const std::int64_t left = kRows ? L : lanes - u * L;
      T* p = res + c * res_stride + u * L;
      if (left >= L) v.store(p); else if (left > 0) v.store_n(p, left);
    };
    LaneStats<T, kLaneBlocks> st;
    if (!log_out) {
      lane_stats<RowFlags<true, false, false, false>, T, kLaneBlocks>(src, src_y, C, nullptr, T(1), T(0), put, st);
      V inv[kLaneBlocks];
      for (int u = 0; u < kLaneBlocks; ++u) inv[u] = V::set1(T(1)) / st.sum[u];
      const ContiguousLanes<T> terms{res, res_stride, kRows ? G : lanes};
      for (std::int64_t c = 0; c < C; ++c)
        for (int u = 0; u < kLaneBlocks; ++u) put(c, u, terms.load(c, u) * inv[u]);
    } else {
      // x is needed again for x - lse: class-major in the scratch (rows) or in place (tiles).
      ContiguousLanes<T> xs;
      if constexpr (kRows) xs = src.class_major(); else xs = src;
      lane_stats<PlainRow, T, kLaneBlocks>(xs, xs, C, nullptr, T(1), T(0), [](std::int64_t, int, V) {}, st);
      V lg[kLaneBlocks];
      for (int u = 0; u < kLaneBlocks; ++u) lg[u] = log(st.sum[u]);
      for (std::int64_t c = 0; c < C; ++c)
        for (int u = 0; u < kLaneBlocks; ++u) put(c, u, (xs.load(c, u) - st.m[u]) - lg[u]);
    }
    if constexpr (kRows) transpose_out(res, C, lanes, out + row0 * C);
    (void)src_y;
  });
}

template <class T>
void softmax_family(const SoftmaxArgs& a) {
  if (a.n_outer == 0 || a.n_inner == 0) return;
  if (a.kind == SoftmaxKind::kLogSumExp) {
    if (a.out_f64) logsumexp_kernel<T, double>(a); else logsumexp_kernel<T, T>(a);
    return;
  }
  const T* x = static_cast<const T*>(a.x);
  T* out = static_cast<T*>(a.out);
  const bool log_out = a.kind == SoftmaxKind::kLogSoftmax;
  if (a.n_classes == 0) return;
  if (a.n_inner == 1 && a.n_classes > kMaxLaneClasses)
    softmax_rows(x, out, a.n_outer, a.n_classes, log_out, a.n_threads);
  else
    softmax_lanes(x, out, a.n_outer, a.n_classes, a.n_inner, log_out, a.n_threads);
}

inline void softmax_f32(const SoftmaxArgs& a) { softmax_family<float>(a); }
inline void softmax_f64(const SoftmaxArgs& a) { softmax_family<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
