// The elementwise pass of the binary and divergence losses (kernels/binary.hpp,
// kernels/divergence.hpp): a term per element of x, y and up to two periodic weights, written
// out or summed per chunk in float64, with an optional input check.
#pragma once

#include <algorithm>
#include <cstdint>

#include "attributes.hpp"
#include "kernels/accumulate.hpp"
#include "half.hpp"
#include "kernels/args.hpp"
#include "kernels/unaligned.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

// The weight of element i, a vector at a time, for a PeriodicWeight.
template <class T>
struct WeightCursor {
  const T* tile = nullptr;
  std::int64_t period = 1, pos = 0;
  WeightCursor(const PeriodicWeight& w, std::int64_t begin) {
    if (w.tile == nullptr) return;
    tile = static_cast<const T*>(w.tile);
    period = w.period;
    pos = begin % period;
  }
  Vec<T> at(std::int64_t k) const { return Vec<T>::load(tile + pos + k); }
  Vec<T> at_n(std::int64_t k, std::int64_t n) const { return Vec<T>::load_n(tile + pos + k, n, T(1)); }
  // step <= 4 lanes-vectors <= kWeightTilePad <= period (or period = n), so one wrap suffices.
  void advance(std::int64_t step) {
    pos += step;
    if (pos >= period) pos -= period;
  }
};

// No input check (bce_with_logits and kl_div check nothing, as torch).
template <class V>
struct NoCheck {
  static constexpr bool kNeedsSum = false;
  void add(V, V) {}
  bool failed(double) const { return false; }
  static bool bad_at(typename V::Elem, typename V::Elem) { return false; }
};

// A chunk's sum and its smallest bad index (-1: none): an ordered_reduce state.
struct BceTotals {
  double sum;
  std::int64_t first_bad;
  static BceTotals zero() { return {0.0, -1}; }
  void merge(const BceTotals& o) {
    sum += o.sum;
    if (o.first_bad >= 0 && (first_bad < 0 || o.first_bad < first_bad)) first_bad = o.first_bad;
  }
};

// One elementwise pass over x, y and up to two periodic weights. term(x_v, y_v, w_v, pw_v)
// gives the loss vector (w_v, pw_v are 1 when absent: the term skips them at compile time).
// Check (NoCheck or UnitRangeCheck) sees every element; a chunk whose check fails is scanned
// again, element by element, for its smallest bad index (only on the error path), and the
// smallest over chunks is returned. Tails load x, y with the given fills (valid inputs) and
// their padding lanes are zeroed before they are summed. x, y, out: storage type S (half.hpp);
// the weights and the terms: its compute type.
template <class S, bool kHasW, bool kHasPW, class Check, class Term>
BceResult weighted_map(const S* x, const S* y, const PeriodicWeight& w, const PeriodicWeight& pw, S* out,
                       std::int64_t n, int n_threads, Compute<S> fill_x, Compute<S> fill_y, Term term) {
  using T = Compute<S>;
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  constexpr std::int64_t kMinChunk = 1 << 16;
  const S* const x_all = x;
  const S* const y_all = y;
  S* const out_all = out;
  const BceTotals tot = ordered_reduce<BceTotals>(n, kMinChunk, n_threads,
                                                  [&](std::int64_t begin, std::int64_t end) FASTLOSS_FLATTEN {
    // Local copies: read through the captured references, they were reloaded every step (a
    // store through out might have changed them, as far as the compiler knows).
    const S* const x = x_all;
    const S* const y = y_all;
    S* const out = out_all;
    WeightCursor<T> wc(w, begin), pc(pw, begin);
    const V one = V::set1(T(1));
    auto eval = [&](const V xv, const V yv, std::int64_t k) {
      return term(xv, yv, kHasW ? wc.at(k) : one, kHasPW ? pc.at(k) : one);
    };
    Check check;
    // Terms are summed in T for kRun steps, then widened into the float64 accumulators: a
    // float32 sum of kRun terms per lane loses at most ~kRun/2 ulp of them, far inside the
    // tolerance, and the widening (5 ops per vector on AVX2) is paid once per kRun vectors.
    constexpr int kRun = 8;
    SumAcc<T> a0, a1, a2, a3;
    V f0 = V::set1(T(0)), f1 = f0, f2 = f0, f3 = f0;
    int run = 0;
    auto flush = [&] {
      a0.add(f0);
      a1.add(f1);
      a2.add(f2);
      a3.add(f3);
      f0 = f1 = f2 = f3 = V::set1(T(0));
    };
    std::int64_t i = begin;
    for (; i + 4 * L <= end; i += 4 * L) {
      const V x0 = V::load(x + i), x1 = V::load(x + i + L), x2 = V::load(x + i + 2 * L), x3 = V::load(x + i + 3 * L);
      const V y0 = V::load(y + i), y1 = V::load(y + i + L), y2 = V::load(y + i + 2 * L), y3 = V::load(y + i + 3 * L);
      check.add(x0, y0);
      check.add(x1, y1);
      check.add(x2, y2);
      check.add(x3, y3);
      const V t0 = eval(x0, y0, 0), t1 = eval(x1, y1, L), t2 = eval(x2, y2, 2 * L), t3 = eval(x3, y3, 3 * L);
      if (out != nullptr) {
        t0.store(out + i);
        t1.store(out + i + L);
        t2.store(out + i + 2 * L);
        t3.store(out + i + 3 * L);
      }
      if (out == nullptr || Check::kNeedsSum) {
        f0 = f0 + t0;
        f1 = f1 + t1;
        f2 = f2 + t2;
        f3 = f3 + t3;
        if (++run == kRun) {
          flush();
          run = 0;
        }
      }
      wc.advance(4 * L);
      pc.advance(4 * L);
    }
    for (; i < end; i += L) {
      const std::int64_t rest = std::min<std::int64_t>(L, end - i);
      const V xv = rest == L ? V::load(x + i) : V::load_n(x + i, rest, fill_x);
      const V yv = rest == L ? V::load(y + i) : V::load_n(y + i, rest, fill_y);
      check.add(xv, yv);
      const V t = rest == L ? eval(xv, yv, 0)
                            : term(xv, yv, kHasW ? wc.at_n(0, rest) : one, kHasPW ? pc.at_n(0, rest) : one);
      if (out != nullptr) t.store_n(out + i, rest);
      if (out == nullptr || Check::kNeedsSum) a0.add(rest == L ? t : keep_first(t, rest));
      wc.advance(L);
      pc.advance(L);
    }
    flush();
    BceTotals part{(a0.total() + a1.total()) + (a2.total() + a3.total()), -1};
    if (check.failed(part.sum)) {
      for (std::int64_t j = begin; j < end; ++j) {
        if (Check::bad_at(load_one(x + j), load_one(y + j))) {
          part.first_bad = j;
          break;
        }
      }
    }
    return part;
  });
  return tot.first_bad >= 0 ? BceResult{0.0, tot.first_bad} : BceResult{tot.sum, -1};
}

}  // namespace fastloss::FASTLOSS_ISA
