// Fused cross-entropy and nll_loss (docs/semantics.md), with lp = log_softmax(x), w the class
// weights (ones without weight), ε = label_smoothing, W = Σ_c w_c:
//   class indices:  l_i = (1-ε) w_t (lse_i - x_it) + (ε/C) (W lse_i - Σ_c w_c x_ic),
//                   rows with t == ignore_index give 0 and count for nothing; "mean" divides by
//                   Σ w_t over the counted rows (the kernel returns both sums);
//   probabilities:  l_i = Σ_c w_c y'_ic (lse_i - x_ic) = lse_i Σ w y' - Σ w y' x,
//                   y' = (1-ε) y + ε/C, computed per element (so that y = 0 on a masked class
//                   gives NaN when ε = 0 and +inf when ε > 0, as torch);
//   nll_loss:       l_i = -w_t lp_it.
// One pass over the logits (row_engine.hpp and lane_engine.hpp): lse, the target logit (loaded directly
// after the index check), Σ w (x - off) for label smoothing and the probability sums all come
// out of the same read; the linear sums are taken relative to an origin `off` near the row
// max (the fold's shift, or the max), so that W lse - Σ w x does not cancel on rows offset by
// ±50. Per-row losses are float64, summed in row order within a chunk; the chunks are merged
// by parallel.hpp's ordered_reduce. A row whose lse is not finite (all -inf, any +inf or NaN)
// gives NaN, as torch. Setup, target check and dispatch: ce_front.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

#include "attributes.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/args.hpp"
#include "kernels/ce_front.hpp"
#include "kernels/lane_engine.hpp"
#include "kernels/row_engine.hpp"
#include "kernels/unaligned.hpp"
#include "math/log.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// The totals of a chunk of rows: an ordered_reduce state.
struct CeTotals {
  double loss, weight;
  std::int64_t bad;
  static CeTotals zero() { return {0.0, 0.0, -1}; }
  void merge(const CeTotals& o) {
    loss += o.loss;
    weight += o.weight;
    if (o.bad >= 0 && (bad < 0 || o.bad < bad)) bad = o.bad;
  }
};

// Index-target row r of class t into tot: a counted row adds row_loss(t) -> {loss, w_t}, an
// ignored one 0, a bad one is noted and never read; out[r] gets the row's loss.
template <class S, class RowLoss>
FASTLOSS_INLINE void add_index_row(CeTotals& tot, const CeSetup<S>& s, std::int64_t r, std::int64_t t,
                                   RowLoss&& row_loss) {
  const TargetCheck k = check_target(t, s);
  double loss = 0.0;
  if (k == TargetCheck::kBad) {
    note_bad(tot.bad, r);
  } else if (k == TargetCheck::kCounted) {
    const auto [l, wt] = row_loss(t);
    loss = l;
    tot.loss += loss;
    tot.weight += wt;
  }
  if (s.out) store_one(s.out + r, static_cast<Compute<S>>(loss));
}

// Index targets, rows engine (n_inner == 1, many classes).
template <class S, class Idx, bool kW, bool kS>
CeTotals ce_index_rows(const CeSetup<S>& s, std::int64_t n_rows, int n_threads) {
  const Idx* t = static_cast<const Idx*>(s.target);
  const std::int64_t C = s.C;
  RowOpts<S> o;
  o.w = s.w;
  return ordered_reduce<CeTotals>(n_rows, min_chunk_items(C), n_threads, [&](std::int64_t begin, std::int64_t end) {
    CeTotals tot = CeTotals::zero();
    for (std::int64_t r = begin; r < end; ++r) {
      add_index_row(tot, s, r, load_one(t + r), [&](std::int64_t tr) {
        const S* xr = s.x + r * C;
        const double xt = load_one(xr + tr), wt = kW ? double(load_one(s.w + tr)) : 1.0;
        const RowLse res = row_lse<RowFlags<false, kS, false, kW && kS>>(xr, C, xt, o);
        if (!res.finite) return std::pair{std::numeric_limits<double>::quiet_NaN(), wt};
        double loss = wt * ((res.base - xt) + res.rel);
        if constexpr (kS)
          loss = (1.0 - s.eps) * loss + s.eps_over_c * (s.w_total * ((res.base - res.off) + res.rel) - res.sums.wx);
        return std::pair{loss, wt};
      });
    }
    return tot;
  });
}

