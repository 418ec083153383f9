// The softmax family over a class axis:
//   lse(x) = log Σ_c e^{x_c},   softmax(x)_c = e^{x_c - lse},   log_softmax(x)_c = x_c - lse.
// x is C-contiguous (n_outer, C, n_inner): the class axis has stride n_inner (1 for the last
// axis), so axis=1 of (N, C, d1, ...) is handled in place, never through a transposed copy.
//
// Engines: kernels/row_engine.hpp (long rows) and kernels/lane_engine.hpp (one row per lane).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "half.hpp"
#include "kernels/args.hpp"
#include "kernels/lane_engine.hpp"
#include "kernels/row_engine.hpp"
#include "kernels/unaligned.hpp"
#include "math/log.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// S: the storage type of x (half.hpp), computed in T = Compute<S>; Out: of the results (S, or
// float32 / float64).
template <class S, class Out>
void logsumexp_kernel(const SoftmaxArgs& a) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const S* x = static_cast<const S*>(a.x);
  Out* out = static_cast<Out*>(a.out);
  auto put = [&](std::int64_t k, double v) { store_one(out + k, static_cast<Compute<Out>>(v)); };
  const std::int64_t C = a.n_classes;
  if (uses_rows_engine(C, a.n_inner)) {
    parallel_chunks(a.n_outer, min_chunk_items(C), a.n_threads, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r)
        put(r, row_lse<PlainRow>(x + r * C, C, std::numeric_limits<double>::quiet_NaN(), RowOpts<S>{}).lse());
    });
    return;
  }
  const std::int64_t cstride = a.n_inner;
  for_lane_groups(x, static_cast<const S*>(nullptr), a.n_outer, C, a.n_inner, a.n_threads,
                  [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y) {
    LaneStats<T, kLaneBlocks> st;
    lane_stats<PlainRow, T, kLaneBlocks>(src, src_y, C, nullptr, T(1), T(0), [](std::int64_t, int, V) {}, st);
    T res[kLaneBlocks * L];
    for (int u = 0; u < kLaneBlocks; ++u) (st.m[u] + log(st.sum[u])).store(res + u * L);
    for (std::int64_t j = 0; j < lanes; ++j) {
      double v = res[j];
      if (!(std::fabs(v) <= std::numeric_limits<double>::max())) {
        // Lane j's row: the same class stride, lane j's start.
        const S* row = a.n_inner == 1 ? x + (row0 + j) * C
                                      : x + ((row0 + j) / a.n_inner) * C * a.n_inner + (row0 + j) % a.n_inner;
        v = nonfinite_lse(row, C, cstride);
      }
      put(row0 + j, v);
    }
  });
}

// softmax / log_softmax over rows (n_inner == 1), software-pipelined: the output of row r - 1
// (softmax: its terms, still in cache, times 1/Σ; log_softmax: (x - lse_hi) - lse_lo from its
// cached logits) is written inside row r's fast pass, at the same offsets, so the store stream
// overlaps the exp work instead of following it (measured 0-10% faster at one thread on the
// noisy Zen 3 development VM). Non-temporal stores of the output, tried to save the
// write-allocate read, were 1.4x slower there.
// S: the storage type of x, O of out (half.hpp; O is S or, for half x, float32). softmax's
// terms are kept in T = Compute<S>: in out itself when O is T, else in two rows of scratch
// (row r's terms are written while row r - 1's are scaled), so a half output is rounded once.
template <class S, class O>
void softmax_rows(const S* x, O* out, std::int64_t n_rows, std::int64_t C, bool log_out, int n_threads) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr bool kInPlace = std::is_same_v<O, T>;
  // scratch: the two rows of terms (null when they go to out).
  auto rows = [&](std::int64_t begin, std::int64_t end, T* scratch) FASTLOSS_LAMBDA_INLINE {
    auto terms = [&](std::int64_t r) -> T* {
      if constexpr (kInPlace) return out + r * C;
      else return scratch + (r & 1) * C;
    };
    // The pending row's output: nan (non-finite row), else scale (softmax) or hi, lo.
    std::int64_t pending = -1;
    bool pending_nan = false;
    V scale = V::set1(T(0)), hi_v = scale, lo_v = scale;
    auto emit = [&](std::int64_t i, std::int64_t n) {
      if (pending < 0) return;
      O* yr = out + pending * C + i;
      if (pending_nan) {
        V::set1(std::numeric_limits<T>::quiet_NaN()).store_n(yr, n);
        return;
      }
      if (!log_out) {
        const T* tr;  // the terms: out itself, or the scratch row
        if constexpr (kInPlace) tr = yr;
        else tr = terms(pending) + i;
        if (n == L) (V::load(tr) * scale).store(yr);
        else (V::load_n(tr, n, 0) * scale).store_n(yr, n);
      } else {
        const S* xr = x + pending * C + i;
        if (n == L) ((V::load(xr) - hi_v) - lo_v).store(yr);
        else ((V::load_n(xr, n, 0) - hi_v) - lo_v).store_n(yr, n);
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
      const S* xr = x + r * C;
      RowLse res;
      if (!log_out) {
        RowOpts<S> o;
        o.store = terms(r);
        res = row_lse<RowFlags<true, false, false, false>>(xr, C, std::numeric_limits<double>::quiet_NaN(), o, emit);
      } else {
        res = row_lse<PlainRow>(xr, C, std::numeric_limits<double>::quiet_NaN(), RowOpts<S>{}, emit);
      }
      set_pending(r, res);
    }
    for (std::int64_t i = 0; i < C; i += L) emit(i, std::min(L, C - i));
  };
  parallel_chunks(n_rows, min_chunk_items(C), n_threads, [&](std::int64_t begin, std::int64_t end) {
    if constexpr (kInPlace) {
      rows(begin, end, nullptr);
    } else {
      std::vector<T> scratch(log_out ? 0 : 2 * static_cast<std::size_t>(C));
      rows(begin, end, scratch.data());
    }
  });
}

