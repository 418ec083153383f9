// Vec<T> of the instruction set this unit is built for. FASTLOSS_ISA (scalar, avx2, avx512 or
// neon; CMakeLists.txt sets it per unit) names both the namespace fastloss::<isa> and the
// header simd/<isa>.hpp included here.
#pragma once

#ifndef FASTLOSS_ISA
#error "FASTLOSS_ISA names the instruction set of this unit: scalar, avx2, avx512 or neon"
#endif

#define FASTLOSS_ISA_ID_scalar 1
#define FASTLOSS_ISA_ID_avx2 2
#define FASTLOSS_ISA_ID_avx512 3
#define FASTLOSS_ISA_ID_neon 4
#define FASTLOSS_ISA_ID2(isa) FASTLOSS_ISA_ID_##isa
#define FASTLOSS_ISA_ID(isa) FASTLOSS_ISA_ID2(isa)

#if FASTLOSS_ISA_ID(FASTLOSS_ISA) == FASTLOSS_ISA_ID_scalar
#include "simd/scalar.hpp"
#elif FASTLOSS_ISA_ID(FASTLOSS_ISA) == FASTLOSS_ISA_ID_avx2
#include "simd/avx2.hpp"
#elif FASTLOSS_ISA_ID(FASTLOSS_ISA) == FASTLOSS_ISA_ID_avx512
#include "simd/avx512.hpp"
#elif FASTLOSS_ISA_ID(FASTLOSS_ISA) == FASTLOSS_ISA_ID_neon
#include "simd/neon.hpp"
#else
#error "FASTLOSS_ISA is not one of scalar, avx2, avx512, neon"
#endif