// Probability targets, rows engine.
template <class S, bool kW>
CeTotals ce_prob_rows(const CeSetup<S>& s, std::int64_t n_rows, int n_threads) {
  using T = Compute<S>;
  const S* y = static_cast<const S*>(s.target);
  const std::int64_t C = s.C;
  return ordered_reduce<CeTotals>(n_rows, min_chunk_items(2 * C), n_threads, [&](std::int64_t begin, std::int64_t end) {
    CeTotals tot = CeTotals::zero();
    RowOpts<S> o;
    o.w = s.w;
    o.one_minus_eps = static_cast<T>(1.0 - s.eps);
    o.eps_over_c = smoothing_weight<T>(s.eps, s.eps_over_c);
    for (std::int64_t r = begin; r < end; ++r) {
      o.y = y + r * C;
      const RowLse res = row_lse<RowFlags<false, false, true, kW>>(s.x + r * C, C,
                                                                   std::numeric_limits<double>::quiet_NaN(), o);
      const double loss = res.finite ? ((res.base - res.off) + res.rel) * res.sums.wy - res.sums.wyx
                                     : std::numeric_limits<double>::quiet_NaN();
      if (s.out) store_one(s.out + r, static_cast<T>(loss));
      tot.loss += loss;
    }
    return tot;
  });
}

// Renormalize the per-lane product of row sums (ce_lanes) every this many groups: a fast
// group's Σ is in [1, 4096] (C <= 2^24 on the exact path), so four stay below 2^97.
constexpr int kProdEvery = 4;

