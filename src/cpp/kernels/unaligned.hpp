// Scalar reads and writes of user memory that assume no alignment: the bindings pass aligned
// arrays, but a kernel must not depend on it (a misaligned plain dereference is undefined
// behaviour, and faults on some targets). std::memcpy of one element compiles to the same
// single load or store as the dereference. In the ISA namespace, as everything built per ISA.
// The half types (half.hpp) are read as float and written rounded to nearest even, in
// integer arithmetic: the same bits on every ISA, the scalar one included (no F16C there).
#pragma once

#include <cstdint>
#include <cstring>

#include "attributes.hpp"
#include "half.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T>
FASTLOSS_INLINE T load_one(const T* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
FASTLOSS_INLINE void store_one(T* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

FASTLOSS_INLINE float float_from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
FASTLOSS_INLINE std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// bfloat16 is the high half of a float32.
FASTLOSS_INLINE float to_float(Bf16 h) { return float_from_bits(std::uint32_t{h.bits} << 16); }
// Round to nearest even on the dropped 16 bits (a carry into the exponent is the right
// result, up to +inf); NaN stays NaN, made quiet (its top bits alone could read as inf).
FASTLOSS_INLINE Bf16 to_bf16(float f) {
  const std::uint32_t b = bits_of(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return {static_cast<std::uint16_t>((b >> 16) | 0x40u)};
  return {static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16)};
}

FASTLOSS_INLINE float to_float(F16 h) {
  const std::uint32_t sign = std::uint32_t{h.bits & 0x8000u} << 16;
  const std::uint32_t e = (h.bits >> 10) & 0x1fu, m = h.bits & 0x3ffu;
  if (e == 0x1f) return float_from_bits(sign | 0x7f800000u | (m << 13));  // inf, NaN (quiet bit kept)
  if (e == 0) {  // zero and subnormals: m 2^-24, exact in float
    const float v = static_cast<float>(m) * 0x1p-24f;
    return sign ? -v : v;
  }
  return float_from_bits(sign | ((e + 112u) << 23) | (m << 13));
}
// Round to nearest even: normal results by an integer add on the dropped 13 bits (a carry
// into the exponent is right, up to 65504); |f| >= 65520 is inf; subnormal results by one
// float add of 0.5, whose ulp is 2^-24, the float16 subnormal step (the float add rounds to
// nearest even).
FASTLOSS_INLINE F16 to_f16(float f) {
  std::uint32_t b = bits_of(f);
  const auto sign = static_cast<std::uint16_t>((b >> 16) & 0x8000u);
  b &= 0x7fffffffu;
  if (b > 0x7f800000u) return {static_cast<std::uint16_t>(sign | 0x7e00u | ((b >> 13) & 0x3ffu))};
  if (b >= 0x477ff000u) return {static_cast<std::uint16_t>(sign | 0x7c00u)};
  if (b < 0x38800000u) {
    const std::uint32_t m = bits_of(float_from_bits(b) + 0.5f) - bits_of(0.5f);
    return {static_cast<std::uint16_t>(sign | m)};
  }
  b += 0xc8000fffu + ((b >> 13) & 1u);  // rebias the exponent by -112 (mod 2^32), then round
  return {static_cast<std::uint16_t>(sign | (b >> 13))};
}

FASTLOSS_INLINE float load_one(const Bf16* p) { return to_float(load_one<Bf16>(p)); }
FASTLOSS_INLINE float load_one(const F16* p) { return to_float(load_one<F16>(p)); }
FASTLOSS_INLINE void store_one(Bf16* p, float v) { store_one<Bf16>(p, to_bf16(v)); }
FASTLOSS_INLINE void store_one(F16* p, float v) { store_one<F16>(p, to_f16(v)); }

}  // namespace fastloss::FASTLOSS_ISA
