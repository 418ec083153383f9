// The fused evaluation pass (fastloss.evaluate / Evaluator). One read of each row
// of logits x (classes along the middle axis of (n_outer, C, n_inner)) gives, per row with
// target t, lse = log Σ e^x, p = softmax(x):
//   l    = cross_entropy's loss (class weights w, label smoothing ε, as cross_entropy.hpp),
//   rank = #(x_c > x_t) + #(x_c == x_t and c < t)     (ties to the lower index, as np.argmax),
//   H    = lse - Σ e^{x-s}·x / Σ e^{x-s}              (the entropy of p),
// and the kernel returns Σ s·l, Σ s·w_t, Σ s, Σ s·H, Σ s·lse, Σ s·[rank < k] for each k over
// the counted rows (s = sample weight), or writes them per row.
//
// Rows engine (n_inner == 1, C > kMaxLaneClasses): row_engine.hpp's folded exp (fixed shift
// k ln2 from the first vector and the target logit, folded into the exponent; FoldTerm uses
// FoldedExp's clamp and constants, rounds with one FMA, and hands back the x it used,
// clamped below), with two accumulators per sum (kEvalU) and more sums in the same
// pass: Σ e·(xc - o) for the entropy (xc = x clamped at the fold's low cut-off, so a masked
// -inf class gives 0·finite = 0; origin o = the seed, a value of the row, so a confident
// row's target term is e·0), Σ w (x - o) for label smoothing, and the rank as a lane count
// of x > thr with thr = x_t for c >= t and the next float below x_t for c < t (so "x > thr"
// is "x >= x_t" below t), ties included, no second pass. The rank is done per block of
// kEvalBlockSteps steps, by a compare-and-count, or by one max per vector and a recount of the
// block only when its max beats thr, or not at all once the count reaches the largest k
// (mean reduction: only rank < k matters); see eval_pass. Extreme rows (non-finite seed, Σ
// outside [0.5, 2^100]) take the exact path: a max pass, then the same sums with the full exp
// shifted by the max (row_engine.hpp's row_max / nonfinite_lse). So do rows whose mass sits
// far above the seed (a confident row whose top class is neither the target nor in the first
// vector): the folded pass's H is off by ~c·u·|E_p[x] - o| (u = T's unit roundoff, c <= 8.3
// measured), and E_p[x] - o = Σ e·(xc - o) / Σ e comes from the pass's own sums. fold_inexact
// redoes a row when 16·u·|E_p[x] - o| exceeds half the tolerance on its H; for float32:
// |E_p[x] - o| > 0.52 + 5.2·H. Without the redo such rows miss the tolerance; random rows
// (the bench's) keep the one pass, few are redone (docs/performance.md, "Measurements").
// The float64 lanes' totals are compensated (RowTotal): a plain float64 sum gives a long row's
// early big term one rounding per later flush, beyond the float64 tolerance on long rows
// (C = 32001 with a constant rest; C = 128256 with the target at the max).
// A row with NaN, +inf or only -inf gives NaN loss and entropy and torch's lse; its rank (and
// that of a -inf target) is counted by a scalar pass: NaN anywhere gives rank C, never a hit.
// row_pass of row_engine.hpp keeps no Σ e·x and no count, so this file has its own pass
// (eval_pass); everything else is called from the engines as is.
//
// Cost (AVX2, Zen 3, float32). Per vector, cross-entropy's exp + Σ e is ~17 ops; the entropy
// adds a sub and an fma (its factor taken before the exp's high clamp, so no copy of r), the
// rank a compare + select + add in count mode, a max in max mode, nothing in skip mode (its
// own unrolled loops, Σ e and Σ e·d in locals, e added as fma(e, 1, Σ): the same single
// rounding, where GCC sank a plain add to the block's end and stored each e to the stack; it
// flushes the block under way on entry and ends the row itself). Time over cross-entropy's
// exceeds the instruction ratio: register pressure is the limit (13 constants, 4 lane
// accumulators and 4 float64 totals exceed AVX2's 16 registers; GCC spills the Σ e
// accumulators and reloads log2e). The counts, times and variants tried: docs/performance.md,
// "Measurements". Σ e and Σ e·d are grouped
// differently between flushes in skip mode (still at most kEvalLaneTerms terms per lane).
//
// Lanes engine (n_inner > 1, or C <= kMaxLaneClasses): one row per lane, groups from
// lane_engine.hpp's with_lane_group (transposed rows, or in-place tiles of the inner axis),
// class-major as its exact two-pass lane_stats reads them; EvalLaneSide adds Σ e·(x - m) and
// the rank count (thr chosen per lane by class index < t) to its pass. lse = m + log Σ with
// the vector log; the losses are cross-entropy's (lane_ce_loss), finished in T.
//
// Accumulation: per-row values in float64 (rows engine) or T (lanes engine), added as float64
// in row order within a chunk; the chunks are merged by parallel.hpp's ordered_reduce. Counts
// per lane are kept as T (exact up to 2^24 per lane for float32; the rows engine flushes them
// every 2^16 blocks). Extra memory: the chunk totals (fixed) and the lane scratch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/args.hpp"
#include "kernels/ce_front.hpp"
#include "kernels/lane_engine.hpp"
#include "kernels/row_engine.hpp"
#include "kernels/unaligned.hpp"
#include "math/exp.hpp"
#include "math/log.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// The top-k and sample-weight part of a call (the rest is ce_front.hpp's CeSetup).
struct EvalCtx {
  const std::int64_t* ks;
  int nk;
  const double* sw;        // sample weights or null
  std::int64_t k_max = 0;  // the largest k: a rank at or above it is no hit for any k
};