// Both target kinds on the lanes engine (n_inner > 1, or few classes): kProb, probabilities.
// Index targets are read as lanes (Vec::load_index) and x_t, w_t picked inside the class loop
// (LaneTarget) while C <= kMaxLaneIndex, else by scalar loads. For "mean" and "sum" without
// weights the coefficient of lse in a row's loss is 1 (label smoothing included), so
// Σ_rows log Σ_r = log Π Σ_r: each lane keeps the product of its rows' Σ (ignored rows give
// 1), renormalized by decompose (mantissa kept, exponent added up exactly), and takes one log
// per chunk; only the linear part (m - (1-ε) x_t - (ε/C) Σ (x - m)) is added per row. A group
// whose Σ is not a number takes the per-row log (its loss is NaN).
template <class S, bool kProb, bool kW, bool kS, bool kTiles>
CeTotals ce_lanes(const CeSetup<S>& s, std::int64_t n_outer, int n_threads) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr std::int64_t G = kLaneBlocks * L;
  constexpr int U = kLaneBlocks;
  using F = RowFlags<false, kS && !kProb, kProb, kW && (kS || kProb)>;
  using Tgt = std::conditional_t<kProb, NoLaneTarget, LaneTarget<T, U, kW>>;
  const std::int64_t C = s.C, n_inner = s.n_inner;
  const T ome = static_cast<T>(1.0 - s.eps), eoc = smoothing_weight<T>(s.eps, s.eps_over_c);
  const bool vec_target = !kProb && C >= 1 && C <= kMaxLaneIndex;
  const bool product = vec_target && !kW && !s.out;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), minus_one = V::set1(T(-1));
  const S* y = kProb ? static_cast<const S*>(s.target) : nullptr;
  struct Part {
    CeTotals tot;
    SumAcc<T> acc, acc_w, acc_e;
    V prod[U];
    V counted[U];  // rows counted per lane (exact in T: < 2^24 groups per chunk up to 2^38 rows)
    int since;
  };
  auto renormalize = [&](Part& pt) {
    for (int u = 0; u < U; ++u) {
      V e;
      pt.prod[u] = decompose(pt.prod[u], &e);
      pt.acc_e.add(e);
    }
    pt.since = 0;
  };
  auto group = [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y, Part& pt)
                   FASTLOSS_LAMBDA_INLINE {
    Tgt tg;
    // Scalar lookups (C > kMaxLaneIndex) and the valid lanes of probability targets.
    T xt[G], wt[G], valid[G];
    if constexpr (!kProb) {
      // The target type is a run-time choice here (a branch per group): as a template
      // parameter it doubled the engine's instantiations for nothing measurable.
      auto read_targets = [&](const auto* t) FASTLOSS_LAMBDA_INLINE {
        using Idx = std::remove_const_t<std::remove_pointer_t<decltype(t)>>;
        FASTLOSS_PREFETCH(t + row0 + kLaneAhead * G);
        if (vec_target) {
          tg.w = s.w;
          const Idx* tp = t + row0;
          Idx pad[G];
          if (lanes < G) {  // the last group: never read past the targets
            // Padding lanes hold ignore_index (or -1, flagged bad but never reported: j >= lanes).
            const Idx fill = std::int64_t(Idx(s.ignore)) == s.ignore ? Idx(s.ignore) : Idx(-1);
            for (std::int64_t j = 0; j < G; ++j) pad[j] = j < lanes ? load_one(tp + j) : fill;
            tp = pad;
          }
          bool bad = false;
          for (int u = 0; u < U; ++u) {
            const V cls = V::load_index(tp + u * L, C, s.ignore);  // -1 ignored, -2 bad
            bad = bad || any(lt(cls, minus_one));
            tg.lane[u].cls = cls;
            tg.lane[u].xt = tg.lane[u].wt = zero;
          }
          if (bad && pt.tot.bad < 0) {
            for (std::int64_t j = 0; j < lanes && pt.tot.bad < 0; ++j)
              if (check_target(load_one(t + row0 + j), s) == TargetCheck::kBad) pt.tot.bad = row0 + j;
          }
        } else {
          for (int u = 0; u < U; ++u) tg.lane[u].cls = minus_one;  // nothing to pick in the class loop
          std::int64_t cls[G];
          lane_targets<S, Idx, kW>(s, row0, lanes, cls, xt, wt, pt.tot.bad);
          for (std::int64_t j = 0; j < G; ++j) valid[j] = cls[j] >= 0 ? T(1) : T(0);
        }
      };
      if (s.kind == TargetKind::kInt32) read_targets(static_cast<const std::int32_t*>(s.target));
      else read_targets(static_cast<const std::int64_t*>(s.target));
    } else {
      for (std::int64_t j = 0; j < G; ++j) valid[j] = j < lanes ? T(1) : T(0);
    }
    LaneStats<T, U> st;
    lane_stats<F, T, U>(src, src_y, C, s.w, ome, eoc, NoStoreExp{}, st, tg);
    if constexpr (!kProb) {
      if (product) {
        V sm[U];
        bool finite = true;
        for (int u = 0; u < U; ++u) {
          sm[u] = select(lt(tg.lane[u].cls, zero), one, st.sum[u]);
          finite = finite && none(is_nan(sm[u]));  // a row that is not finite (Σ NaN, even on the fast path)
        }
        if (finite) {
          for (int u = 0; u < U; ++u) {
            V lin = st.m[u] - tg.lane[u].xt;
            if constexpr (kS) lin = fnma(V::set1(eoc), st.wx[u], V::set1(ome) * lin);
            const auto skip = lt(tg.lane[u].cls, zero);
            pt.acc.add(select(skip, zero, lin));
            pt.counted[u] = pt.counted[u] + select(skip, zero, one);
            pt.prod[u] = pt.prod[u] * sm[u];
          }
          if (++pt.since == kProdEvery) renormalize(pt);
          return;
        }
      }
    }
    for (int u = 0; u < U; ++u) {
      const V lg = log(st.sum[u]);
      V loss;
      auto is_valid = [&] {
        if constexpr (!kProb) {
          if (vec_target) return ge(tg.lane[u].cls, zero);
        }
        return gt(V::load(valid + u * L), zero);
      };
      if constexpr (kProb) {
        loss = lg * st.wy[u] - st.wyx[u];
      } else {
        // Read back only now, after lane_stats: a vector load right after the prologue's scalar
        // stores would stall on store forwarding.
        const V x_t = vec_target ? tg.lane[u].xt : V::load(xt + u * L);
        const V w_u = !kW ? one : vec_target ? tg.lane[u].wt : V::load(wt + u * L);
        if constexpr (kW) {
          pt.acc_w.add(w_u);
        } else if (vec_target) {
          pt.counted[u] = pt.counted[u] + select(lt(tg.lane[u].cls, zero), zero, one);
        } else {
          pt.acc_w.add(V::load(wt + u * L));
        }
        loss = lane_ce_loss<kW, kS>(st.m[u], x_t, w_u, lg, st.wx[u], V::set1(ome), V::set1(eoc),
                                    V::set1(static_cast<T>(s.w_total)));
      }
      // select, not a product: an ignored row of NaN logits still gives exactly 0.
      loss = select(is_valid(), loss, zero);
      const std::int64_t left = lanes - u * L;
      if (s.out && left > 0) {
        if (left >= L) loss.store(s.out + row0 + u * L);
        else loss.store_n(s.out + row0 + u * L, left);
      }
      pt.acc.add(loss);
    }
  };
  // Lane groups (as for_lane_groups cuts them) in chunks.
  return ordered_reduce<CeTotals>(lane_items(n_outer, n_inner, G), min_chunk_items(G * C), n_threads,
                                  [&](std::int64_t ib, std::int64_t ie) {
    T sx[kScratch<T>], sy[kScratch<T>];
    Part pt{CeTotals::zero(), {}, {}, {}, {}, {}, 0};
    for (int u = 0; u < U; ++u) {
      pt.prod[u] = one;
      pt.counted[u] = zero;
    }
    for_row_groups<kTiles>(s.x, y, n_outer, C, n_inner, ib, ie, sx, sy,
                           [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y)
                               FASTLOSS_LAMBDA_INLINE { group(row0, lanes, src, src_y, pt); });
    if (product) {
      renormalize(pt);  // prod in [sqrt(2)/2, sqrt(2)): its log is small and exact to ~1e-8
      for (int u = 0; u < U; ++u) pt.acc.add(log(pt.prod[u]));
    }
    pt.tot.loss = pt.acc.total() + kLn2d * pt.acc_e.total();
    if (!kW && vec_target)
      for (int u = 0; u < U; ++u) pt.acc_w.add(pt.counted[u]);
    pt.tot.weight = pt.acc_w.total();
    return pt.tot;
  });
}

