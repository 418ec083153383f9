// The kernels built for neon: Vec<T> on AArch64 Advanced SIMD (simd/neon.hpp). NEON is the
// aarch64 baseline, so this TU needs no extra flags (CMakeLists.txt).
#include <arm_neon.h>
#define FASTLOSS_ISA neon
#define FASTLOSS_SIMD_HEADER "simd/neon.hpp"
#include "isa/table.inc"
