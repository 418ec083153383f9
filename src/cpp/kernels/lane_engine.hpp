// The lanes engine of the softmax family (docs/architecture.md): one row per lane.
//
// Lanes (n_inner > 1, or n_inner == 1 with C <= kMaxLaneClasses): one row per lane, kGroup
// rows per group (2 vectors: 16 on AVX2). For n_inner > 1 the lanes are the contiguous inner
// positions (axis=1 of (N, C, H, W)). A whole tile of C <= kMaxLaneClasses classes is first
// copied class-major into a scratch (copy_tile, prefetching every class row kTileAhead tiles
// ahead: C streams n_inner apart are more than the hardware prefetcher follows), because for
// n_inner a multiple of 1024 floats the C lines of a tile share one L1 and one L2 set, and a
// second pass over them in place reloads them from L3. Per lane then a max over the classes,
// then Σ e^{x - max}, the classes in pairs into two float32 sums (even and odd classes:
// kLanePairWiden bounds the error; widened into float64 every 24 classes beyond that), and the
// targets picked from the copy after the pass (pick_from_tile). The exp is lane_exp:
// e^{-(m - x)} with the load of x folded into the subtraction and the rounding to n done by
// the magic-add FMA (the same accuracy as exp_reduced). Partial tiles and longer rows are
// read in place (ContiguousLanes; <T, true>: a whole tile, no per-load tail tests).
// For rows (n_inner == 1) the group is loaded through kLanes x kLanes register transposes
// (Vec::load_transposed; a gather costs ~11 cycles on Zen 3, as much as a scalar transpose;
// load_transposed_n for the last, partial class block) and summed in the same pass. Rows of
// C <= kLaneFixed classes (16 on AVX2) are held in registers whole, with C a compile-time
// constant (fully unrolled): the shift is the exact row max, so the exp needs no upper
// clamp and no group falls back on finite data. Longer rows are shifted by m0 = the max of
// the first kLanes classes; a later class above m0 is still summed accurately while
// Σ <= kMaxSeedSum: its argument x - m0 < 8.4 rounds by < 3e-7. A lane whose Σ ends above
// kMaxSeedSum (beyond which the float32 log of Σ would also lose accuracy) or is not a
// number sends its group to the exact two-pass code on a class-major copy.
// lane_stats can pick each lane's target on the way (LaneTarget: the class index as a lane
// value from Vec::load_index, x_t = select(eq(index, c), x_c, x_t) in the class loop), so
// cross_entropy.hpp makes no scalar loads per row. lane_stats and the group loop of
// for_row_groups are forced inline: out of line, the sums, the target and the per-group
// state of the caller live in memory (a store and a reload per class, ~300 instructions of
// copies and spills per group were measured).
// The tile copy costs instructions and saves more time than it costs: along axis=1 the
// in-place pass reloads its lines from L3. Beyond the reloads the lanes engine is bound by
// instructions. Figures: docs/performance.md, "Measurements".
// Threads: chunks of lane groups through parallel.hpp (its determinism contract).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/row_engine.hpp"
#include "math/exp.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// Rows of at most this many classes (n_inner == 1) run on the lanes engine.
constexpr std::int64_t kMaxLaneClasses = 48;

// The engine of the softmax family, from the shape alone: rows for a last class axis of more
// than kMaxLaneClasses classes, else lanes (docs/architecture.md).
inline bool uses_rows_engine(std::int64_t n_classes, std::int64_t n_inner) {
  return n_inner == 1 && n_classes > kMaxLaneClasses;
}

// The label-smoothing weight ε/C in T, never rounded to 0 for ε > 0: a zero weight would turn
// the smoothing term's +inf (a row with a masked class) into 0·inf = NaN. The smallest
// subnormal keeps that +inf, the value in exact arithmetic, and is negligible on finite rows.
template <class T>
T smoothing_weight(double eps, double eps_over_c) {
  const T v = static_cast<T>(eps_over_c);
  return eps > 0.0 && v == T(0) ? std::numeric_limits<T>::denorm_min() : v;
}

constexpr std::int64_t kLaneNoWiden = 16;

