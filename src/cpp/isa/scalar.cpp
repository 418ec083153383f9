// The kernels built for scalar. Compiled with its own flags (CMakeLists.txt).

#define FASTLOSS_ISA scalar
#define FASTLOSS_SIMD_HEADER "simd/scalar.hpp"
#include "isa/table.inc"
