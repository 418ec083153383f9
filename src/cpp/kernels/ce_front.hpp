// The front of the class-index kernels (cross_entropy, nll_loss, evaluate), written once: the
// per-call setup (class weights, label smoothing), the target check, and the dispatch of the
// target type and of the compile-time flags; the engine is chosen from the shape alone
// (uses_rows_engine, lane_engine.hpp).
#pragma once

#include <cstdint>
#include <type_traits>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/args.hpp"
#include "kernels/lane_engine.hpp"
#include "kernels/unaligned.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// Logits x as (n_outer, C, n_inner), the targets, the class weights w (null: ones),
// the per-row losses out (null: none), ε = label smoothing. S: the storage type of the logits,
// probability targets and out (half.hpp); the weights are of its compute type T.
template <class S>
struct CeSetup {
  using T = Compute<S>;
  const S* x;
  const void* target;
  TargetKind kind;  // of an index target (int32 or int64)
  const T* w;
  S* out;
  std::int64_t C, n_inner, ignore;
  double eps, eps_over_c, w_total;  // W = Σ w_c (C without weights)
};

// Args: CrossEntropyArgs or EvaluateArgs (the same field names).
template <class S, class Args>
CeSetup<S> ce_setup(const Args& a, void* out) {
  using T = Compute<S>;
  CeSetup<S> s{static_cast<const S*>(a.logits),
               a.target,
               a.target_kind,
               static_cast<const T*>(a.weight),
               static_cast<S*>(out),
               a.n_classes,
               a.n_inner,
               a.ignore_index,
               a.label_smoothing,
               0.0,
               0.0};
  s.eps_over_c = a.n_classes > 0 ? smoothing_weight<double>(a.label_smoothing, a.label_smoothing / double(a.n_classes))
                                 : 0.0;
  if (s.w) {
    for (std::int64_t c = 0; c < a.n_classes; ++c) s.w_total += s.w[c];
  } else {
    s.w_total = double(a.n_classes);
  }
  return s;
}

// A row's target (docs/semantics.md): a class in [0, C) is counted; ignore_index counts for
// nothing; anything else is bad: never read, and the smallest bad flat row index is reported
// (the binding raises IndexError).
enum class TargetCheck { kCounted, kIgnored, kBad };
template <class S>
FASTLOSS_INLINE TargetCheck check_target(std::int64_t t, const CeSetup<S>& s) {
  if (t == s.ignore) return TargetCheck::kIgnored;
  return static_cast<std::uint64_t>(t) < static_cast<std::uint64_t>(s.C) ? TargetCheck::kCounted : TargetCheck::kBad;
}
// Rows are visited in increasing order within a chunk: the first bad one is the smallest.
inline void note_bad(std::int64_t& first_bad, std::int64_t row) {
  if (first_bad < 0) first_bad = row;
}

// The targets of the lanes [0, lanes) of the group at flat row row0, one scalar load each:
// cls[j] = the class of a counted lane, else -1 (ignored, bad or padding), x_t and w_t (0
// where cls[j] < 0). ce_lanes reads index targets as vectors instead where it can.
template <class S, class Idx, bool kW, std::int64_t G, class T = Compute<S>>
void lane_targets(const CeSetup<S>& s, std::int64_t row0, std::int64_t lanes, std::int64_t (&cls)[G], T (&xt)[G],
                  T (&wt)[G], std::int64_t& first_bad) {
  const Idx* t = static_cast<const Idx*>(s.target);
  const std::int64_t outer0 = row0 / s.n_inner, s0 = row0 % s.n_inner;
  for (std::int64_t j = 0; j < G; ++j) {
    const std::int64_t tr = j < lanes ? std::int64_t(load_one(t + row0 + j)) : s.ignore;
    const TargetCheck k = check_target(tr, s);
    if (k == TargetCheck::kCounted) {
      cls[j] = tr;
      // Not from a scratch copy: a scalar load right after its vector stores stalls on forwarding.
      xt[j] = load_one(s.n_inner == 1 ? s.x + (row0 + j) * s.C + tr : s.x + (outer0 * s.C + tr) * s.n_inner + s0 + j);
      wt[j] = kW ? load_one(s.w + tr) : T(1);
    } else {
      if (k == TargetCheck::kBad) note_bad(first_bad, row0 + j);
      cls[j] = -1;
      xt[j] = wt[j] = T(0);
    }
  }
}

template <class X>
struct TypeTag {
  using type = X;
};

// fn(TypeTag<Idx>, std::bool_constant<kW>, std::bool_constant<kS>): Idx the target type
// (int32, int64, or void for probability targets where kProb is taken), kW = class weights,
// kS = label smoothing. One instantiation per combination.
template <bool kProb, class S, class Fn>
auto with_ce_types(const CeSetup<S>& s, TargetKind kind, Fn&& fn) {
  auto flags = [&](auto idx) {
    using Y = std::true_type;
    using N = std::false_type;
    if (s.w) return s.eps > 0.0 ? fn(idx, Y{}, Y{}) : fn(idx, Y{}, N{});
    return s.eps > 0.0 ? fn(idx, N{}, Y{}) : fn(idx, N{}, N{});
  };
  if (kind == TargetKind::kInt32) return flags(TypeTag<std::int32_t>{});
  if constexpr (kProb) {
    if (kind == TargetKind::kProb) return flags(TypeTag<void>{});
  }
  return flags(TypeTag<std::int64_t>{});
}

// A lane block's cross-entropy loss from its lanes-engine sums: m the shift, x_t, w_t, lg =
// log Σ e^{x - m}, wx = Σ w (x - m):  w_t (m - x_t + lg), smoothed (1-ε)·that + ε/C (W lg - wx).
template <bool kW, bool kS, class V>
FASTLOSS_INLINE V lane_ce_loss(V m, V x_t, V w_t, V lg, V wx, V ome, V eoc, V w_total) {
  V loss = (m - x_t) + lg;
  if constexpr (kW) loss = w_t * loss;
  if constexpr (kS) loss = fma(loss, ome, eoc * (w_total * lg - wx));
  return loss;
}

}  // namespace fastloss::FASTLOSS_ISA