// Lanes that are contiguous in memory (the inner axis): class c of lane block u at
// base + c * class_stride + u * L; `valid` lanes in all (the last tile may be partial).
// kFull: every lane block is whole (no per-load test); converts to the general type.
// kCopied: a whole tile copied class-major into a scratch (class_stride = kGroup), whose
// targets are picked after the pass (pick_from_tile). S: the storage type (half.hpp), loaded
// as its compute type.
template <class S, bool kFull = false, bool kCopied = false>
struct ContiguousLanes {
  using T = Compute<S>;
  using Storage = S;
  static constexpr bool kIsCopy = kCopied;
  const S* base;
  std::int64_t class_stride;
  std::int64_t valid;
  Vec<T> load(std::int64_t c, int u) const {
    constexpr std::int64_t L = Vec<T>::kLanes;
    const S* p = base + c * class_stride + u * L;
    if constexpr (kFull) {
      return Vec<T>::load(p);
    } else {
      const std::int64_t left = valid - u * L;
      return left >= L ? Vec<T>::load(p) : Vec<T>::load_n(p, left, 0);
    }
  }
  template <bool F = kFull, std::enable_if_t<F, int> = 0>
  operator ContiguousLanes<S, false>() const {
    return {base, class_stride, valid};
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

// Class indices exact in T (Vec::load_index) up to this many classes.
constexpr std::int64_t kMaxLaneIndex = std::int64_t(1) << 24;

// The target of each lane, picked inside the class loop from the loads lane_stats makes anyway
// (no scalar loads): cls = the lane's class index as T (-1: ignored, bad or padding), then
// xt = x[cls] and, with kW, wt = w[cls]; both stay 0 where cls < 0. c_v is c as a vector (a
// running count in the class loop, a constant when the loop is unrolled). lane_stats is
// inlined into its caller, whose LaneTarget then lives in registers.
template <class T, bool kW>
struct LanePick {
  using V = Vec<T>;
  V cls, xt, wt;
  FASTLOSS_INLINE void take(const T* w, std::int64_t c, V xv, V c_v) {
    const auto hit = eq(cls, c_v);
    xt = select(hit, xv, xt);
    if constexpr (kW) wt = select(hit, V::set1(w[c]), wt);
  }
};
template <class T, int U, bool kW>
struct LaneTarget {
  static constexpr bool kOn = true;
  using Pick = LanePick<T, kW>;
  const T* w = nullptr;
  Pick lane[U];
  Pick& pick(int u) { return lane[u]; }
};
struct NoLanePick {
  template <class W, class V>
  void take(W, std::int64_t, V, V) {}
};
struct NoLaneTarget {
  static constexpr bool kOn = false;
  using Pick = NoLanePick;
  static constexpr std::nullptr_t w = nullptr;
  Pick pick(int) const { return {}; }
};
// LaneTarget's picks from a tile copied class-major (class c of lane j at tile[c * G + j],
// G = U lane blocks): one load per lane after the pass instead of a compare and a blend per
// class and lane block in it.
template <class T, int U, bool kW>
void pick_from_tile(const T* tile, LaneTarget<T, U, kW>& tg) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = U * L;
  T cls[G], xt[G], wt[G];
  for (int u = 0; u < U; ++u) tg.lane[u].cls.store(cls + u * L);
  for (std::int64_t j = 0; j < G; ++j) {
    const auto c = static_cast<std::int64_t>(cls[j]);  // -1: ignored, -2: bad
    xt[j] = c >= 0 ? tile[c * G + j] : T(0);
    if constexpr (kW) wt[j] = c >= 0 ? tg.w[c] : T(0);
  }
  for (int u = 0; u < U; ++u) {
    tg.lane[u].xt = V::load(xt + u * L);
    if constexpr (kW) tg.lane[u].wt = V::load(wt + u * L);
  }
}
// store_exp for callers that keep no terms (one type for all of them: fewer instantiations).
struct NoStoreExp {
  template <class V>
  void operator()(std::int64_t, int, V) const {}
};
// Sums of its own a caller adds to lane_stats' exact pass (evaluate.hpp's EvalLaneSide):
// term(c, u, x, m - x, e) for every class c and lane block u, flush() wherever the pass widens
// its own sums (at most kLanePairWiden classes apart).
struct NoLaneSide {
  static constexpr bool kOn = false;
  template <class V>
  void term(std::int64_t, int, V, V, V) {}
  void flush() {}
};

// The exp of the lanes engine: e^{-nd} for nd = m - x >= 0 (m the lane's exact max, so no
// upper clamp) or NaN. Taking m - x rather than x - m lets the load of x fold into the
// subtraction. Per vector: the clamp, one FMA that both scales by log2e and rounds to the
// integer n (the magic add: its low bits are n + bias, so no separate round and no add
// before the exponent shift), the two-step Cody-Waite reduction of exp_reduced and its
// polynomial (negated: exp_poly_neg), the shift and one multiply, with exp's accuracy (n is
// the exactly rounded nd log2e, so |r| <= ln2/2 plus one rounding, inside the polynomial's
// fitted range). The constants are written in place, not kept in members: the compiler
// then sees them as constants it can take as memory operands instead of holding 12 of the 16
// registers and spilling the sums.
// nd > (bias - 0.25) ln2 is clamped to where n = -bias: the term is exactly +0, so a masked
// (-inf) class stays exact; NaN gives NaN (NaN times the garbage scale).
template <class T>
constexpr T kLaneExpCut = static_cast<T>((FoldBits<T>::kBias - 0.25) * kLn2d);
template <class T>
FASTLOSS_INLINE Vec<T> lane_exp(Vec<T> nd) {
  using V = Vec<T>;
  using C = ExpConst<T>;
  const V magic = V::set1(static_cast<T>(FoldBits<T>::kMagic + FoldBits<T>::kBias));
  const V ndc = min(V::set1(kLaneExpCut<T>), nd);  // NaN survives
  const V t = fma(ndc, V::set1(-C::kLog2e), magic);
  const V n = fnma(magic, V::set1(T(1)), t);  // t - magic, in a form the compiler keeps as is
  V nr = fma(n, V::set1(C::kLn2Hi), ndc);     // -r = nd + n ln2, in exp_reduced's two steps
  nr = fma(n, V::set1(C::kLn2Lo), nr);
  return exp_poly_neg(nr) * pow2_low_bits(t);
}

// Up to this many classes the contiguous lane_stats keeps its float32 sums (two per lane,
// even and odd classes); longer rows widen them into float64 every kLanePairWiden classes.
// Each sum adds at most 12 terms. Every rounding of an add is at most 2^-24 times the value it
// produces, and no partial exceeds its accumulator's final sum (all terms >= 0), so a lane's
// Σ is off by at most (11 + 1) 2^-24 Σ relative (11 adds, then the sum of the two): < 7.2e-7
// in log Σ, within the 1e-6 absolute bound on a confident row (the worst case: the dominant
// 1 first, and the 11 other terms of its accumulator just below its half-ulp, all dropped).
constexpr std::int64_t kLanePairWiden = 24;

// Pass 1 (max) and pass 2 (Σ e^{x - m} and the linear sums of RowSums, relative to m) over
// the C classes of U lane blocks. store_exp(c, u, e) receives the terms when F::kStore.
// Everything stays in locals until the end (the target too): st and tg may alias nothing, but
// the compiler cannot know that, and a running value kept in memory is a store per class.
// tg.take sees every class of every lane block in the max pass. Both passes take the classes
// in pairs: less loop overhead, and the even and odd classes go to separate float32 sums
// (kLanePairWiden). side adds a caller's sums (NoLaneSide). Returns false: this pass is exact
// (Σ in [1, C] for a finite lane).
template <class F, class T, int U, class Src, class StoreExp, class Tgt = NoLaneTarget, class Side = NoLaneSide>
FASTLOSS_INLINE bool lane_stats(const Src& x, const Src& y, std::int64_t n_classes, const T* w, T one_minus_eps,
                                T eps_over_c, StoreExp&& store_exp, LaneStats<T, U>& st, Tgt&& tg = Tgt{},
                                Side&& side = Side{}) {
  using V = Vec<T>;
  constexpr bool kTarget = std::decay_t<Tgt>::kOn;
  constexpr bool kSide = std::decay_t<Side>::kOn;
  // A copied tile's targets are picked after the pass, one load per lane (pick_from_tile).
  constexpr bool kPickInLoop = kTarget && !Src::kIsCopy;
  const std::int64_t C = n_classes;
  const V zero = V::set1(T(0)), one = V::set1(T(1));
  const auto tw = tg.w;
  V m[U];
  for (int u = 0; u < U; ++u) m[u] = V::set1(-std::numeric_limits<T>::infinity());
  {
    V c_v = zero;
    auto max_step = [&](std::int64_t c) FASTLOSS_LAMBDA_INLINE {
      for (int u = 0; u < U; ++u) {
        const V xv = x.load(c, u);
        m[u] = max(m[u], xv);
        if constexpr (kPickInLoop) tg.pick(u).take(tw, c, xv, c_v);
      }
      if constexpr (kPickInLoop) c_v = c_v + one;
    };
    std::int64_t c = 0;
    for (; c + 2 <= C; c += 2) {
      max_step(c);
      max_step(c + 1);
    }
    if (c < C) max_step(c);
  }
  if constexpr (kTarget && !kPickInLoop) pick_from_tile(x.base, tg);
  const V ome = V::set1(one_minus_eps), eoc = V::set1(eps_over_c);
  // Both lane blocks in one class loop: the C class rows of a tile, n_inner apart, may all
  // fall in one L1 set (n_inner a multiple of 1024 floats), so a third pass over them (one
  // exp pass per block) reads them from L2 and measured ~1.5x slower on axis=1 at C=21,
  // though it spills less.
  V e_acc[2][U], wx_acc[U], wy_acc[U], wyx_acc[U];
  auto reset = [&] {
    for (int u = 0; u < U; ++u) e_acc[0][u] = e_acc[1][u] = wx_acc[u] = wy_acc[u] = wyx_acc[u] = zero;
  };
  // Class c into the sums of parity k.
  auto step = [&](std::int64_t c, int k) FASTLOSS_LAMBDA_INLINE {
    const V w_c = V::set1(F::kWeighted ? w[c] : T(1));
    for (int u = 0; u < U; ++u) {
      const V xv = x.load(c, u);
      const V nd = m[u] - xv;  // -(x - m)
      const V e = lane_exp(nd);
      if constexpr (F::kStore) store_exp(c, u, e);
      if constexpr (kSide) side.term(c, u, xv, nd, e);
      e_acc[k][u] = e_acc[k][u] + e;
      if constexpr (F::kLinear) wx_acc[u] = F::kWeighted ? fnma(w_c, nd, wx_acc[u]) : wx_acc[u] - nd;
      if constexpr (F::kProb) {
        const V yp = fma(y.load(c, u), ome, eoc);
        const V wy = F::kWeighted ? w_c * yp : yp;
        wy_acc[u] = wy_acc[u] + wy;
        wyx_acc[u] = fnma(wy, nd, wyx_acc[u]);
      }
    }
  };
  auto classes = [&](std::int64_t c0, std::int64_t c1) FASTLOSS_LAMBDA_INLINE {
    std::int64_t c = c0;
    for (; c + 2 <= c1; c += 2) {
      step(c, 0);
      step(c + 1, 1);
    }
    if (c < c1) step(c, 0);
  };
  reset();
  for (int u = 0; u < U; ++u) st.m[u] = m[u];
  if (C <= kLanePairWiden) {
    classes(0, C);
    for (int u = 0; u < U; ++u) {
      st.sum[u] = e_acc[0][u] + e_acc[1][u];
      if constexpr (F::kLinear) st.wx[u] = wx_acc[u];
      if constexpr (F::kProb) {
        st.wy[u] = wy_acc[u];
        st.wyx[u] = wyx_acc[u];
      }
    }
    return false;
  }
  LaneSum<T> e_tot[U], wx_tot[U], wy_tot[U], wyx_tot[U];
  for (std::int64_t c0 = 0; c0 < C; c0 += kLanePairWiden) {
    classes(c0, std::min(C, c0 + kLanePairWiden));
    if constexpr (kSide) side.flush();
    for (int u = 0; u < U; ++u) {
      e_tot[u].add(e_acc[0][u] + e_acc[1][u]);
      if constexpr (F::kLinear) wx_tot[u].add(wx_acc[u]);
      if constexpr (F::kProb) {
        wy_tot[u].add(wy_acc[u]);
        wyx_tot[u].add(wyx_acc[u]);
      }
    }
    reset();
  }
  for (int u = 0; u < U; ++u) {
    st.sum[u] = e_tot[u].value();
    if constexpr (F::kLinear) st.wx[u] = wx_tot[u].value();
    if constexpr (F::kProb) {
      st.wy[u] = wy_tot[u].value();
      st.wyx[u] = wyx_tot[u].value();
    }
  }
  return false;
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
// Tiles of the inner axis (n_inner > 1) fetch each class row this many tiles ahead.
constexpr std::int64_t kTileAhead = 4;

// Forced inline: GCC takes a function of prefetches alone for one without effects, and drops
// a call to it that it did not inline (the lanes engine then streamed without prefetch).
template <class T>
FASTLOSS_INLINE void prefetch_span(const T* p, std::int64_t n) {
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

// The inverse: class-major scratch back into `rows` rows of C classes at dst (row-major; O may
// be a half type, half.hpp: rounded as stored).
template <class T, class O>
void transpose_out(const T* scratch, std::int64_t C, std::int64_t rows, O* dst) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for (int u = 0; u < kLaneBlocks && u * L < rows; ++u)
    for (std::int64_t c0 = 0; c0 < C; c0 += L) {
      V t[L];
      V::load_transposed(scratch + c0 * G + u * L, G, t);
      const std::int64_t n = std::min(L, C - c0);
      for (std::int64_t i = 0; i < L && u * L + i < rows; ++i) {
        O* row = dst + (u * L + i) * C + c0;
        if (n == L) t[i].store(row);
        else t[i].store_n(row, n);
      }
    }
}

// A group of kGroup rows of C classes (n_inner == 1), row-major at `rows` with G*C + L - 1
// readable elements, and a kScratch<T> scratch for a class-major copy.
template <class T>
struct RowBlockLanes {
  using Storage = T;
  static constexpr bool kIsCopy = false;
  const T* rows;
  std::int64_t C;
  T* scratch;
  ContiguousLanes<T> class_major() const {
    transpose_in(rows, C, scratch);
    return {scratch, kGroup<T>, kGroup<T>};
  }
};

// Rows of up to this many classes are held in registers whole (two class blocks, and no more
// than kLaneNoWiden: no widening), with C a compile-time constant.
template <class T>
constexpr int kLaneFixed = static_cast<int>(std::min<std::int64_t>(2 * Vec<T>::kLanes, kLaneNoWiden));

// fn(std::integral_constant<int, C>) for 1 <= C <= kMax.
// Forced inline: out of line, the caller's locals the unrolled bodies update live in memory.
template <int kMax, class Fn, int... I>
FASTLOSS_INLINE void with_fixed_classes_impl(std::int64_t C, Fn&& fn, std::integer_sequence<int, I...>) {
  (void)((C == I + 1 ? (fn(std::integral_constant<int, I + 1>{}), true) : false) || ...);
}
template <int kMax, class Fn>
FASTLOSS_INLINE void with_fixed_classes(std::int64_t C, Fn&& fn) {
  with_fixed_classes_impl<kMax>(C, fn, std::make_integer_sequence<int, kMax>{});
}

// fn(0), ..., fn(kN - 1) written out: a lane block index that is a constant keeps the block's
// picks and sums in registers (GCC may leave a counted loop rolled, its state on the stack).
template <int kN, class Fn, int... I>
FASTLOSS_INLINE void unrolled_impl(Fn&& fn, std::integer_sequence<int, I...>) {
  (fn(I), ...);
}
template <int kN, class Fn>
FASTLOSS_INLINE void unrolled(Fn&& fn) {
  unrolled_impl<kN>(fn, std::make_integer_sequence<int, kN>{});
}

// The largest Σ e^{x - m0} the single pass below accepts: log Σ <= 8.4 keeps the float32 log
// of the epilogue within 5e-7 absolute.
constexpr double kMaxSeedSum = 4096.0;

// lane_stats for a group of rows, in one pass straight from the transposing loads (no
// scratch, no separate max pass). Rows of C <= kLaneFixed classes are held in registers whole:
// the shift is the exact row max, so x - m <= 0 and lane_exp applies (Σ in [1, C], or NaN for
// a row that is not finite, which the two-pass code would give too: such groups stand).
// Longer rows are shifted by m0 = the max of the first kLanes classes, and a later class
// above it is still summed exactly by the folded exp. If such a lane's Σ exceeds kMaxSeedSum
// or is not a number (a max far above m0, all -inf, +inf, NaN), the group is redone by the
// exact two-pass lane_stats on a class-major copy. Returns true when the single pass stood.
template <class F, class T, int U, class StoreExp, class Tgt = NoLaneTarget>
FASTLOSS_INLINE bool lane_stats(const RowBlockLanes<T>& x, const RowBlockLanes<T>& y, std::int64_t n_classes,
                                const T* w, T one_minus_eps, T eps_over_c, StoreExp&& store_exp, LaneStats<T, U>& st,
                                Tgt&& tg = Tgt{}) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const std::int64_t C = n_classes;
  const V zero = V::set1(T(0)), limit = V::set1(static_cast<T>(kMaxSeedSum));
  const V ome = V::set1(one_minus_eps), eoc = V::set1(eps_over_c);
  const bool widen = C > kLaneNoWiden;
  bool ok = true;
  const auto tw = tg.w;
  // Lane block u; kc = the number of classes as a constant (the row in registers), or 0.
  auto block = [&](int u, auto kc) FASTLOSS_LAMBDA_INLINE {
    constexpr int kC = decltype(kc)::value;
    const T* xr = x.rows + u * L * C;
    const T* yr = F::kProb ? y.rows + u * L * C : nullptr;
    V m0 = zero, e_acc = zero, wx_acc = zero, wy_acc = zero, wyx_acc = zero;
    auto&& pk = tg.pick(u);
    LaneSum<T> e_tot, wx_tot, wy_tot, wyx_tot;
    // exf(nd) = e^{-nd} for nd = m0 - x.
    auto term = [&](std::int64_t c, V xv, V yv, const auto& exf) FASTLOSS_LAMBDA_INLINE {
      const V nd = m0 - xv;
      const V e = exf(nd);
      if constexpr (F::kStore) store_exp(c, u, e);
      e_acc = e_acc + e;
      const V w_c = V::set1(F::kWeighted ? w[c] : T(1));
      if constexpr (F::kLinear) wx_acc = F::kWeighted ? fnma(w_c, nd, wx_acc) : wx_acc - nd;
      if constexpr (F::kProb) {
        const V yp = fma(yv, ome, eoc);
        const V wy = F::kWeighted ? w_c * yp : yp;
        wy_acc = wy_acc + wy;
        wyx_acc = fnma(wy, nd, wyx_acc);
      }
    };
    // The target is picked where the max is taken: x is then used once more, by term (a
    // spilled x reloads as a memory operand of its subtraction).
    auto take = [&](std::int64_t c, V xv) FASTLOSS_LAMBDA_INLINE { pk.take(tw, c, xv, V::set1(static_cast<T>(c))); };
    auto flush = [&] {
      e_tot.add(e_acc);
      if constexpr (F::kLinear) wx_tot.add(wx_acc);
      if constexpr (F::kProb) {
        wy_tot.add(wy_acc);
        wyx_tot.add(wyx_acc);
      }
      e_acc = wx_acc = wy_acc = wyx_acc = zero;
    };
    if constexpr (kC > 0) {
      // The whole row in registers, fully unrolled: the shift is the exact row max, so
      // x - m <= 0 and the exp needs no upper clamp (kLaneFixed <= kLaneNoWiden: no widening).
      auto ex = [](V nd) FASTLOSS_LAMBDA_INLINE { return lane_exp(nd); };
      constexpr int n0 = kC < L ? kC : static_cast<int>(L), n1 = kC - n0;  // classes per block
      V t[2 * L], ty[2 * L];
      if constexpr (n0 == L) V::load_transposed(xr, C, t);
      else V::load_transposed_n(xr, C, n0, t);
      if constexpr (n1 > 0) V::load_transposed_n(xr + L, C, n1, t + L);
      if constexpr (F::kProb) {
        if constexpr (n0 == L) V::load_transposed(yr, C, ty);
        else V::load_transposed_n(yr, C, n0, ty);
        if constexpr (n1 > 0) V::load_transposed_n(yr + L, C, n1, ty + L);
      }
      m0 = t[0];
      take(0, t[0]);
      for (int i = 1; i < kC; ++i) {
        m0 = max(m0, t[i]);
        take(i, t[i]);
      }
      for (int i = 0; i < kC; ++i) term(i, t[i], F::kProb ? ty[i] : zero, ex);
    } else {
      FoldedExp<T> fex;
      fex.init(0.0);
      auto ex = [&](V nd) FASTLOSS_LAMBDA_INLINE { return fex(-nd); };  // a class may lie above m0
      for (std::int64_t c0 = 0; c0 < C; c0 += L) {
        V t[L], ty[L];
        const std::int64_t n = std::min(L, C - c0);
        if (n == L) V::load_transposed(xr + c0, C, t);
        else V::load_transposed_n(xr + c0, C, n, t);
        if constexpr (F::kProb) {
          if (n == L) V::load_transposed(yr + c0, C, ty);
          else V::load_transposed_n(yr + c0, C, n, ty);
        }
        if (c0 == 0) {
          m0 = t[0];
          for (std::int64_t i = 1; i < n; ++i) m0 = max(m0, t[i]);
        }
        for (std::int64_t i = 0; i < n; ++i) take(c0 + i, t[i]);
        if (n == L) {
          for (std::int64_t i = 0; i < L; ++i) term(c0 + i, t[i], F::kProb ? ty[i] : zero, ex);
        } else {
          for (std::int64_t i = 0; i < n; ++i) term(c0 + i, t[i], F::kProb ? ty[i] : zero, ex);
        }
        if (widen) flush();
      }
    }
    st.m[u] = m0;
    st.sum[u] = widen ? e_tot.value() : e_acc;
    if constexpr (F::kLinear) st.wx[u] = widen ? wx_tot.value() : wx_acc;
    if constexpr (F::kProb) {
      st.wy[u] = widen ? wy_tot.value() : wy_acc;
      st.wyx[u] = widen ? wyx_tot.value() : wyx_acc;
    }
    if constexpr (kC == 0) ok = ok && none(gt(st.sum[u], limit) | is_nan(st.sum[u]));
  };
  if (C <= kLaneFixed<T>) {
    with_fixed_classes<kLaneFixed<T>>(
        C, [&](auto kc) FASTLOSS_LAMBDA_INLINE { unrolled<U>([&](int u) FASTLOSS_LAMBDA_INLINE { block(u, kc); }); });
  } else {
    unrolled<U>([&](int u) FASTLOSS_LAMBDA_INLINE { block(u, std::integral_constant<int, 0>{}); });
  }
  if (!ok) {
    const ContiguousLanes<T> cy = F::kProb ? y.class_major() : ContiguousLanes<T>{nullptr, kGroup<T>, kGroup<T>};
    lane_stats<F, T, U>(x.class_major(), cy, n_classes, w, one_minus_eps, eps_over_c, store_exp, st, tg);
  }
  return ok;
}

// Lane groups of an (n_outer, C, n_inner) array: for n_inner == 1, groups of kGroup rows; else
// tiles of kGroup inner positions of one outer index.
inline std::int64_t lane_items(std::int64_t n_outer, std::int64_t n_inner, std::int64_t G) {
  return n_inner == 1 ? (n_outer + G - 1) / G : n_outer * ((n_inner + G - 1) / G);
}

// n elements of a half type (half.hpp) converted into float at dst, then zeros up to span:
// the lanes engine's groups of half rows (with_rows), a vector at a time.
template <class S>
FASTLOSS_INLINE void convert_span(const S* src, std::int64_t n, std::int64_t span, Compute<S>* dst) {
  using V = Vec<Compute<S>>;
  constexpr std::int64_t L = V::kLanes;
  std::int64_t i = 0;
  for (; i + L <= n; i += L) V::load(src + i).store(dst + i);
  if (i < n) {
    V::load_n(src + i, n - i, 0).store(dst + i);  // zeros past n, within span
    i += L;
  }
  for (; i < span; ++i) dst[i] = 0;
}

// Calls fn(row0, lanes, src_x, src_y) for lane group q, with row0 the flat (outer, inner) index
// of its lane 0: RowBlockLanes over the rows in place (n_inner == 1; near the end of the array
// a zero-padded copy, since the transposing loads read up to G*C + L - 1 elements), or
// ContiguousLanes over a tile of the inner axis. sx, sy: kScratch<T> elements each.
// Half rows (half.hpp) are converted into the padded copy, always: the transposing loads and
// the engine then read float32 from L1 (a group is at most kMaxLaneClasses * G elements).
template <class S, class Fn, class T = Compute<S>>
FASTLOSS_INLINE void with_rows(const S* x, const S* y, std::int64_t n_outer, std::int64_t C, std::int64_t q, T* sx,
                               T* sy, Fn&& fn) {
  constexpr std::int64_t L = Vec<T>::kLanes, G = kGroup<T>;
  const std::int64_t row0 = q * G, rows = std::min(G, n_outer - row0);
  if (row0 + (kLaneAhead + 1) * G <= n_outer) {
    prefetch_span(x + (row0 + kLaneAhead * G) * C, G * C);
    if (y) prefetch_span(y + (row0 + kLaneAhead * G) * C, G * C);
  }
  // One call of fn (it is inlined: a second call site would be a second copy of the engine).
  T pad_x[kMaxLaneClasses * G + L], pad_y[kMaxLaneClasses * G + L];
  const T* gx = pad_x;
  const T* gy = y ? pad_y : nullptr;
  if constexpr (kIsHalf<S>) {
    const std::int64_t used = rows * C, span = G * C + L;
    convert_span(x + row0 * C, used, span, pad_x);
    if (y) convert_span(y + row0 * C, used, span, pad_y);
  } else if ((row0 + G) * C + L - 1 > n_outer * C) {
    // Zero only what the transposes read (G*C + L - 1 elements): small calls come here.
    const std::size_t used = static_cast<std::size_t>(rows * C), span = static_cast<std::size_t>(G * C + L);
    std::memcpy(pad_x, x + row0 * C, sizeof(T) * used);
    std::memset(pad_x + used, 0, sizeof(T) * (span - used));
    if (y) {
      std::memcpy(pad_y, y + row0 * C, sizeof(T) * used);
      std::memset(pad_y + used, 0, sizeof(T) * (span - used));
    }
  } else {
    gx = x + row0 * C;
    gy = y ? y + row0 * C : nullptr;
  }
  fn(row0, rows, RowBlockLanes<T>{gx, C, sx}, RowBlockLanes<T>{gy, C, sy});
}

// The kGroup lanes of C class rows `stride` apart into dst, class-major (C * kGroup elements),
// prefetching each class row `ahead` elements on.
// (half types: converted as they are loaded).
template <class S, class T = Compute<S>>
FASTLOSS_INLINE void copy_tile(const S* src, std::int64_t stride, std::int64_t C, std::int64_t ahead, T* dst) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for (std::int64_t c = 0; c < C; ++c) {
    const S* row = src + c * stride;
    prefetch_span(row + ahead, G);  // every line of the tile's row: two on AVX-512
    for (std::int64_t u = 0; u < G; u += L) V::load(row + u).store(dst + c * G + u);
  }
}