// EvaluateResult as an ordered_reduce state. Hits past nk stay 0 in every chunk: merging all
// kMaxTopk of them leaves them 0.
struct EvalTotals : EvaluateResult {
  static EvalTotals zero() { return {}; }
  void merge(const EvalTotals& o) {
    loss += o.loss;
    loss_weight += o.loss_weight;
    weight += o.weight;
    entropy += o.entropy;
    lse += o.lse;
    for (int j = 0; j < kMaxTopk; ++j) hits[j] += o.hits[j];
    count += o.count;
    if (o.first_bad >= 0 && (first_bad < 0 || o.first_bad < first_bad)) first_bad = o.first_bad;
  }
};

// One counted row into the totals: the products s·v are formed as written, so a NaN loss of a
// row of sample weight 0 still gives NaN (as the reference's Σ s·l).
inline void eval_add(EvaluateResult& tot, const EvalCtx& cx, std::int64_t row, double wt, double loss,
                     std::int64_t rank, double ent, double lse) {
  const double s = cx.sw ? cx.sw[row] : 1.0;
  if (cx.sw) {
    tot.loss += s * loss;
    tot.loss_weight += s * wt;
    tot.entropy += s * ent;
    tot.lse += s * lse;
  } else {  // s = 1: the same sums without the products (1·v == v, NaN and -0 included)
    tot.loss += loss;
    tot.loss_weight += wt;
    tot.entropy += ent;
    tot.lse += lse;
  }
  tot.weight += s;
  // Adding 0.0 changes no total: most ranks miss every k and skip the loop.
  if (rank < cx.k_max)
    for (int j = 0; j < cx.nk; ++j) tot.hits[j] += rank < cx.ks[j] ? s : 0.0;
  tot.count += 1;
}

