// The kernels built for neon (for now through the portable one-lane Vec: a NEON Vec is future work). Compiled with its own flags (CMakeLists.txt).
#include <arm_neon.h>
#define FASTLOSS_ISA neon
#define FASTLOSS_SIMD_HEADER "simd/scalar.hpp"
#include "isa/table.inc"
