// The kernels built for avx512. Compiled with its own flags (CMakeLists.txt).
#include <immintrin.h>
#define FASTLOSS_ISA avx512
#define FASTLOSS_SIMD_HEADER "simd/avx512.hpp"
#include "isa/table.inc"
