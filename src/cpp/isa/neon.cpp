// The kernel table of neon: Vec<T> on AArch64 Advanced SIMD (simd/neon.hpp). NEON is the aarch64
// baseline, so its units need no extra flags (CMakeLists.txt).
#include "isa/table.inc"
