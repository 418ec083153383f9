// The fused evaluation pass (fastloss.evaluate / Evaluator, issue #6). One read of each row
// of logits x (classes along the middle axis of (n_outer, C, n_inner)) gives, per row with
// target t, lse = log Σ e^x, p = softmax(x):
//   l    = cross_entropy's loss (class weights w, label smoothing ε, as cross_entropy.hpp),
//   rank = #(x_c > x_t) + #(x_c == x_t and c < t)     (ties to the lower index, as np.argmax),
//   H    = lse - Σ e^{x-s}·x / Σ e^{x-s}              (the entropy of p),
// and the kernel returns Σ s·l, Σ s·w_t, Σ s, Σ s·H, Σ s·lse, Σ s·[rank < k] for each k over
// the counted rows (s = sample weight), or writes them per row.
//
// Rows engine (n_inner == 1, C > kMaxLaneClasses): row_engine.hpp's folded exp (FoldedExp: fixed
// shift k ln2 from the first vector and the target logit, folded into the exponent), with
// three more sums in the same pass: Σ e·(x_c - off) for the entropy (x clamped at the fold's
// low cut-off first, so a masked -inf class gives 0·finite = 0, not 0·-inf), Σ w (x - off) for
// label smoothing, and the rank as a lane count of x > thr with thr = x_t for c >= t and
// nextafter(x_t, -inf) for c < t (so "x > thr" is "x >= x_t" below t): one compare per vector,
// ties included, no second pass. Extreme rows (non-finite seed, Σ outside [0.5, 2^100]) take
// the exact path: a max pass, then the same sums with the full exp shifted by the max
// (row_engine.hpp's row_max / MaxShiftedExp / nonfinite_lse). A row with NaN, +inf or only -inf
// gives NaN loss and entropy and torch's lse; its rank (and that of a -inf target) is counted
// by a scalar pass: NaN anywhere gives rank C, never a hit.
// row_pass of row_engine.hpp keeps no Σ e·x and no count, so this file has its own pass
// (eval_pass); everything else is called from the engines as is.
//
// Lanes engine (n_inner > 1, or C <= kMaxLaneClasses): one row per lane, groups from
// lane_engine.hpp's with_lane_group (transposed rows, or in-place tiles of the inner axis). Per
// lane: a max pass, then Σ e^{x-m}, Σ e·(x - m), Σ w (x - m) and the rank count (thr chosen per
// lane by class index < t), lse = m + log Σ with the vector log; the per-row values are
// finished in T, as cross_entropy.hpp's lanes engine does.
//
// Accumulation: per-row values in float64 (rows engine) or T (lanes engine), added as float64
// in row order within chunks fixed by the shape, the chunk totals merged in order: bitwise the
// same for every thread count. Counts per lane are kept as T (exact up to 2^24 classes per
// lane for float32). Extra memory: the chunk totals (fixed) and the lane scratch.
#pragma once

#include <cmath>
#include <type_traits>