// The tile of inner positions [s0, s0 + G) of outer index `outer` (n_inner > 1). Its C class
// rows, n_inner apart, are too many streams for the hardware prefetcher to follow: each is
// fetched kTileAhead tiles ahead. For n_inner a multiple of 1024 floats every line of a tile
// falls in one L1 and L2 set, so a second pass over the tile in place reloads it from L3: a
// whole tile of C <= kMaxLaneClasses is read once, into the contiguous scratch sx (sy), and
// the passes read that.
template <class S, class Fn, class T = Compute<S>>
FASTLOSS_INLINE void with_tile(const S* x, const S* y, std::int64_t C, std::int64_t n_inner, std::int64_t outer,
                               std::int64_t s0, T* sx, T* sy, Fn&& fn) {
  constexpr std::int64_t G = kGroup<T>;
  const std::int64_t lanes = std::min(G, n_inner - s0);
  const std::int64_t off = outer * C * n_inner + s0;
  const bool fetch = s0 + (kTileAhead + 1) * G <= n_inner;
  if (lanes == G && C <= kMaxLaneClasses) {
    const std::int64_t ahead = fetch ? kTileAhead * G : 0;
    copy_tile(x + off, n_inner, C, ahead, sx);
    if (y) copy_tile(y + off, n_inner, C, ahead, sy);
    using Copy = ContiguousLanes<T, true, true>;
    fn(outer * n_inner + s0, lanes, Copy{sx, G, lanes}, Copy{y ? sy : nullptr, G, lanes});
    return;
  }
  if (fetch) {
    for (std::int64_t c = 0; c < C; ++c) {
      prefetch_span(x + off + c * n_inner + kTileAhead * G, G);
      if (y) prefetch_span(y + off + c * n_inner + kTileAhead * G, G);
    }
  }
  if (lanes == G) {
    using Full = ContiguousLanes<S, true>;
    fn(outer * n_inner + s0, lanes, Full{x + off, n_inner, lanes}, Full{y ? y + off : nullptr, n_inner, lanes});
  } else {
    fn(outer * n_inner + s0, lanes, ContiguousLanes<S>{x + off, n_inner, lanes},
       ContiguousLanes<S>{y ? y + off : nullptr, n_inner, lanes});
  }
}

