// Probes of the machine's physical limit, for bench/ (docs/performance.md): a plain SIMD read and
// copy of the same bytes a kernel touches, and the throughput of a reference vector exp. They share
// the chunking of the kernels, so they are timed under the same threads and layout.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/args.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
double probe_read(const ProbeReadArgs& a) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const T* p = static_cast<const T*>(a.data);
  return parallel_sum(a.n, 1 << 16, a.n_threads, [&](std::int64_t begin, std::int64_t end) {
    V s0 = V::set1(0), s1 = s0, s2 = s0, s3 = s0;
    std::int64_t i = begin;
    for (; i + 4 * L <= end; i += 4 * L) {
      s0 = s0 + V::load(p + i);
      s1 = s1 + V::load(p + i + L);
      s2 = s2 + V::load(p + i + 2 * L);
      s3 = s3 + V::load(p + i + 3 * L);
    }
    for (; i < end; i += L) s0 = s0 + V::load_n(p + i, std::min<std::int64_t>(L, end - i), 0);
    return static_cast<double>(reduce_add((s0 + s1) + (s2 + s3)));
  });
}

template <class T>
void probe_copy(const ProbeCopyArgs& a) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const T* src = static_cast<const T*>(a.src);
  T* dst = static_cast<T*>(a.dst);
  parallel_chunks(a.n, 1 << 16, a.n_threads, [&](std::int64_t begin, std::int64_t end) {
    std::int64_t i = begin;
    for (; i + L <= end; i += L) V::load(src + i).store(dst + i);
    if (i < end) V::load_n(src + i, end - i, 0).store_n(dst + i, end - i);
  });
}

// The reference exp of the limit: Cody-Waite reduction, degree-6 polynomial, exponent scaling,
// without special-value handling (the probe feeds it finite, in-range arguments).
inline VecF reference_exp(VecF x) {
  const VecF n = round_even(x * VecF::set1(1.44269504088896341f));
  VecF r = fnma(n, VecF::set1(0.693145751953125f), x);
  r = fnma(n, VecF::set1(1.428606765330187045e-06f), r);
  VecF p = VecF::set1(1.0f / 720);
  p = fma(p, r, VecF::set1(1.0f / 120));
  p = fma(p, r, VecF::set1(1.0f / 24));
  p = fma(p, r, VecF::set1(1.0f / 6));
  p = fma(p, r, VecF::set1(0.5f));
  p = fma(p, r, VecF::set1(1.0f));
  p = fma(p, r, VecF::set1(1.0f));
  return scale_pow2(p, n);
}

// n reference exps over an L1-resident buffer of 4 independent vectors per step (enough
// to hide the polynomial's latency); returns a checksum so that nothing is optimized away.
inline double probe_exp(const ProbeExpArgs& a) {
  constexpr std::int64_t L = VecF::kLanes;
  constexpr std::int64_t kPerStep = 4 * L;
  const std::int64_t steps = a.n / kPerStep;
  return parallel_sum(steps, 1 << 12, a.n_threads, [&](std::int64_t begin, std::int64_t end) {
    VecF x0 = VecF::set1(-1.5f), x1 = VecF::set1(-0.5f), x2 = VecF::set1(0.25f), x3 = VecF::set1(1.0f);
    VecF s0 = VecF::set1(0.0f), s1 = s0, s2 = s0, s3 = s0;
    const VecF step = VecF::set1(1e-7f);
    for (std::int64_t i = begin; i < end; ++i) {
      s0 = s0 + reference_exp(x0);
      s1 = s1 + reference_exp(x1);
      s2 = s2 + reference_exp(x2);
      s3 = s3 + reference_exp(x3);
      x0 = x0 + step;  // vary the argument so no lane is a constant
      x1 = x1 + step;
      x2 = x2 + step;
      x3 = x3 + step;
    }
    return static_cast<double>(reduce_add((s0 + s1) + (s2 + s3)));
  });
}

}  // namespace fastloss::FASTLOSS_ISA