namespace fastloss::FASTLOSS_ISA {

struct EvalCtx {
  const std::int64_t* ks;
  int nk;
  const double* sw;  // sample weights or null
  double eps, eps_over_c, w_total;
  std::int64_t ignore, C, S;
};

inline void eval_merge(EvaluateResult& a, const EvaluateResult& o, int nk) {
  a.loss += o.loss;
  a.loss_weight += o.loss_weight;
  a.weight += o.weight;
  a.entropy += o.entropy;
  a.lse += o.lse;
  for (int j = 0; j < nk; ++j) a.hits[j] += o.hits[j];
  a.count += o.count;
  if (o.first_bad >= 0 && (a.first_bad < 0 || o.first_bad < a.first_bad)) a.first_bad = o.first_bad;
}

// One counted row into the totals: the products s·v are formed as written, so a NaN loss of a
// row of sample weight 0 still gives NaN (as the reference's Σ s·l).
inline void eval_add(EvaluateResult& tot, const EvalCtx& cx, std::int64_t row, double wt, double loss,
                     std::int64_t rank, double ent, double lse) {
  const double s = cx.sw ? cx.sw[row] : 1.0;
  tot.loss += s * loss;
  tot.loss_weight += s * wt;
  tot.weight += s;
  tot.entropy += s * ent;
  tot.lse += s * lse;
  for (int j = 0; j < cx.nk; ++j) tot.hits[j] += rank < cx.ks[j] ? s : 0.0;
  tot.count += 1;
}

// The rank by definition, over a strided row: C if any value is NaN.
template <class T>
std::int64_t scalar_rank(const T* x, std::int64_t C, std::int64_t stride, std::int64_t t) {
  const T xt = x[t * stride];
  std::int64_t r = 0;
  for (std::int64_t c = 0; c < C; ++c) {
    const T v = x[c * stride];
    if (v != v) return C;
    r += (v > xt || (v == xt && c < t)) ? 1 : 0;
  }
  return r;
}

// Chunks of n items fixed by n and min_chunk; chunk(begin, end, totals) fills one total each;
// merged in order.
template <class Chunk>
EvaluateResult eval_parallel(std::int64_t n, std::int64_t min_chunk, int n_threads, int nk, Chunk&& chunk) {
  constexpr std::int64_t kMaxParts = 1024;
  const std::int64_t len = std::max(min_chunk, (n + kMaxParts - 1) / kMaxParts);
  const std::int64_t n_parts = (n + len - 1) / len;
  EvaluateResult parts[kMaxParts];
  parallel_chunks(n_parts, 1, n_threads, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t k = b; k < e; ++k) chunk(k * len, std::min(n, (k + 1) * len), parts[k]);
  });
  EvaluateResult total;
  for (std::int64_t k = 0; k < n_parts; ++k) eval_merge(total, parts[k], nk);
  return total;
}

// ---------------------------------------------------------------------------------------
// Rows engine

struct EvalSums {
  double e = 0.0, ed = 0.0, wx = 0.0;
  std::int64_t above = 0;  // # x > thr (see header)
};

