// Divergences between distributions, one pass over the inputs:
//   kl_div:  xlogy(y, y) - y·x (0·log 0 = 0; y = 0 with x = -inf gives NaN, as torch),
//            or exp(y)·(y - x) with log_target. Elementwise through weighted_map (elementwise.hpp).
//            One log_normal per element with the special values folded into a clamp and
//            one select: fewer instructions than log_positive's subnormal scaling or log()'s
//            three selects (docs/performance.md, "Measurements").
//   entropy: H = -Σ_c p_c·log p_c along the class axis of p seen as (outer, C, inner), with
//            0·log 0 = 0 and p as given (not renormalized); 0 - Σ, so that a one-hot p gives
//            +0 rather than -0. One log per element; each
//            distribution is summed in float64 by one thread in a fixed order (a very long
//            row: parallel.hpp's chunks). Three layouts, chosen from the shape alone:
//            - inner = 1, C >= kShortRow: a row at a time, vectorized along the row (a very
//              long row is itself cut into fixed chunks, parallel_sum);
//            - inner = 1, C < kShortRow: terms of a block of rows vectorized over the flat
//              data into an L1 buffer, then summed row by row (rows too short to pay for
//              a vector loop and a horizontal sum each);
//            - inner > 1: vectorized across the contiguous inner axis, a block of columns with
//              float64 accumulators per lane, walking the class axis in place (no transpose).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "attributes.hpp"
#include "half.hpp"
#include "kernels/accumulate.hpp"
#include "kernels/args.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/unaligned.hpp"
#include "math/exp.hpp"
#include "math/log.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// S: the storage type of the arrays (half.hpp), computed in Compute<S>.
template <class S>
double kl_div(const KlDivArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  const S* x = static_cast<const S*>(a.input);
  const S* y = static_cast<const S*>(a.target);
  S* out = static_cast<S*>(a.out);
  const V zero = V::set1(T(0));
  const PeriodicWeight none{nullptr, 1};
  if (a.log_target) {
    auto term = [](V xv, V yv, V, V) { return exp(yv) * (yv - xv); };
    return weighted_map<S, false, false, NoCheck<V>>(x, y, none, none, out, a.n, a.n_threads, T(0), T(0), term).sum;
  }
  const V tiny = V::set1(std::numeric_limits<T>::min());
  const V huge = V::set1(std::numeric_limits<T>::max());
  const V nan = V::set1(std::numeric_limits<T>::quiet_NaN());
  auto term = [=](V xv, V yv, V, V) {
    // y·log y from log_normal without log()'s special-value selects: y is clamped into the
    // positive normal finite floats, so y = 0 gives 0·finite = 0 (then y·x decides: 0, or NaN
    // for x = -inf), y = +inf gives inf·log(max) = inf, NaN stays NaN through the product, and
    // y < 0 (whose log is NaN) is the one select. A subnormal y gets y·log(smallest normal):
    // off by |y·log(y / min)| < 2^-126 · 23 ln2 < 1.9e-37 (float; < 8e-307 double), absolute.
    const V ylogy = select(ge(yv, zero), yv * log_normal(min(max(yv, tiny), huge)), nan);
    return fnma(yv, xv, ylogy);
  };
  return weighted_map<S, false, false, NoCheck<V>>(x, y, none, none, out, a.n, a.n_threads, T(0), T(0), term).sum;
}

// p·log p with 0·log 0 = 0 (NaN and negative p give NaN, +inf gives +inf).
template <class V>
inline V xlogx(V p) {
  using T = typename V::Elem;
  const V zero = V::set1(T(0));
  return select(eq(p, zero), zero, p * log(p));
}

// Σ p·log p over p[begin, end) of one row, in float64, four accumulators.
template <class S>
FASTLOSS_FLATTEN double xlogx_sum(const S* p, std::int64_t begin, std::int64_t end) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  SumAcc<T> a0, a1, a2, a3;
  std::int64_t i = begin;
  for (; i + 4 * L <= end; i += 4 * L) {
    a0.add(xlogx(V::load(p + i)));
    a1.add(xlogx(V::load(p + i + L)));
    a2.add(xlogx(V::load(p + i + 2 * L)));
    a3.add(xlogx(V::load(p + i + 3 * L)));
  }
  for (; i + L <= end; i += L) a0.add(xlogx(V::load(p + i)));
  // A zero fill gives a zero term: padding lanes add nothing.
  if (i < end) a1.add(xlogx(V::load_n(p + i, end - i, T(0))));
  return (a0.total() + a1.total()) + (a2.total() + a3.total());
}

// The L lanes of t as float64, stored to dst[0, L).
inline void widen_store(VecD t, double* dst) { t.store(dst); }
inline void widen_store(VecF t, double* dst) {
  VecD lo = VecD::set1(0.0), hi = VecD::set1(0.0);
  widen_add(lo, hi, t);  // lanes [0, L/2) into lo, the rest into hi (one lane: lo only)
  lo.store(dst);
  if constexpr (2 * VecD::kLanes == VecF::kLanes) hi.store(dst + VecD::kLanes);
}
// dst[0, L) += the lanes of t, in float64.
inline void widen_accumulate(VecD t, double* dst) {
  VecD acc = VecD::load(dst);
  widen_add(acc, t);
  acc.store(dst);
}
inline void widen_accumulate(VecF t, double* dst) {
  constexpr std::int64_t LD = VecD::kLanes;
  VecD lo = VecD::load(dst), hi = 2 * LD == VecF::kLanes ? VecD::load(dst + LD) : VecD::set1(0.0);
  widen_add(lo, hi, t);
  lo.store(dst);
  if constexpr (2 * LD == VecF::kLanes) hi.store(dst + LD);
}