template <class S, class Fn, class T = Compute<S>>
void with_row_group(const S* x, const S* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner, std::int64_t q,
                    T* sx, T* sy, Fn&& fn) {
  if (n_inner == 1) {
    with_rows(x, y, n_outer, C, q, sx, sy, fn);
    return;
  }
  const std::int64_t tiles = (n_inner + kGroup<T> - 1) / kGroup<T>;
  with_tile(x, y, C, n_inner, q / tiles, (q % tiles) * kGroup<T>, sx, sy, fn);
}

// with_row_group for the groups [q_begin, q_end) in order, inlined into one loop (no division
// per tile): for kernels whose fn is a single lane_stats pass, cheap enough that a call per
// group would show.
// kTiles: n_inner > 1, the layout as a template parameter, so that a kernel instantiates the
// rows and the tiles separately (two functions of half the size: GCC's code for the rows loop
// was slower when the tile paths shared its function).
template <bool kTiles, class S, class Fn, class T = Compute<S>>
FASTLOSS_INLINE void for_row_groups(const S* x, const S* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner,
                                    std::int64_t q_begin, std::int64_t q_end, T* sx, T* sy, Fn&& fn) {
  constexpr std::int64_t G = kGroup<T>;
  if constexpr (!kTiles) {
    (void)n_inner;
    for (std::int64_t q = q_begin; q < q_end; ++q) with_rows(x, y, n_outer, C, q, sx, sy, fn);
    return;
  }
  const std::int64_t tiles = (n_inner + G - 1) / G;
  std::int64_t outer = q_begin / tiles, s0 = (q_begin % tiles) * G;
  for (std::int64_t q = q_begin; q < q_end; ++q) {
    with_tile(x, y, C, n_inner, outer, s0, sx, sy, fn);
    s0 += G;
    if (s0 >= n_inner) {
      s0 = 0;
      ++outer;
    }
  }
}

