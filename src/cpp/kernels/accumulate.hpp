// Float64 accumulation of per-element terms. float32 terms are widened lane by lane before
// they are added, so that a sum over millions of elements does not drift; the lane order is
// fixed, so a chunk always gives the same bits.
#pragma once

#include <cstdint>

#include "attributes.hpp"
#include "half.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
struct SumAcc;

template <>
struct SumAcc<float> {
  VecD lo = VecD::set1(0.0), hi = VecD::set1(0.0);
  void add(VecF v) { widen_add(lo, hi, v); }
  double total() const { return reduce_add(lo + hi); }
};

template <>
struct SumAcc<double> {
  VecD acc = VecD::set1(0.0);
  void add(VecD v) { widen_add(acc, v); }
  double total() const { return reduce_add(acc); }
};

// a[0] + ... + a[U-1] added pairwise in T (U a power of two): log2 U adds on each lane's path,
// the count the rows engines' bounds on their float32 sums include before one widening.
template <int U, class V>
FASTLOSS_INLINE V pairwise_sum(const V (&a)[U]) {
  static_assert(U == 1 || U == 2 || U == 4);
  if constexpr (U == 1) return a[0];
  else if constexpr (U == 2) return a[0] + a[1];
  else return (a[0] + a[1]) + (a[2] + a[3]);
}

// v with the lanes from n on set to zero: padding lanes of a tail never enter a sum.
template <class V>
inline V keep_first(V v, std::int64_t n) {
  typename V::Elem lanes[V::kLanes];
  v.store(lanes);
  return V::load_n(lanes, n, 0);
}

// Elementwise kernel over two inputs: term(x_v, y_v) per vector of lanes. With out, writes
// the terms; otherwise returns their float64 sum. Four vectors per step with four
// accumulators keep the loads and the adds in flight. x, y, out: storage type S (half.hpp),
// the terms in its compute type.
template <class S, class Term>
double map2_sum(const S* x, const S* y, S* out, std::int64_t n, int n_threads, Term term) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr std::int64_t kMinChunk = 1 << 16;
  if (out != nullptr) {
    parallel_chunks(n, kMinChunk, n_threads, [&](std::int64_t begin, std::int64_t end) {
      std::int64_t i = begin;
      for (; i + L <= end; i += L) term(V::load(x + i), V::load(y + i)).store(out + i);
      if (i < end) term(V::load_n(x + i, end - i, 0), V::load_n(y + i, end - i, 0)).store_n(out + i, end - i);
    });
    return 0.0;
  }
  return parallel_sum(n, kMinChunk, n_threads, [&](std::int64_t begin, std::int64_t end) {
    SumAcc<T> a0, a1, a2, a3;
    std::int64_t i = begin;
    for (; i + 4 * L <= end; i += 4 * L) {
      a0.add(term(V::load(x + i), V::load(y + i)));
      a1.add(term(V::load(x + i + L), V::load(y + i + L)));
      a2.add(term(V::load(x + i + 2 * L), V::load(y + i + 2 * L)));
      a3.add(term(V::load(x + i + 3 * L), V::load(y + i + 3 * L)));
    }
    for (; i + L <= end; i += L) a0.add(term(V::load(x + i), V::load(y + i)));
    if (i < end) {
      const std::int64_t rest = end - i;
      a1.add(keep_first(term(V::load_n(x + i, rest, 0), V::load_n(y + i, rest, 0)), rest));
    }
    return (a0.total() + a1.total()) + (a2.total() + a3.total());
  });
}

}  // namespace fastloss::FASTLOSS_ISA
