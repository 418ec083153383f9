// The half-precision storage types (docs/numerics.md, "Half precision"): bfloat16 and IEEE
// float16 as they lie in memory. Kernels read them converted to float32 as they load them
// (Vec<float>::load of a Bf16* or F16*, load_one), compute and accumulate as for float32
// input, and write them back rounded once to nearest even (store, store_one). Plain data,
// no code: the conversions are built per ISA (simd/<isa>.hpp, kernels/unaligned.hpp).
#pragma once

#include <cstdint>
#include <type_traits>

namespace fastloss {

struct Bf16 {
  std::uint16_t bits;
};
struct F16 {
  std::uint16_t bits;
};

template <class S>
constexpr bool kIsHalf = std::is_same_v<S, Bf16> || std::is_same_v<S, F16>;

// The type a kernel computes in for storage type S: float for the half types, else S.
template <class S>
using Compute = std::conditional_t<kIsHalf<S>, float, S>;

}  // namespace fastloss