// The rank by definition, over a strided row: C if any value is NaN.
template <class S>
std::int64_t scalar_rank(const S* x, std::int64_t C, std::int64_t stride, std::int64_t t) {
  const auto xt = load_one(x + t * stride);
  std::int64_t r = 0;
  for (std::int64_t c = 0; c < C; ++c) {
    const auto v = load_one(x + c * stride);
    if (v != v) return C;
    r += (v > xt || (v == xt && c < t)) ? 1 : 0;
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Rows engine

struct EvalSums {
  double e = 0.0, ed = 0.0, wx = 0.0;
  std::int64_t above = 0;  // # x > thr (see header)
};

// The fast path's term: e^{x - k ln2} with FoldedExp's clamp, shift and magic constant, and
// the x it used clamped below, xl = max(lo, x), as the entropy's factor: below lo, e = +0 and
// xl is finite; above hi (where xl is not the x of the exp, min(hi, xl)) the row fails
// Σ <= 2^100 and is redone. Sharing the clamp saves a max. xl - off is taken before the high
// clamp, so the reduction's first FMA is the clamped x's last use and may overwrite it: with
// xc - off after the reduction (xc = min(hi, xl)), GCC copied r every vector and the pass cost
// 122 more instructions per row of 1000 (callgrind). The reduction rounds with one FMA: t = xc log2e + magic lands in [2^23, 2^24) (float;
// [2^52, 2^53) double), so t = magic + n with n = xc log2e rounded exactly to an integer, and
// t's low bits are n - k + bias (FoldedExp's magic), the scale's exponent field; no separate
// round and no add before the shift (the lanes engine's lane_exp does the same). |r| <= ln2/2
// plus one rounding: inside exp_poly's fitted range, so each term keeps exp's accuracy.
template <class T>
struct FoldTerm {
  using V = Vec<T>;
  using C = ExpConst<T>;
  const FoldedExp<T>& fe;
  // e, and *d = xl - off.
  FASTLOSS_INLINE V operator()(V x, V off, V* d) const {
    const V c_lo = max(fe.lo, x);  // constants first: NaN survives
    *d = c_lo - off;
    const V c = min(fe.hi, c_lo);
    const V t = fma(c, V::set1(C::kLog2e), fe.magic);
    const V n = t - fe.magic;
    V r = fnma(n, V::set1(C::kLn2Hi), c);
    r = fnma(n, V::set1(C::kLn2Lo), r);
    return exp_poly(r) * pow2_low_bits(t);
  }
};

// The exact path's term: e^{x - m} with the full exp; xc = max(low, x), low = m + underflow.
template <class T>
struct MaxTerm {
  using V = Vec<T>;
  V m, low;
  V operator()(V x, V off, V* d) const {
    *d = max(low, x) - off;
    return exp(x - m);
  }
};

// f() N times, unrolled: GCC kept skip mode's loop over a block's kEvalBlockSteps steps rolled
// (5 instructions of loop control per step of 4 vectors).
template <int N, class F>
FASTLOSS_INLINE void unroll(const F& f) {
  if constexpr (N > 0) {
    f();
    unroll<N - 1>(f);
  }
}

// 0, 1, ..., kLanes - 1.
template <class T>
Vec<T> lane_index() {
  alignas(64) static constexpr T kIota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static_assert(Vec<T>::kLanes <= 16);
  return Vec<T>::load(kIota);
}

// nextafter(v, -inf) without a libm call (once per row): the largest T below v.
template <class T>
T next_down(T v) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  if (!(v > -std::numeric_limits<T>::infinity())) return v;  // NaN, -inf
  if (v == 0) return -std::numeric_limits<T>::denorm_min();
  Bits b;
  std::memcpy(&b, &v, sizeof b);
  b = v > 0 ? b - 1 : b + 1;
  std::memcpy(&v, &b, sizeof b);
  return v;
}

// The float64 totals of a row's sums, fed at each flush the sum of the U lane accumulators
// (added in T first: one widening per flush, see kEvalBlockSteps). float32 lanes: SumAcc
// (float64 adds; n adds after a big term cost n·2^-53, far below float32's tolerance).
// float64 lanes: added compensated (TwoSum): a plain sum gives a confident row's big term one
// rounding per later flush (C/(8L) of them, same sign on a constant rest), measured up to 12x
// the tolerance at C = 128256 with the target at the max (scalar path; 2x on AVX2).
template <class T>
struct RowTotal {
  SumAcc<T> acc;
  void add(Vec<T> v) { acc.add(v); }
  double total() const { return acc.total(); }
};
template <>
struct RowTotal<double> {
  VecD s = VecD::set1(0.0), c = VecD::set1(0.0);
  void add(VecD v) {
    const VecD t = s + v, bv = t - s;
    c = c + ((s - (t - bv)) + (v - bv));
    s = t;
  }
  double total() const { return reduce_add(s + c); }
};

// Accumulators per sum in eval_pass: two keep the adds' latency hidden and leave AVX2's 16
// registers room for the exp's constants (four spilled the accumulators: a store per vector
// and sum). A step is kEvalUnroll vectors per accumulator (loop overhead per vector halved).
constexpr int kEvalU = 2, kEvalUnroll = 2;
// Terms a lane of an accumulator adds between two flushes of Σ e (the first onto 0, exact);
// the flush adds the kEvalU accumulators in T (one more add for kEvalU = 2) before one
// widening: 8 roundings, each at most 2^-24 times the partial it produces, and no partial
// exceeds the row's Σ (all terms >= 0), so Σ is off by at most 8·2^-24 = 4.8e-7 relative, in
// lse absolute: within the 1e-6 bound on a confident row (the worst case: the dominant 1
// first in a lane, the lane's other terms just below its half-ulp, all dropped). float64
// lanes: the same count, at 2^-53. A block is the steps between two flushes.
constexpr int kEvalLaneTerms = 8;
constexpr int kEvalBlockSteps = kEvalLaneTerms / kEvalUnroll;
static_assert(kEvalU == 2, "the bound above counts one add of the accumulators");
// Blocks between two flushes of the lane counts: a lane counts at most
// 2^16 * kEvalLaneTerms = 2^19 < 2^24 (exact in float32) before it is flushed.
constexpr int kCountFlushBlocks = 1 << 16;
// Σ e·(xc - o) is widened into float64 every this many blocks (Σ e every block, as
// cross-entropy): its origin o is the seed, so a confident row's dominant term is e·0 and
// the float32 lanes only hold terms of like size (see eval_row).
constexpr int kEntropyWidenBlocks = 4;
// With exact ranks wanted, blocks found above thr by max before the rest of the row is counted.
constexpr int kMaxRescans = 2;

// One pass over a row: Σ e, Σ e·(xc - off), Σ w (x - off) (kS) and the rank count
// # x > thr, with (e, xc) = term(x) and t the target's class (thresholds switch at its
// vector). Counts past `cap` are not needed (the top-k hits only ask rank < k <= cap): the
// count may stop there. Per vector beyond cross-entropy's exp and Σ e: a sub and an fma
// (entropy). The rank is done per block of kEvalBlockSteps steps, in one of three ways:
//   count: compare, then add 1 in the lanes above thr (a select);
//   max:   one max per vector; at the block's end, if any lane of the max is above thr,
//          count the block again from L1 (a target near the top: few blocks hold values
//          above it);
//   skip:  the count has reached cap.
// The block holding t's vector (per-vector thresholds) and the tail are always counted. With
// a finite cap, max is used until the cap is reached (so a random target costs one counted
// block, then nothing); with ranks wanted exactly, max until kMaxRescans blocks had values
// above thr, then count.
template <bool kW, bool kS, class S, class Term, class T = Compute<S>>
EvalSums eval_pass(const S* x, std::int64_t n, const Term& term, T off, const T* w, T thr_lo, T thr_hi, std::int64_t t,
                   std::int64_t cap) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr int U = kEvalU;
  constexpr std::int64_t kStep = kEvalUnroll * U * L;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), off_v = V::set1(off);
  const V lo_thr = V::set1(thr_lo), hi_thr = V::set1(thr_hi);
  // The vector holding t (vectors start at multiples of L): lanes below t take thr_lo.
  const std::int64_t t_vec = (t / L) * L;
  const V mix_thr = select(lt(lane_index<T>(), V::set1(static_cast<T>(t - t_vec))), lo_thr, hi_thr);
  auto thr_at = [&](std::int64_t j) { return j < t_vec ? lo_thr : (j == t_vec ? mix_thr : hi_thr); };
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  V e_acc[U], ed_acc[U], wx_acc[U], n_acc[U], mx[U];
  RowTotal<T> e_tot, ed_tot;
  SumAcc<T> wx_tot;
  for (int u = 0; u < U; ++u) e_acc[u] = ed_acc[u] = wx_acc[u] = n_acc[u] = zero;
  std::int64_t above = 0;  // counted, besides what n_acc's lanes hold
  const bool exact = cap == std::numeric_limits<std::int64_t>::max();
  int rescans = 0;  // blocks counted again after max: past kMaxRescans, exact ranks count
  int count_blocks = 0, ed_blocks = 0;
  auto flush_ed = [&] {
    ed_tot.add(pairwise_sum(ed_acc));
    for (int u = 0; u < U; ++u) ed_acc[u] = zero;
    ed_blocks = 0;
  };
  auto flush = [&] {
    e_tot.add(pairwise_sum(e_acc));
    for (int u = 0; u < U; ++u) {
      e_acc[u] = zero;
      if constexpr (kS) {
        wx_tot.add(wx_acc[u]);
        wx_acc[u] = zero;
      }
    }
    if (++ed_blocks == kEntropyWidenBlocks) flush_ed();
  };
  auto flush_count = [&] {
    V n_sum = n_acc[0];
    for (int u = 1; u < U; ++u) n_sum = n_sum + n_acc[u];
    above += static_cast<std::int64_t>(reduce_add(n_sum));  // <= U * 2^19 per lane: exact
    for (int u = 0; u < U; ++u) n_acc[u] = zero;
    count_blocks = 0;
  };
  auto sums = [&](int u, V x_v, V w_v) {
    V d;
    const V e = term(x_v, off_v, &d);
    e_acc[u] = e_acc[u] + e;
    ed_acc[u] = fma(e, d, ed_acc[u]);
    if constexpr (kS) {
      const V d = x_v - off_v;  // unclamped: a masked class makes the smoothed loss +inf
      wx_acc[u] = kW ? fma(w_v, d, wx_acc[u]) : wx_acc[u] + d;
    }
  };
  auto count = [&](int u, V x_v, V thr) { n_acc[u] = select(gt(x_v, thr), n_acc[u] + one, n_acc[u]); };
  auto lanes_max = [&] {
    V m = mx[0];
    for (int u = 1; u < U; ++u) m = max(m, mx[u]);
    return m;
  };
  std::int64_t i = 0;
  // The last n - i < L values into (e_a, ed_a, wx_a). -inf padding: e = 0, e·xc = 0 (xc is
  // clamped), never above thr; the linear sum gets d = 0.
  auto padded = [&](V& e_a, V& ed_a, V& wx_a) {
    const std::int64_t r = n - i;
    const V x_v = V::load_n(x + i, r, kNegInf);
    V d;
    const V e = term(x_v, off_v, &d);
    e_a = e_a + e;
    ed_a = fma(e, d, ed_a);
    if constexpr (kS) {
      const V dw = V::load_n(x + i, r, off) - off_v;
      const V w_v = kW ? V::load_n(w + i, r, 0) : keep_first(one, r);
      wx_a = fma(w_v, dw, wx_a);
    }
  };
  // The block [begin, i) counted again (from L1), thresholds thr_of(j).
  auto recount = [&](std::int64_t begin, auto thr_of) {
    ++rescans;
    V c = zero;
    for (std::int64_t j = begin; j < i; j += L) c = select(gt(V::load(x + j), thr_of(j)), c + one, c);
    above += static_cast<std::int64_t>(reduce_add(c));
  };
  // One block of whole steps up to block_end; rank(u, x_v, j) is the rank's work per vector.
  auto step = [&](auto rank) {
    for (std::int64_t b = 0; b < kStep * static_cast<std::int64_t>(sizeof(S)); b += 64)
      FASTLOSS_PREFETCH(reinterpret_cast<const char*>(x + i) + kPrefetchBytes + b);
    for (int h = 0; h < kEvalUnroll; ++h) {
      for (int u = 0; u < U; ++u) {
        const std::int64_t j = i + (h * U + u) * L;
        const V x_v = V::load(x + j);
        sums(u, x_v, kW && kS ? V::load(w + j) : zero);
        rank(u, x_v, j);
      }
    }
    i += kStep;
  };
  auto block = [&](std::int64_t block_end, auto rank) {
    while (i + kStep <= block_end) step(rank);
  };
  constexpr std::int64_t kBlock = kEvalBlockSteps * kStep;
  std::int64_t block_begin = 0;  // the first step of the block between two flushes
  if (kStep <= n) {
    // The first step is counted: a random target reaches a small cap there. The rest of its
    // block follows in the mode that count selects.
    block(kStep, [&](int u, V x_v, std::int64_t j) { count(u, x_v, thr_at(j)); });
    flush_count();
  }
  while (i + kStep <= n) {
    if (above >= cap) {
      // The rest of the row in skip mode, in its own loops: the block under way flushed as
      // it stands, whole blocks of a fixed step count (unrolled), then the rest as one block
      // and return. The Σ e and Σ e·d accumulators live in locals here: with the arrays
      // shared by every mode, GCC moved them (zeroed, and the float64 totals) through stack
      // slots at each block.
      V ea[U], eda[U];
      for (int u = 0; u < U; ++u) {
        ea[u] = e_acc[u];
        eda[u] = ed_acc[u];
      }
      auto skip_vec = [&](int u, std::int64_t j) {
        const V x_v = V::load(x + j);
        V d;
        const V e = term(x_v, off_v, &d);
        eda[u] = fma(e, d, eda[u]);
        // e·1 + Σ is Σ + e, rounded once; as an FMA GCC keeps Σ in a register (an add was
        // sunk to the block's end, each e stored to the stack and added back from it).
        ea[u] = fma(e, one, ea[u]);
        if constexpr (kS) {
          const V dw = x_v - off_v;
          wx_acc[u] = kW ? fma(V::load(w + j), dw, wx_acc[u]) : wx_acc[u] + dw;
        }
      };
      auto skip_step = [&] {
        for (std::int64_t b = 0; b < kStep * static_cast<std::int64_t>(sizeof(S)); b += 64)
          FASTLOSS_PREFETCH(reinterpret_cast<const char*>(x + i) + kPrefetchBytes + b);
        for (int h = 0; h < kEvalUnroll; ++h)
          for (int u = 0; u < U; ++u) skip_vec(u, i + (h * U + u) * L);
        i += kStep;
      };
      // flush's logic over these locals. One lambda taking either set by reference served
      // both with more instructions per row: GCC allocated the shared body worse.
      auto skip_flush = [&] {
        e_tot.add(pairwise_sum(ea));
        for (int u = 0; u < U; ++u) {
          ea[u] = zero;
          if constexpr (kS) {
            wx_tot.add(wx_acc[u]);
            wx_acc[u] = zero;
          }
        }
        if (++ed_blocks == kEntropyWidenBlocks) {
          ed_tot.add(pairwise_sum(eda));
          for (int u = 0; u < U; ++u) eda[u] = zero;
          ed_blocks = 0;
        }
      };
      // The block under way is flushed now, not completed: whole blocks then run from here
      // (fewer terms per lane between two flushes only tightens the bound above).
      skip_flush();
      for (; i + kBlock <= n; skip_flush()) unroll<kEvalBlockSteps>(skip_step);
      // The rest, fewer than kBlock / L whole vectors and the padded last, as one block:
      // pairs, then one vector into ea[0], the padded one into ea[1]; at most
      // kEvalLaneTerms terms per lane.
      static_assert(kBlock / L <= 2 * kEvalLaneTerms && U == 2);
      for (; i + 2 * L <= n; i += 2 * L) {
        skip_vec(0, i);
        skip_vec(1, i + L);
      }
      if (i + L <= n) {
        skip_vec(0, i);
        i += L;
      }
      if (i < n) padded(ea[1], eda[1], wx_acc[1]);
      e_tot.add(pairwise_sum(ea));
      ed_tot.add(pairwise_sum(eda));
      if constexpr (kS)
        for (int u = 0; u < U; ++u) wx_tot.add(wx_acc[u]);
      if (count_blocks > 0) flush_count();
      return {e_tot.total(), ed_tot.total(), kS ? wx_tot.total() : 0.0, above};
    }
    const std::int64_t begin = i, block_end = std::min(n, block_begin + kBlock);
    block_begin = block_end;
    const bool below = block_end <= t_vec, past = i > t_vec;  // every vector below / above t's
    if (exact && rescans >= kMaxRescans) {
      if (below || past) {
        const V thr = below ? lo_thr : hi_thr;
        block(block_end, [&](int u, V x_v, std::int64_t) { count(u, x_v, thr); });
      } else {
        block(block_end, [&](int u, V x_v, std::int64_t j) { count(u, x_v, thr_at(j)); });
      }
      ++count_blocks;
    } else if (below || past) {
      for (int u = 0; u < U; ++u) mx[u] = V::set1(kNegInf);
      // x first: a NaN lane is dropped (a row with NaN is ranked by scalar_rank).
      block(block_end, [&](int u, V x_v, std::int64_t) { mx[u] = max(x_v, mx[u]); });
      const V thr = below ? lo_thr : hi_thr;
      if (any(gt(lanes_max(), thr))) recount(begin, [&](std::int64_t) { return thr; });
    } else {
      // The block of t's vector: max over the other vectors against thr_lo (x >= x_t: a
      // superset of those above), t's own vector counted alone.
      for (int u = 0; u < U; ++u) mx[u] = V::set1(kNegInf);
      block(block_end, [&](int u, V x_v, std::int64_t j) {
        if (j != t_vec) mx[u] = max(x_v, mx[u]);
      });
      if (any(gt(lanes_max(), lo_thr))) {
        recount(begin, thr_at);
      } else if (t_vec < i) {  // else t's vector lies past the whole steps: the tail counts it
        above += static_cast<std::int64_t>(reduce_add(select(gt(V::load(x + t_vec), mix_thr), one, zero)));
      }
    }
    flush();
    if (count_blocks > 0 && (!exact || count_blocks == kCountFlushBlocks)) flush_count();
  }
  const bool tail_count = above < cap;
  for (; i + L <= n; i += L) {
    const V x_v = V::load(x + i);
    sums(0, x_v, kW && kS ? V::load(w + i) : zero);
    if (tail_count) count(0, x_v, thr_at(i));
  }
  if (i < n) {
    padded(e_acc[0], ed_acc[0], wx_acc[0]);
    if (tail_count) count(0, V::load_n(x + i, n - i, kNegInf), thr_at(i));
  }
  flush();
  if (ed_blocks > 0) flush_ed();
  if (tail_count || count_blocks > 0) flush_count();
  return {e_tot.total(), ed_tot.total(), kS ? wx_tot.total() : 0.0, above};
}