constexpr std::int64_t kShortRow = 64;         // below: rows vectorized over the flat data
constexpr std::int64_t kLongRow = 1 << 17;     // from here: one row cut into parallel chunks
constexpr std::int64_t kEntropyBlock = 2048;   // elements per L1 block (flat rows, inner columns)

template <class S>
void entropy(const EntropyArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const S* p = static_cast<const S*>(a.p);
  S* out = static_cast<S*>(a.out);
  auto put = [&](std::int64_t k, double v) { store_one(out + k, static_cast<T>(v)); };
  const std::int64_t n_outer = a.n_outer, n_classes = a.n_classes, n_inner = a.n_inner;
  if (n_outer == 0 || n_inner == 0) return;
  if (n_classes == 0) {
    for (std::int64_t k = 0; k < n_outer * n_inner; ++k) put(k, 0.0);
    return;
  }
  constexpr std::int64_t kMinWork = 1 << 16;  // elements per parallel chunk, at least

  if (n_inner == 1 && n_classes >= kLongRow) {
    for (std::int64_t row = 0; row < n_outer; ++row) {
      const S* r = p + row * n_classes;
      put(row, 0.0 - parallel_sum(n_classes, kMinWork, a.n_threads,
                                  [&](std::int64_t b, std::int64_t e) { return xlogx_sum(r, b, e); }));
    }
    return;
  }

  if (n_inner == 1 && n_classes >= kShortRow) {
    parallel_chunks(n_outer, std::max<std::int64_t>(1, kMinWork / n_classes), a.n_threads,
                    [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t row = begin; row < end; ++row) put(row, 0.0 - xlogx_sum(p + row * n_classes, 0, n_classes));
    });
    return;
  }

  if (n_inner == 1) {
    // Rows of fewer than kShortRow classes: the terms of whole rows fill an L1 buffer at full
    // vector width, then each row adds its own C terms in order, in float64. Above a few
    // classes the terms are widened to float64 in the vector pass, which makes the scalar
    // row sums plain adds (measured: faster from C = 5 on, slower below).
    const std::int64_t rows_per_block = kEntropyBlock / n_classes;
    const bool widen = n_classes > 4;
    parallel_chunks(n_outer, std::max<std::int64_t>(1, kMinWork / n_classes), a.n_threads,
                    [&](std::int64_t begin, std::int64_t end) FASTLOSS_FLATTEN {
      T terms[kEntropyBlock];
      double wide[kEntropyBlock + L];
      for (std::int64_t r0 = begin; r0 < end; r0 += rows_per_block) {
        const std::int64_t r1 = std::min(end, r0 + rows_per_block);
        const S* src = p + r0 * n_classes;
        const std::int64_t m = (r1 - r0) * n_classes;
        std::int64_t i = 0;
        if (widen) {
          for (; i + L <= m; i += L) widen_store(xlogx(V::load(src + i)), wide + i);
          if (i < m) widen_store(xlogx(V::load_n(src + i, m - i, T(0))), wide + i);
          for (std::int64_t row = r0; row < r1; ++row) {
            const double* t = wide + (row - r0) * n_classes;
            double s = 0.0;
            for (std::int64_t c = 0; c < n_classes; ++c) s += t[c];
            put(row, 0.0 - s);
          }
        } else {
          for (; i + L <= m; i += L) xlogx(V::load(src + i)).store(terms + i);
          if (i < m) xlogx(V::load_n(src + i, m - i, T(0))).store_n(terms + i, m - i);
          for (std::int64_t row = r0; row < r1; ++row) {
            const T* t = terms + (row - r0) * n_classes;
            double s = 0.0;
            for (std::int64_t c = 0; c < n_classes; ++c) s += static_cast<double>(t[c]);
            put(row, 0.0 - s);
          }
        }
      }
    });
    return;
  }

  // inner > 1: a task is one outer index and one block of kBlockCols inner columns; its
  // float64 accumulators live in an L1 buffer, one per column, and the class axis is walked
  // with stride n_inner.
  constexpr std::int64_t kBlockCols = 256;
  const std::int64_t col_blocks = (n_inner + kBlockCols - 1) / kBlockCols;
  const std::int64_t n_tasks = n_outer * col_blocks;
  const std::int64_t task_work = n_classes * std::min(n_inner, kBlockCols);
  parallel_chunks(n_tasks, std::max<std::int64_t>(1, kMinWork / task_work), a.n_threads,
                  [&](std::int64_t begin, std::int64_t end) FASTLOSS_FLATTEN {
    double acc[kBlockCols];
    for (std::int64_t task = begin; task < end; ++task) {
      const std::int64_t outer = task / col_blocks;
      const std::int64_t j0 = (task % col_blocks) * kBlockCols;
      const std::int64_t cols = std::min(kBlockCols, n_inner - j0);
      for (std::int64_t j = 0; j < kBlockCols; ++j) acc[j] = 0.0;
      const S* base = p + outer * n_classes * n_inner + j0;
      for (std::int64_t c = 0; c < n_classes; ++c) {
        const S* src = base + c * n_inner;
        for (std::int64_t j = 0; j < cols; j += L) {
          // Lanes past cols read nothing (zero fill) and land in unused acc slots.
          const V t = j + L <= cols ? xlogx(V::load(src + j)) : xlogx(V::load_n(src + j, cols - j, T(0)));
          widen_accumulate(t, acc + j);
        }
      }
      for (std::int64_t j = 0; j < cols; ++j) put(outer * n_inner + j0 + j, 0.0 - acc[j]);
    }
  });
}

}  // namespace fastloss::FASTLOSS_ISA
