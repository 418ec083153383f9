// The vector math library (math/exp.hpp, math/log.hpp; kernels/softplus.hpp, not part of it) over
// whole arrays, for tests/test_math_ulp.py: out[i] = f(x[i]) with f chosen by MathArgs::fn.
// Full vectors, then one load_n/store_n tail (filled with 1, a valid argument of every
// function), so every element goes through exactly the code a kernel runs. Chunks as
// parallel.hpp cuts them.
#pragma once

#include <cstdint>

#include "kernels/args.hpp"
#include "kernels/softplus.hpp"
#include "math/exp.hpp"
#include "math/log.hpp"
#include "parallel.hpp"
#include "simd/vec.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T, class F>
void math_map(const MathArgs& a, F f) {
  using V = Vec<T>;
  constexpr std::int64_t L = V::kLanes;
  const T* x = static_cast<const T*>(a.x);
  T* out = static_cast<T*>(a.out);
  parallel_chunks(a.n, 1 << 14, a.n_threads, [&](std::int64_t begin, std::int64_t end) {
    std::int64_t i = begin;
    for (; i + L <= end; i += L) f(V::load(x + i)).store(out + i);
    if (i < end) f(V::load_n(x + i, end - i, T(1))).store_n(out + i, end - i);
  });
}

template <class T>
void math_eval(const MathArgs& a) {
  using V = Vec<T>;
  switch (a.fn) {
    case MathFn::kExp: math_map<T>(a, [](V v) { return exp(v); }); break;
    case MathFn::kLog: math_map<T>(a, [](V v) { return log(v); }); break;
    case MathFn::kLog1p: math_map<T>(a, [](V v) { return log1p(v); }); break;
    case MathFn::kExpReducedP:
      math_map<T>(a, [](V v) {
        V n;
        return exp_reduced(v, &n);
      });
      break;
    case MathFn::kExpReducedN:
      math_map<T>(a, [](V v) {
        V n;
        exp_reduced(v, &n);
        return n;
      });
      break;
    case MathFn::kSoftplusTail: math_map<T>(a, [](V v) { return softplus_tail(v); }); break;
  }
}

}  // namespace fastloss::FASTLOSS_ISA