// the per-row tolerance on H (abs + rel·|H|), and kFold: the folded pass's error on H
// per unit of |E_p[x] - o| (o its origin). Its lanes round x - o, e·(x - o) and their sums
// (relative u each, u = T's unit roundoff), so Σ e·(x - o) / Σ e is off by about
// c·u·|E_p[x] - o|: c <= 8.3 measured (float32; <= 13 float64, compensated totals) over
// confident rows with a random or constant rest, several tied top classes and scaled normal
// rows, C = 49 to 128256, scalar and AVX2. kFold takes c = 16.
template <class T>
struct EntropyTol;
template <>
struct EntropyTol<float> {
  static constexpr double kAbs = 1e-6, kRel = 1e-5, kFold = 16 * 0x1p-24;
};
template <>
struct EntropyTol<double> {
  static constexpr double kAbs = 1e-13, kRel = 1e-12, kFold = 16 * 0x1p-53;
};

// True when the folded pass's H may miss half of the tolerance: mean_d = Σ e·(xc - o) /
// Σ e = E_p[x] - o, h its H. A row whose mass sits far above the seed (a confident row
// whose top class is neither the target nor in the first vector) fails; random rows (mass
// near the seed, or H large) pass with a wide margin.
template <class T>
bool fold_inexact(double mean_d, double h) {
  using Tol = EntropyTol<T>;
  return !(Tol::kFold * std::fabs(mean_d) <= 0.5 * (Tol::kAbs + Tol::kRel * std::fabs(h)));
}