// S: the storage type of the logits (half.hpp).
template <class S>
CrossEntropyResult cross_entropy(const CrossEntropyArgs& a) {
  if (a.n_outer <= 0 || a.n_inner <= 0) return {0.0, 0.0, -1};
  const CeSetup<S> s = ce_setup<S>(a, a.out);
  const bool rows = uses_rows_engine(s.C, s.n_inner);
  const CeTotals tot = with_ce_types<true>(s, a.target_kind, [&](auto idx, auto kw, auto ks) {
    using Idx = typename decltype(idx)::type;
    constexpr bool kW = decltype(kw)::value, kS = decltype(ks)::value;
    if (rows) {
      if constexpr (std::is_void_v<Idx>) return ce_prob_rows<S, kW>(s, a.n_outer, a.n_threads);
      else return ce_index_rows<S, Idx, kW, kS>(s, a.n_outer, a.n_threads);
    }
    constexpr bool kProb = std::is_void_v<Idx>, kSm = kS && !kProb;
    return s.n_inner == 1 ? ce_lanes<S, kProb, kW, kSm, false>(s, a.n_outer, a.n_threads)
                          : ce_lanes<S, kProb, kW, kSm, true>(s, a.n_outer, a.n_threads);
  });
  return {tot.loss, tot.weight, tot.bad};
}

// nll_loss: one load per row, -w_t lp[t].
constexpr std::int64_t kNllAhead = 16;

template <class S, class Idx, bool kW>
CeTotals nll_rows(const CeSetup<S>& s, std::int64_t n_outer, int n_threads) {
  const Idx* t = static_cast<const Idx*>(s.target);
  const std::int64_t C = s.C, n_inner = s.n_inner;
  return ordered_reduce<CeTotals>(n_outer * n_inner, 1 << 14, n_threads, [&](std::int64_t begin, std::int64_t end) {
    CeTotals tot = CeTotals::zero();
    std::int64_t outer = begin / n_inner, inner = begin % n_inner;
    for (std::int64_t r = begin; r < end; ++r) {
      // Each row's one value sits in its own cache line, so the hardware prefetcher cannot
      // follow: fetch row r + kNllAhead's now, to keep several misses in flight.
      if (r + kNllAhead < end) {
        const std::int64_t ra = r + kNllAhead, ta = load_one(t + ra);
        if (ta >= 0 && ta < C)
          FASTLOSS_PREFETCH(n_inner == 1 ? s.x + ra * C + ta
                                         : s.x + ((ra / n_inner) * C + ta) * n_inner + ra % n_inner);
      }
      add_index_row(tot, s, r, load_one(t + r), [&](std::int64_t tr) {
        const double wt = kW ? double(load_one(s.w + tr)) : 1.0;
        return std::pair{-(wt * double(load_one(s.x + (outer * C + tr) * n_inner + inner))), wt};
      });
      if (++inner == n_inner) {
        inner = 0;
        ++outer;
      }
    }
    return tot;
  });
}

template <class S>
CrossEntropyResult nll_loss(const CrossEntropyArgs& a) {
  if (a.n_outer <= 0 || a.n_inner <= 0) return {0.0, 0.0, -1};
  const CeSetup<S> s = ce_setup<S>(a, a.out);
  const CeTotals tot = with_ce_types<false>(s, a.target_kind, [&](auto idx, auto kw, auto) {
    return nll_rows<S, typename decltype(idx)::type, decltype(kw)::value>(s, a.n_outer, a.n_threads);
  });
  return {tot.loss, tot.weight, tot.bad};
}

}  // namespace fastloss::FASTLOSS_ISA