// One pass over a row: Σ ex(x), Σ ex(x)·(max(low, x) - off), Σ w (x - off) (kS), # x > thr.
// low: below it ex gives exactly 0. t: the target's class (thresholds switch there).
template <bool kW, bool kS, class T, class Exp>
EvalSums eval_pass(const T* x, std::int64_t n, const Exp& ex, T low, T off, const T* w, T thr_lo, T thr_hi,
                   std::int64_t t) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr int U = 2;
  constexpr std::int64_t kStep = U * L;
  const V zero = V::set1(T(0)), one = V::set1(T(1)), off_v = V::set1(off), low_v = V::set1(low);
  const V lo_thr = V::set1(thr_lo), hi_thr = V::set1(thr_hi);
  // The vector holding t (vectors start at multiples of L): lanes below t take thr_lo.
  const std::int64_t t_vec = (t / L) * L;
  T mix[L];
  for (std::int64_t i = 0; i < L; ++i) mix[i] = t_vec + i < t ? thr_lo : thr_hi;
  const V mix_thr = V::load(mix);
  auto thr_at = [&](std::int64_t j) { return j < t_vec ? lo_thr : (j == t_vec ? mix_thr : hi_thr); };
  V e_acc[U], ed_acc[U], wx_acc[U], n_acc[U];
  SumAcc<T> e_tot, ed_tot, wx_tot;
  double above = 0.0;
  auto reset = [&] {
    for (int u = 0; u < U; ++u) e_acc[u] = ed_acc[u] = wx_acc[u] = n_acc[u] = zero;
  };
  auto flush = [&] {
    V n_sum = zero;
    for (int u = 0; u < U; ++u) {
      e_tot.add(e_acc[u]);
      ed_tot.add(ed_acc[u]);
      if constexpr (kS) wx_tot.add(wx_acc[u]);
      n_sum = n_sum + n_acc[u];
    }
    above += double(reduce_add(n_sum));  // <= 2 kWidenEvery per lane: exact
    reset();
  };
  auto body = [&](int u, V x_v, V w_v, V thr) {
    // e from x itself (the fold clamps inside); only the entropy's factor is clamped, so a
    // masked class gives 0·finite. Constant first: NaN survives.
    const V xc = max(low_v, x_v);
    const V e = ex(x_v);
    e_acc[u] = e_acc[u] + e;
    ed_acc[u] = fma(e, xc - off_v, ed_acc[u]);
    n_acc[u] = n_acc[u] + select(gt(x_v, thr), one, zero);
    if constexpr (kS) {
      const V d = x_v - off_v;  // unclamped: a masked class makes the smoothed loss +inf
      wx_acc[u] = kW ? fma(w_v, d, wx_acc[u]) : wx_acc[u] + d;
    }
  };
  reset();
  std::int64_t i = 0;
  while (i + kStep <= n) {
    const std::int64_t block_end = std::min(n, i + kWidenEvery * kStep);
    for (; i + kStep <= block_end; i += kStep) {
      for (std::int64_t b = 0; b < kStep * static_cast<std::int64_t>(sizeof(T)); b += 64)
        FASTLOSS_PREFETCH(reinterpret_cast<const char*>(x + i) + kPrefetchBytes + b);
      for (int u = 0; u < U; ++u) {
        const std::int64_t j = i + u * L;
        body(u, V::load(x + j), kW && kS ? V::load(w + j) : zero, thr_at(j));
      }
    }
    flush();
  }
  for (; i + L <= n; i += L) body(0, V::load(x + i), kW && kS ? V::load(w + i) : zero, thr_at(i));
  if (i < n) {
    // -inf padding: e = 0, e·d = 0 (d is clamped), never above thr; the linear sum gets d = 0.
    const std::int64_t r = n - i;
    const V x_v = V::load_n(x + i, r, -std::numeric_limits<T>::infinity());
    const V xc = max(low_v, x_v);
    const V e = ex(x_v);
    e_acc[0] = e_acc[0] + e;
    ed_acc[0] = fma(e, xc - off_v, ed_acc[0]);
    n_acc[0] = n_acc[0] + select(gt(x_v, thr_at(i)), one, zero);
    if constexpr (kS) {
      const V d = V::load_n(x + i, r, off) - off_v;
      const V w_v = kW ? V::load_n(w + i, r, 0) : keep_first(one, r);
      wx_acc[0] = fma(w_v, d, wx_acc[0]);
    }
  }
  flush();
  return {e_tot.total(), ed_tot.total(), kS ? wx_tot.total() : 0.0, static_cast<std::int64_t>(above)};
}

struct RowEval {
  double loss, ent, lse;
  std::int64_t rank;
};