struct RowEval {
  double loss, ent, lse;
  std::int64_t rank;
};

// One row (n_inner == 1) against class t (a valid class; for an uncounted row any class, its
// loss and rank are then ignored). The rank is exact below cap, and >= cap otherwise.
// S: the storage type of the logits (half.hpp), T its compute type.
template <class S, bool kW, bool kS>
RowEval eval_row(const S* x, std::int64_t t, const CeSetup<S>& cs, std::int64_t cap) {
  using T = Compute<S>;
  const std::int64_t C = cs.C;
  const T* w = cs.w;
  using V = Vec<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const T xt = load_one(x + t);
  const double wt = kW ? double(w[t]) : 1.0;
  const T thr_lo = next_down(xt), thr_hi = xt;
  double base = 0, rel = 0, off = 0;
  EvalSums s;
  bool finite = false;
  const double m0 = reduce_max(V::load_n(x, std::min<std::int64_t>(V::kLanes, C), -kInf));
  const double seed = double(xt) > m0 ? double(xt) : m0;
  FoldedExp<T> fe;
  if (fe.init(seed)) {
    // The linear sums' origin is the seed (a value of the row): a confident row's target
    // term then adds e·0 to the entropy's sum.
    const T origin = static_cast<T>(seed);
    s = eval_pass<kW, kS>(x, C, FoldTerm<T>{fe}, origin, w, thr_lo, thr_hi, t, cap);
    if (s.e >= 0.5 && s.e <= 0x1p100) {
      rel = std::log(s.e);
      const double mean_d = s.ed / s.e;
      if (!fold_inexact<T>(mean_d, ((fe.shift - double(origin)) + rel) - mean_d)) {
        finite = true;
        base = fe.shift;
        off = double(origin);
      }
    }
  }
  if (!finite) {
    const T m = row_max(x, C);
    if (std::fabs(m) <= std::numeric_limits<T>::max()) {
      // Below m + kUnderflow, exp(x - m) is exactly 0.
      const T low = m + ExpConst<T>::kUnderflow;
      s = eval_pass<kW, kS>(x, C, MaxTerm<T>{V::set1(m), V::set1(low)}, m, w, thr_lo, thr_hi, t, cap);
      if (s.e >= 1.0) {
        finite = true;
        base = double(m);
        rel = std::log(s.e);
        off = double(m);
      }
    }
  }
  RowEval r;
  if (finite) {
    r.lse = base + rel;
    double loss = wt * ((base - double(xt)) + rel);
    if constexpr (kS) loss = (1.0 - cs.eps) * loss + cs.eps_over_c * (cs.w_total * ((base - off) + rel) - s.wx);
    r.loss = loss;
    r.ent = ((base - off) + rel) - s.ed / s.e;
    r.rank = xt == -kInf ? scalar_rank(x, C, 1, t) : s.above;
  } else {
    r.lse = nonfinite_lse(x, C, 1);
    r.loss = r.ent = std::numeric_limits<double>::quiet_NaN();
    r.rank = scalar_rank(x, C, 1, t);
  }
  return r;
}

