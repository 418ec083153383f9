// Polynomial evaluation shared by math/exp.hpp and math/log.hpp.
#pragma once

// The math functions are small and called once per vector in hot loops: GCC otherwise keeps
// exp/log out of line (measured 25-35% slower kernels), so they are forced inline.
#ifndef FASTLOSS_INLINE
#if defined(__GNUC__) || defined(__clang__)
#define FASTLOSS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FASTLOSS_INLINE __forceinline
#else
#define FASTLOSS_INLINE inline
#endif
#endif

namespace fastloss::FASTLOSS_ISA {

// horner(x, c0, c1, ..., ck) = c0 + x (c1 + x (... + x ck)): k FMAs, the fewest ops. Latency is
// hidden by the independent vectors of a kernel loop rather than by Estrin's extra multiplies.
template <class V, class T>
FASTLOSS_INLINE V horner(V /*x*/, T c0) {
  return V::set1(c0);
}
template <class V, class T, class... Rest>
FASTLOSS_INLINE V horner(V x, T c0, Rest... rest) {
  return fma(horner(x, rest...), x, V::set1(c0));
}

}  // namespace fastloss::FASTLOSS_ISA
