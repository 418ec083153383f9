// Compiler-specific attributes of the kernels, defined once here; elsewhere they expand to
// nothing (or to a plain inline).
#pragma once

// FASTLOSS_INLINE: forced inlining for the small functions of the SIMD layer and the math library.
// They are called once per vector in hot loops, where GCC otherwise keeps some out of line
// (exp/log: measured 25-35% slower kernels; the transposing loads of the lanes engine too).
// FASTLOSS_LAMBDA_INLINE: the same for lambdas, which GCC would otherwise call out of line from
// the unrolled kernels.
// FASTLOSS_FLATTEN: a chunk loop compiled with everything it calls inlined: GCC otherwise keeps
// exp/log out of line (a call per vector, operands spilled around it) once a TU uses them in
// many places.
// FASTLOSS_PREFETCH(p), FASTLOSS_PREFETCH_W(p): software prefetch for reading, for writing.
#if defined(__GNUC__) || defined(__clang__)
#define FASTLOSS_INLINE inline __attribute__((always_inline))
#define FASTLOSS_LAMBDA_INLINE __attribute__((always_inline))
#define FASTLOSS_FLATTEN __attribute__((flatten))
#define FASTLOSS_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define FASTLOSS_PREFETCH_W(p) __builtin_prefetch((p), 1, 3)
#else
#ifdef _MSC_VER
#define FASTLOSS_INLINE __forceinline
#else
#define FASTLOSS_INLINE inline
#endif
#define FASTLOSS_LAMBDA_INLINE
#define FASTLOSS_FLATTEN
#define FASTLOSS_PREFETCH(p) ((void)(p))
#define FASTLOSS_PREFETCH_W(p) ((void)(p))
#endif