// softmax / log_softmax through the lanes engine. Rows (n_inner == 1) are computed in the
// class-major scratch and transposed back; tiles of the inner axis are written in place. S, O
// as in softmax_rows; a tile of a half out takes softmax's terms from a second exp rather than
// from out (which would round them twice).
template <class S, class O>
void softmax_lanes(const S* x, O* out, std::int64_t n_outer, std::int64_t C, std::int64_t n_inner, bool log_out,
                   int n_threads) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes, G = kGroup<T>;
  for_lane_groups(x, static_cast<const S*>(nullptr), n_outer, C, n_inner, n_threads,
                  [&](std::int64_t row0, std::int64_t lanes, const auto& src, const auto& src_y) {
    constexpr bool kRows = std::is_same_v<std::decay_t<decltype(src)>, RowBlockLanes<T>>;
    using R = std::conditional_t<kRows, T, O>;
    // Class c of lane block u goes to res(c, u): the group's scratch (rows, transposed out at
    // the end) or out itself (tiles of the inner axis).
    R* res;
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
      R* p = res + c * res_stride + u * L;
      if (left >= L) v.store(p);
      else if (left > 0) v.store_n(p, left);
    };
    LaneStats<T, kLaneBlocks> st;
    if (!log_out) {
      V inv[kLaneBlocks];
      if constexpr (std::is_same_v<R, T>) {
        lane_stats<RowFlags<true, false, false, false>, T, kLaneBlocks>(src, src_y, C, nullptr, T(1), T(0), put, st);
        for (int u = 0; u < kLaneBlocks; ++u) inv[u] = V::set1(T(1)) / st.sum[u];
        const ContiguousLanes<R> terms{res, res_stride, kRows ? G : lanes};
        for (std::int64_t c = 0; c < C; ++c)
          for (int u = 0; u < kLaneBlocks; ++u) put(c, u, terms.load(c, u) * inv[u]);
      } else {
        lane_stats<PlainRow, T, kLaneBlocks>(src, src_y, C, nullptr, T(1), T(0), NoStoreExp{}, st);
        for (int u = 0; u < kLaneBlocks; ++u) inv[u] = V::set1(T(1)) / st.sum[u];
        for (std::int64_t c = 0; c < C; ++c)
          for (int u = 0; u < kLaneBlocks; ++u) put(c, u, lane_exp(st.m[u] - src.load(c, u)) * inv[u]);
      }
    } else {
      // x is needed again for x - lse: class-major in the scratch (rows) or in place (tiles).
      ContiguousLanes<typename std::decay_t<decltype(src)>::Storage> xs;
      if constexpr (kRows) xs = src.class_major();
      else xs = src;
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

template <class S, class O>
void softmax_into(const SoftmaxArgs& a) {
  const S* x = static_cast<const S*>(a.x);
  O* out = static_cast<O*>(a.out);
  const bool log_out = a.kind == SoftmaxKind::kLogSoftmax;
  if (a.n_classes == 0) return;
  if (uses_rows_engine(a.n_classes, a.n_inner)) softmax_rows(x, out, a.n_outer, a.n_classes, log_out, a.n_threads);
  else softmax_lanes(x, out, a.n_outer, a.n_classes, a.n_inner, log_out, a.n_threads);
}

// S: the storage type of x (half.hpp). out is of S, or float64 (logsumexp, out_f64), or
// float32 for half x (out_f32).
template <class S>
void softmax_family(const SoftmaxArgs& a) {
  if (a.n_outer == 0 || a.n_inner == 0) return;
  const bool f32_out = kIsHalf<S> && a.out_f32;
  if (a.kind == SoftmaxKind::kLogSumExp) {
    if (a.out_f64) logsumexp_kernel<S, double>(a);
    else if (f32_out) logsumexp_kernel<S, float>(a);
    else logsumexp_kernel<S, S>(a);
    return;
  }
  if constexpr (kIsHalf<S>) {
    if (f32_out) {
      softmax_into<S, float>(a);
      return;
    }
  }
  softmax_into<S, S>(a);
}

}  // namespace fastloss::FASTLOSS_ISA
