// The kernels built for avx2. Compiled with its own flags (CMakeLists.txt).
#include <immintrin.h>
#define FASTLOSS_ISA avx2
#define FASTLOSS_SIMD_HEADER "simd/avx2.hpp"
#include "isa/table.inc"