template <class S, class Idx, bool kW, bool kS>
EvalTotals eval_rows(const EvaluateArgs& a, const CeSetup<S>& cs, const EvalCtx& cx) {
  using T = Compute<S>;
  const Idx* tg = static_cast<const Idx*>(a.target);
  S* o_ent = static_cast<S*>(a.out_entropy);
  S* o_lse = static_cast<S*>(a.out_lse);
  const bool any_out = cs.out || a.out_rank || o_ent || o_lse;
  const std::int64_t C = cs.C;
  // Without per-row ranks only rank < k matters: counting may stop at the largest k.
  std::int64_t cap = cx.k_max;
  if (a.out_rank) cap = std::numeric_limits<std::int64_t>::max();
  return ordered_reduce<EvalTotals>(a.n_outer, min_chunk_items(C), a.n_threads,
                                    [&](std::int64_t begin, std::int64_t end) {
    EvalTotals tot = EvalTotals::zero();
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t tr = load_one(tg + r);
      const TargetCheck k = check_target(tr, cs);
      if (k == TargetCheck::kBad) {
        note_bad(tot.first_bad, r);
        continue;
      }
      const bool counted = k == TargetCheck::kCounted;
      if (!counted && !any_out) continue;
      const RowEval ev = eval_row<S, kW, kS>(cs.x + r * C, counted ? tr : 0, cs, counted ? cap : 0);
      if (counted) eval_add(tot, cx, r, kW ? double(cs.w[tr]) : 1.0, ev.loss, ev.rank, ev.ent, ev.lse);
      if (!any_out) continue;
      if (cs.out) store_one(cs.out + r, counted ? static_cast<T>(ev.loss) : T(0));
      if (a.out_rank) a.out_rank[r] = counted ? ev.rank : -1;
      if (o_ent) store_one(o_ent + r, static_cast<T>(ev.ent));
      if (o_lse) store_one(o_lse + r, static_cast<T>(ev.lse));
    }
    return tot;
  });
}

