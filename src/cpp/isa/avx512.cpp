// The kernel table of avx512. Built with FASTLOSS_ISA=avx512 and its flags (CMakeLists.txt).
// Entries whose AVX2 version runs faster on AVX-512 hardware come from the AVX2 table
// (docs/performance.md, "Per-kernel dispatch", has the measurements).
#ifdef FASTLOSS_BUILD_AVX2
#define FASTLOSS_LENDER avx2
#define FASTLOSS_BORROWED(X) X(cross_entropy_inner_f32)
#endif
#include "isa/table.inc"