// As with_row_group, but rows always come class-major (transposed into sx, sy first), so fn
// sees ContiguousLanes in both layouts (evaluate.hpp reads the classes of a group repeatedly).
template <class S, class Fn, class T = Compute<S>>
void with_lane_group(const S* x, const S* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner, std::int64_t q,
                     T* sx, T* sy, Fn&& fn) {
  with_row_group(x, y, n_outer, C, n_inner, q, sx, sy,
                 [&](std::int64_t row0, std::int64_t lanes, const auto& sxl, const auto& syl) {
    if constexpr (std::is_same_v<std::decay_t<decltype(sxl)>, RowBlockLanes<T>>) {
      const ContiguousLanes<T> cy = y ? syl.class_major() : ContiguousLanes<T>{nullptr, kGroup<T>, kGroup<T>};
      fn(row0, lanes, sxl.class_major(), cy);
    } else {
      fn(row0, lanes, sxl, syl);
    }
  });
}

// with_row_group over every group, in parallel chunks fixed by the shape.
template <class S, class Fn>
void for_lane_groups(const S* x, const S* y, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner, int n_threads,
                     Fn&& fn) {
  using T = Compute<S>;
  constexpr std::int64_t G = kGroup<T>;
  parallel_chunks(lane_items(n_outer, n_inner, G), min_chunk_items(G * C), n_threads,
                  [&](std::int64_t begin, std::int64_t end) {
    T sx[kScratch<T>], sy[kScratch<T>];
    for (std::int64_t q = begin; q < end; ++q) with_row_group(x, y, n_outer, C, n_inner, q, sx, sy, fn);
  });
}
}  // namespace fastloss::FASTLOSS_ISA