// ---------------------------------------------------------------------------------------
// Lanes engine

// evaluate's sums on the terms of lane_stats' exact pass (lane_engine.hpp's LaneSide): per
// lane Σ e·(x - m), with x clamped where e is exactly 0 (a masked class adds 0·finite), for
// the entropy, and the rank count # x > thr with thr = next_down(x_t) below the target's class
// and x_t from it on. Counts are exact in T (< 2^24 classes).
template <class T, int U>
struct EvalLaneSide {
  static constexpr bool kOn = true;
  using V = Vec<T>;
  V t_v[U], xt_v[U], lo_v[U];  // per lane: the target's class as T, x_t, next_down(x_t)
  V c_v, ed_acc[U], n_acc[U];
  LaneSum<T> ed_tot[U];
  bool widened = false;
  FASTLOSS_INLINE void term(std::int64_t, int u, V xv, V nd, V e) {
    ed_acc[u] = fnma(e, min(V::set1(kLaneExpCut<T>), nd), ed_acc[u]);
    const V thr = select(lt(c_v, t_v[u]), lo_v[u], xt_v[u]);
    n_acc[u] = n_acc[u] + select(gt(xv, thr), V::set1(T(1)), V::set1(T(0)));
    if (u == U - 1) c_v = c_v + V::set1(T(1));
  }
  void flush() {
    for (int u = 0; u < U; ++u) {
      ed_tot[u].add(ed_acc[u]);
      ed_acc[u] = V::set1(T(0));
    }
    widened = true;
  }
  V ed(int u) const { return widened ? ed_tot[u].value() : ed_acc[u]; }
};