// One row (n_inner == 1) against class t (a valid class; for an uncounted row any class, its
// loss and rank are then ignored).
template <class T, bool kW, bool kS>
RowEval eval_row(const T* x, std::int64_t C, std::int64_t t, const T* w, const EvalCtx& cx) {
  using V = Vec<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const T xt = x[t];
  const double wt = kW ? double(w[t]) : 1.0;
  const T thr_lo = std::nextafter(xt, -kInf), thr_hi = xt;
  double base = 0, rel = 0, off = 0;
  EvalSums s;
  bool finite = false;
  const double m0 = reduce_max(V::load_n(x, std::min<std::int64_t>(V::kLanes, C), -kInf));
  const double seed = double(xt) > m0 ? double(xt) : m0;
  FoldedExp<T> fe;
  if (fe.init(seed)) {
    T low;
    fe.lo.store_n(&low, 1);
    s = eval_pass<kW, kS>(x, C, fe, low, fe.offset, w, thr_lo, thr_hi, t);
    if (s.e >= 0.5 && s.e <= 0x1p100) {
      finite = true;
      base = fe.shift;
      rel = std::log(s.e);
      off = double(fe.offset);
    }
  }
  if (!finite) {
    const T m = row_max(x, C);
    if (std::fabs(m) <= std::numeric_limits<T>::max()) {
      // Below m + kUnderflow, exp(x - m) is exactly 0.
      const T low = m + ExpConst<T>::kUnderflow;
      s = eval_pass<kW, kS>(x, C, MaxShiftedExp<T>{V::set1(m)}, low, m, w, thr_lo, thr_hi, t);
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
    if constexpr (kS) loss = (1.0 - cx.eps) * loss + cx.eps_over_c * (cx.w_total * ((base - off) + rel) - s.wx);
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

template <class T, class Idx, bool kW, bool kS>
EvaluateResult eval_rows(const EvaluateArgs& a, const EvalCtx& cx) {
  const T* x = static_cast<const T*>(a.logits);
  const Idx* tg = static_cast<const Idx*>(a.target);
  const T* w = static_cast<const T*>(a.weight);
  T* o_loss = static_cast<T*>(a.out_loss);
  T* o_ent = static_cast<T*>(a.out_entropy);
  T* o_lse = static_cast<T*>(a.out_lse);
  const bool any_out = o_loss || a.out_rank || o_ent || o_lse;
  const std::int64_t C = cx.C;
  return eval_parallel(a.n_outer, min_chunk_items(C), a.n_threads, cx.nk,
                       [&](std::int64_t begin, std::int64_t end, EvaluateResult& tot) {
    tot = EvaluateResult{};
    for (std::int64_t r = begin; r < end; ++r) {
      const std::int64_t tr = tg[r];
      const bool counted = tr != cx.ignore;
      if (counted && (tr < 0 || tr >= C)) {
        if (tot.first_bad < 0) tot.first_bad = r;
        continue;
      }
      if (!counted && !any_out) continue;
      const RowEval ev = eval_row<T, kW, kS>(x + r * C, C, counted ? tr : 0, w, cx);
      if (counted) eval_add(tot, cx, r, kW ? double(w[tr]) : 1.0, ev.loss, ev.rank, ev.ent, ev.lse);
      if (o_loss) o_loss[r] = counted ? static_cast<T>(ev.loss) : T(0);
      if (a.out_rank) a.out_rank[r] = counted ? ev.rank : -1;
      if (o_ent) o_ent[r] = static_cast<T>(ev.ent);
      if (o_lse) o_lse[r] = static_cast<T>(ev.lse);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Lanes engine

template <class T, class Idx, bool kW, bool kS>
EvaluateResult eval_lanes(const EvaluateArgs& a, const EvalCtx& cx) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr int U = kLaneBlocks;
  constexpr std::int64_t G = kGroup<T>;
  constexpr T kInf = std::numeric_limits<T>::infinity();
  const T* x = static_cast<const T*>(a.logits);
  const Idx* tg = static_cast<const Idx*>(a.target);
  const T* w = static_cast<const T*>(a.weight);
  T* o_loss = static_cast<T*>(a.out_loss);
  T* o_ent = static_cast<T*>(a.out_entropy);
  T* o_lse = static_cast<T*>(a.out_lse);
  const std::int64_t C = cx.C, S = cx.S, n_outer = a.n_outer;
  const T ome = static_cast<T>(1.0 - cx.eps), eoc = static_cast<T>(cx.eps_over_c);
  const T w_total = static_cast<T>(cx.w_total);

  auto group = [&](std::int64_t row0, std::int64_t lanes, const ContiguousLanes<T>& src, EvaluateResult& tot) {
    // Per lane: target class (as T), its logit, the rank thresholds, its weight, counted.
    T tf[G], xt[G], thr_lo[G], wt[G];
    std::int64_t tcls[G];
    bool counted[G];
    const std::int64_t outer0 = row0 / S, s0 = row0 % S;
    for (std::int64_t j = 0; j < G; ++j) {
      std::int64_t tr = j < lanes ? std::int64_t(tg[row0 + j]) : cx.ignore;
      counted[j] = j < lanes && tr != cx.ignore;
      if (counted[j] && (tr < 0 || tr >= C)) {
        if (tot.first_bad < 0 || row0 + j < tot.first_bad) tot.first_bad = row0 + j;
        counted[j] = false;
        tr = cx.ignore;
      }
      if (counted[j]) {
        tcls[j] = tr;
        tf[j] = static_cast<T>(tr);
        xt[j] = S == 1 ? x[(row0 + j) * C + tr] : x[(outer0 * C + tr) * S + s0 + j];
        wt[j] = kW ? w[tr] : T(1);
      } else {
        tcls[j] = 0;
        tf[j] = 0;
        xt[j] = kInf;  // nothing is above it: the count stays 0
        wt[j] = 0;
      }
      thr_lo[j] = std::nextafter(xt[j], -kInf);
    }
    V m[U];
    for (int u = 0; u < U; ++u) m[u] = V::set1(-kInf);
    for (std::int64_t c = 0; c < C; ++c)
      for (int u = 0; u < U; ++u) m[u] = max(m[u], src.load(c, u));
    FoldedExp<T, false> ex;
    ex.init(0.0);
    T low;
    ex.lo.store_n(&low, 1);
    const V zero = V::set1(T(0)), one = V::set1(T(1)), low_v = V::set1(low);
    V t_v[U], xt_v[U], lo_v[U];
    for (int u = 0; u < U; ++u) {
      t_v[u] = V::load(tf + u * L);
      xt_v[u] = V::load(xt + u * L);
      lo_v[u] = V::load(thr_lo + u * L);
    }
    V e_acc[U], ed_acc[U], wx_acc[U], n_acc[U];
    LaneSum<T> e_tot[U], ed_tot[U], wx_tot[U];
    for (int u = 0; u < U; ++u) e_acc[u] = ed_acc[u] = wx_acc[u] = n_acc[u] = zero;
    V c_v = zero;
    auto step = [&](std::int64_t c) {
      const V w_c = V::set1(kW ? w[c] : T(1));
      for (int u = 0; u < U; ++u) {
        const V x_v = src.load(c, u);
        const V d = x_v - m[u];
        const V dc = max(low_v, d);
        const V e = ex(dc);
        e_acc[u] = e_acc[u] + e;
        ed_acc[u] = fma(e, dc, ed_acc[u]);
        const V thr = select(lt(c_v, t_v[u]), lo_v[u], xt_v[u]);
        n_acc[u] = n_acc[u] + select(gt(x_v, thr), one, zero);
        if constexpr (kS) wx_acc[u] = kW ? fma(w_c, d, wx_acc[u]) : wx_acc[u] + d;
      }
      c_v = c_v + one;
    };
    V sum[U], ed[U], wx[U];
    if (C <= kLaneNoWiden) {
      for (std::int64_t c = 0; c < C; ++c) step(c);
      for (int u = 0; u < U; ++u) {
        sum[u] = e_acc[u];
        ed[u] = ed_acc[u];
        wx[u] = wx_acc[u];
      }
    } else {
      for (std::int64_t c0 = 0; c0 < C; c0 += kWidenEvery) {
        const std::int64_t c1 = std::min(C, c0 + kWidenEvery);
        for (std::int64_t c = c0; c < c1; ++c) step(c);
        for (int u = 0; u < U; ++u) {
          e_tot[u].add(e_acc[u]);
          ed_tot[u].add(ed_acc[u]);
          if constexpr (kS) wx_tot[u].add(wx_acc[u]);
          e_acc[u] = ed_acc[u] = wx_acc[u] = zero;
        }
      }
      for (int u = 0; u < U; ++u) {
        sum[u] = e_tot[u].value();
        ed[u] = ed_tot[u].value();
        wx[u] = kS ? wx_tot[u].value() : zero;
      }
    }
    T r_loss[G], r_ent[G], r_lse[G], r_sum[G], r_cnt[G];
    for (int u = 0; u < U; ++u) {
      const V lg = log(sum[u]);
      V loss = V::load(wt + u * L) * ((m[u] - xt_v[u]) + lg);
      if constexpr (kS) loss = fma(loss, V::set1(ome), V::set1(eoc) * (V::set1(w_total) * lg - wx[u]));
      loss.store(r_loss + u * L);
      (lg - ed[u] / sum[u]).store(r_ent + u * L);
      (m[u] + lg).store(r_lse + u * L);
      sum[u].store(r_sum + u * L);
      n_acc[u].store(r_cnt + u * L);
    }
    for (std::int64_t j = 0; j < lanes; ++j) {
      const std::int64_t row = row0 + j;
      double loss = r_loss[j], ent = r_ent[j], lse = r_lse[j];
      std::int64_t rank = static_cast<std::int64_t>(r_cnt[j]);
      const T* xr = S == 1 ? x + row * C : x + (row / S) * C * S + row % S;
      // Σ >= 1 on a finite row (its max is one of the terms); NaN, +inf and all -inf fail.
      if (!(r_sum[j] >= T(1)) || !(std::fabs(lse) <= std::numeric_limits<double>::max())) {
        lse = nonfinite_lse(xr, C, S);
        loss = ent = std::numeric_limits<double>::quiet_NaN();
        rank = scalar_rank(xr, C, S, tcls[j]);
      } else if (counted[j] && xt[j] == -kInf) {
        rank = scalar_rank(xr, C, S, tcls[j]);
      }
      if (counted[j]) eval_add(tot, cx, row, double(wt[j]), loss, rank, ent, lse);
      if (o_loss) o_loss[row] = counted[j] ? static_cast<T>(loss) : T(0);
      if (a.out_rank) a.out_rank[row] = counted[j] ? rank : -1;
      if (o_ent) o_ent[row] = static_cast<T>(ent);
      if (o_lse) o_lse[row] = static_cast<T>(lse);
    }
  };
  const std::int64_t n_items = lane_items(n_outer, S, G);
  return eval_parallel(n_items, min_chunk_items(G * C), a.n_threads, cx.nk,
                       [&](std::int64_t ib, std::int64_t ie, EvaluateResult& tot) {
    tot = EvaluateResult{};
    T sx[kScratch<T>], sy[kScratch<T>];
    for (std::int64_t q = ib; q < ie; ++q)
      with_lane_group(x, static_cast<const T*>(nullptr), n_outer, C, S, q, sx, sy,
                      [&](std::int64_t row0, std::int64_t lanes, const ContiguousLanes<T>& src,
                          const ContiguousLanes<T>&) { group(row0, lanes, src, tot); });
  });
}

// ---------------------------------------------------------------------------------------

template <class T, class Idx, bool kW, bool kS>
EvaluateResult eval_engine(const EvaluateArgs& a, const EvalCtx& cx) {
  if (cx.S == 1 && cx.C > kMaxLaneClasses) return eval_rows<T, Idx, kW, kS>(a, cx);
  return eval_lanes<T, Idx, kW, kS>(a, cx);
}

template <class T, class Idx>
EvaluateResult eval_flags(const EvaluateArgs& a, const EvalCtx& cx) {
  const bool w = a.weight != nullptr, sm = cx.eps > 0.0;
  if (w) return sm ? eval_engine<T, Idx, true, true>(a, cx) : eval_engine<T, Idx, true, false>(a, cx);
  return sm ? eval_engine<T, Idx, false, true>(a, cx) : eval_engine<T, Idx, false, false>(a, cx);
}

template <class T>
EvaluateResult evaluate(const EvaluateArgs& a) {
  EvalCtx cx{a.topk, std::min(a.n_topk, kMaxTopk), a.sample_weight, a.label_smoothing, 0.0, 0.0,
             a.ignore_index, a.n_classes, a.n_inner};
  if (a.n_outer <= 0 || a.n_inner <= 0 || a.n_classes <= 0) return {};
  cx.eps_over_c = a.label_smoothing / double(a.n_classes);
  if (a.weight) {
    const T* w = static_cast<const T*>(a.weight);
    for (std::int64_t c = 0; c < a.n_classes; ++c) cx.w_total += w[c];
  } else {
    cx.w_total = double(a.n_classes);
  }
  return a.target_kind == TargetKind::kInt32 ? eval_flags<T, std::int32_t>(a, cx) : eval_flags<T, std::int64_t>(a, cx);
}

inline EvaluateResult evaluate_f32(const EvaluateArgs& a) { return evaluate<float>(a); }
inline EvaluateResult evaluate_f64(const EvaluateArgs& a) { return evaluate<double>(a); }

}  // namespace fastloss::FASTLOSS_ISA
