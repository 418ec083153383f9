// FASTLOSS_INLINE: forced inlining for the small functions of the SIMD layer and the math library.
// They are called once per vector in hot loops, where GCC otherwise keeps some out of line
// (exp/log: measured 25-35% slower kernels; the transposing loads of the lanes engine too).
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define FASTLOSS_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FASTLOSS_INLINE __forceinline
#else
#define FASTLOSS_INLINE inline
#endif