template <class S, class Idx, bool kW, bool kS>
EvalTotals eval_lanes(const EvaluateArgs& a, const CeSetup<S>& cs, const EvalCtx& cx) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr int U = kLaneBlocks;
  constexpr std::int64_t G = kGroup<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  using F = RowFlags<false, kS, false, kW && kS>;
  S* o_ent = static_cast<S*>(a.out_entropy);
  S* o_lse = static_cast<S*>(a.out_lse);
  const std::int64_t C = cs.C, n_inner = cs.n_inner, n_outer = a.n_outer;
  const T ome = static_cast<T>(1.0 - cs.eps), eoc = smoothing_weight<T>(cs.eps, cs.eps_over_c);
  const V w_total = V::set1(static_cast<T>(cs.w_total));

  auto group = [&](std::int64_t row0, std::int64_t lanes, const auto& src, EvalTotals& tot) {
    std::int64_t cls[G];
    T xt[G], wt[G], tf[G], thr_lo[G];
    lane_targets<S, Idx, kW>(cs, row0, lanes, cls, xt, wt, tot.first_bad);
    for (std::int64_t j = 0; j < G; ++j) {
      if (cls[j] < 0) xt[j] = kInf;  // nothing is above it: the count stays 0
      tf[j] = cls[j] < 0 ? T(0) : static_cast<T>(cls[j]);
      thr_lo[j] = next_down(xt[j]);
    }
    EvalLaneSide<T, U> side;
    side.c_v = V::set1(T(0));
    for (int u = 0; u < U; ++u) {
      side.t_v[u] = V::load(tf + u * L);
      side.xt_v[u] = V::load(xt + u * L);
      side.lo_v[u] = V::load(thr_lo + u * L);
      side.ed_acc[u] = side.n_acc[u] = V::set1(T(0));
    }
    LaneStats<T, U> st;
    lane_stats<F, T, U>(src, src, C, cs.w, ome, eoc, NoStoreExp{}, st, NoLaneTarget{}, side);
    T r_loss[G], r_ent[G], r_lse[G], r_sum[G], r_cnt[G];
    for (int u = 0; u < U; ++u) {
      const V lg = log(st.sum[u]);
      lane_ce_loss<kW, kS>(st.m[u], side.xt_v[u], V::load(wt + u * L), lg, st.wx[u], V::set1(ome), V::set1(eoc),
                           w_total)
          .store(r_loss + u * L);
      (lg - side.ed(u) / st.sum[u]).store(r_ent + u * L);
      (st.m[u] + lg).store(r_lse + u * L);
      st.sum[u].store(r_sum + u * L);
      side.n_acc[u].store(r_cnt + u * L);
    }
    for (std::int64_t j = 0; j < lanes; ++j) {
      const std::int64_t row = row0 + j;
      const bool counted = cls[j] >= 0;
      const std::int64_t t = counted ? cls[j] : 0;
      double loss = r_loss[j], ent = r_ent[j], lse = r_lse[j];
      std::int64_t rank = static_cast<std::int64_t>(r_cnt[j]);
      const S* xr = n_inner == 1 ? cs.x + row * C : cs.x + (row / n_inner) * C * n_inner + row % n_inner;
      // Σ >= 1 on a finite row (its max is one of the terms); NaN, +inf and all -inf fail.
      if (!(r_sum[j] >= T(1)) || !(std::fabs(lse) <= std::numeric_limits<double>::max())) {
        lse = nonfinite_lse(xr, C, n_inner);
        loss = ent = std::numeric_limits<double>::quiet_NaN();
        rank = scalar_rank(xr, C, n_inner, t);
      } else if (counted && xt[j] == -kInf) {
        rank = scalar_rank(xr, C, n_inner, t);
      }
      if (counted) eval_add(tot, cx, row, double(wt[j]), loss, rank, ent, lse);
      if (cs.out) store_one(cs.out + row, counted ? static_cast<T>(loss) : T(0));
      if (a.out_rank) a.out_rank[row] = counted ? rank : -1;
      if (o_ent) store_one(o_ent + row, static_cast<T>(ent));
      if (o_lse) store_one(o_lse + row, static_cast<T>(lse));
    }
  };
  return ordered_reduce<EvalTotals>(lane_items(n_outer, n_inner, G), min_chunk_items(G * C), a.n_threads,
                                    [&](std::int64_t ib, std::int64_t ie) {
    EvalTotals tot = EvalTotals::zero();
    T sx[kScratch<T>], sy[kScratch<T>];
    for (std::int64_t q = ib; q < ie; ++q)
      with_lane_group(cs.x, static_cast<const S*>(nullptr), n_outer, C, n_inner, q, sx, sy,
                      [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto&) {
        // Whole tiles come as their own types: as the general one (copied or in place, S).
        group(row0, lanes, ContiguousLanes<typename std::decay_t<decltype(src)>::Storage>(src), tot);
      });
    return tot;
  });
}

// ---------------------------------------------------------------------------------------

// S: the storage type of the logits (half.hpp).
template <class S>
EvaluateResult evaluate(const EvaluateArgs& a) {
  if (a.n_outer <= 0 || a.n_inner <= 0 || a.n_classes <= 0) return {};
  const CeSetup<S> cs = ce_setup<S>(a, a.out_loss);
  EvalCtx cx{a.topk, std::min(a.n_topk, kMaxTopk), a.sample_weight};
  for (int j = 0; j < cx.nk; ++j) cx.k_max = std::max(cx.k_max, cx.ks[j]);
  const bool rows = uses_rows_engine(cs.C, cs.n_inner);
  return with_ce_types<false>(cs, a.target_kind, [&](auto idx, auto kw, auto ks) {
    using Idx = typename decltype(idx)::type;
    constexpr bool kW = decltype(kw)::value, kS = decltype(ks)::value;
    return rows ? eval_rows<S, Idx, kW, kS>(a, cs, cx) : eval_lanes<S, Idx, kW, kS>(a, cs, cx);
  });
}

}  // namespace fastloss::FASTLOSS_ISA
