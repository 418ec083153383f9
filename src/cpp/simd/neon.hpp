// Vec<T> on AArch64 NEON (Advanced SIMD, the aarch64 baseline): 4 floats per float32x4_t,
// 2 doubles per float64x2_t. Same interface as simd/scalar.hpp, which documents it. Masks are
// full-width lane masks (all ones / all zeros) in uint32x4_t / uint64x2_t.
//
// Where NEON's native instruction has other semantics than the interface, the x86 rule wins:
//   min/max: FMIN/FMAX propagate NaN from either side and FMINNM/FMAXNM drop it; the interface
//     returns the second operand when either is NaN (vminps/vmaxps), so both are a compare and
//     a bit select (FCMGT + BSL), never vminq/vmaxq. reduce_max uses the same rule, pairwise in
//     avx2.hpp's order.
//   load_n/store_n: lane loads/stores of the first n elements only (nothing past the end is
//     read or written); n >= kLanes is a full access, n <= 0 touches nothing.
//   round_even: FRINTN (ties to even, independent of FPCR).
//   scale_pow2: two steps 2^h 2^(n-h), h = trunc(n/2), as avx2.hpp, so every factor is normal.
//   decompose: the bit trick of avx2.hpp; 64-bit lanes use the arithmetic shift SSHR.
//   reduce_add: fixed order ((v0 + v2) + (v1 + v3)) for float, v0 + v1 for double.
//   load_transposed: kLanes row loads and TRN1/TRN2 (no gather on NEON).
//   the half types: FCVTL/FCVTN for float16 (round to nearest even, FPCR's default mode),
//     bfloat16 by a 16-bit shift and an integer round to nearest even; their partial loads
//     and stores go through a 4-element buffer.
// scale_pow2 is ldexp bit for bit whenever v 2^h stays normal (always for exp's v in [0.5, 2));
// like avx2.hpp it may round twice when v is already tiny and the result subnormal.
//
// Verified without Arm hardware (tools/kernel_check/, README there): an aarch64 executable,
// cross-compiled with aarch64-linux-gnu-g++ 12 and run under qemu-aarch64 (qemu-user), holds
// both the scalar and the neon kernel tables (built from their real units) and
//   - checks every primitive of this header lane by lane against simd/scalar.hpp on edge
//     values (two NaN payloads in every lane position, +-0, +-inf, subnormals, ties), with
//     scale_pow2 over all n in [-250, 250] / [-2000, 2000] and decompose over every exponent;
//     the half loads and stores over every bfloat16 and float16 bit pattern, the ties above
//     each finite value, overflow to inf and float16's subnormals;
//   - calls every entry of the KernelTable on random data of odd sizes (1 ... 100003) with
//     NaN/+-inf/subnormal inputs, inputs placed against a PROT_NONE page (a read past the end
//     faults) and outputs followed by guard values (a write past the end is caught), and
//     compares neon against scalar (1e-5 relative for float32, 1e-12 for float64, plus two
//     roundings of the half type for half outputs), and neon
//     with 1 thread against 3 threads (bitwise).
// Mutations (vmaxq for max, vminnmq for min, vaddvq for reduce_add, a full-vector load_n) were
// each caught by it. Not run on Arm hardware; not timed (qemu says nothing about speed).
#pragma once

#include <arm_neon.h>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "attributes.hpp"
#include "half.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T> struct Vec;

struct MaskF32 {
  uint32x4_t raw;
};
struct MaskF64 {
  uint64x2_t raw;
};

template <>
struct Vec<float> {
  using Elem = float;
  using Mask = MaskF32;
  static constexpr int kLanes = 4;
  float32x4_t raw;

  static Vec set1(float x) { return {vdupq_n_f32(x)}; }
  static Vec load(const float* p) { return {vld1q_f32(p)}; }
  static Vec load_n(const float* p, std::int64_t n, float fill) {
    if (n >= kLanes) return load(p);
    // Lane loads of the first n elements only: memory past p[n-1] is never touched.
    float32x4_t v = vdupq_n_f32(fill);
    if (n > 0) v = vld1q_lane_f32(p, v, 0);
    if (n > 1) v = vld1q_lane_f32(p + 1, v, 1);
    if (n > 2) v = vld1q_lane_f32(p + 2, v, 2);
    return {v};
  }
  void store(float* p) const { vst1q_f32(p, raw); }
  void store_n(float* p, std::int64_t n) const {
    if (n >= kLanes) {
      store(p);
      return;
    }
    if (n > 0) vst1q_lane_f32(p, raw, 0);
    if (n > 1) vst1q_lane_f32(p + 1, raw, 1);
    if (n > 2) vst1q_lane_f32(p + 2, raw, 2);
  }
  // The half types (half.hpp): FCVTL / FCVTN (round to nearest even, the default mode),
  // bfloat16 by a 16-bit shift and an integer round to nearest even; partial ones through a
  // small buffer.
  static Vec load(const F16* p) {
    return {vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p))))};
  }
  static Vec load(const Bf16* p) {
    return {vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p)), 16))};
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  static Vec load_n(const H* p, std::int64_t n, float fill) {
    H buf[4] = {};
    if (n > 0) std::memcpy(buf, p, sizeof(H) * static_cast<std::size_t>(n < 4 ? n : 4));
    const Vec v = load(buf);
    float f[4];
    vst1q_f32(f, v.raw);
    for (std::int64_t j = n < 0 ? 0 : n; j < 4; ++j) f[j] = fill;
    return {vld1q_f32(f)};
  }
  static void load_pairs(const Bf16* p, Vec& even, Vec& odd) {
    const uint32x4_t v = vreinterpretq_u32_u16(vld1q_u16(reinterpret_cast<const std::uint16_t*>(p)));
    even = {vreinterpretq_f32_u32(vshlq_n_u32(v, 16))};
    odd = {vreinterpretq_f32_u32(vandq_u32(v, vdupq_n_u32(0xffff0000u)))};
  }
  void store(F16* p) const { vst1_u16(reinterpret_cast<std::uint16_t*>(p), vreinterpret_u16_f16(vcvt_f16_f32(raw))); }
  // Round to nearest even on the low 16 bits; NaN made quiet (as to_bf16 in unaligned.hpp).
  void store(Bf16* p) const {
    const uint32x4_t b = vreinterpretq_u32_f32(raw);
    const uint32x4_t odd = vandq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(1));
    const uint32x4_t rounded = vaddq_u32(b, vaddq_u32(vdupq_n_u32(0x7fff), odd));
    const uint32x4_t num = vceqq_f32(raw, raw);
    const uint32x4_t r = vbslq_u32(num, rounded, vorrq_u32(b, vdupq_n_u32(0x400000)));
    vst1_u16(reinterpret_cast<std::uint16_t*>(p), vshrn_n_u32(r, 16));
  }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  void store_n(H* p, std::int64_t n) const {
    H buf[4];
    store(buf);
    if (n > 0) std::memcpy(p, buf, sizeof(H) * static_cast<std::size_t>(n < 4 ? n : 4));
  }
  // 4x4 transpose in registers: 4 row loads, TRN1/TRN2 on 32-bit lanes, then on 64-bit pairs.
  FASTLOSS_INLINE static void load_transposed(const float* p, std::int64_t stride, Vec* out) {
    const float32x4_t r0 = vld1q_f32(p), r1 = vld1q_f32(p + stride);
    const float32x4_t r2 = vld1q_f32(p + 2 * stride), r3 = vld1q_f32(p + 3 * stride);
    // t0 = (r0[0], r1[0], r0[2], r1[2]), t1 = (r0[1], r1[1], r0[3], r1[3]); t2, t3 from r2, r3.
    const float64x2_t t0 = vreinterpretq_f64_f32(vtrn1q_f32(r0, r1));
    const float64x2_t t1 = vreinterpretq_f64_f32(vtrn2q_f32(r0, r1));
    const float64x2_t t2 = vreinterpretq_f64_f32(vtrn1q_f32(r2, r3));
    const float64x2_t t3 = vreinterpretq_f64_f32(vtrn2q_f32(r2, r3));
    out[0] = {vreinterpretq_f32_f64(vtrn1q_f64(t0, t2))};
    out[1] = {vreinterpretq_f32_f64(vtrn1q_f64(t1, t3))};
    out[2] = {vreinterpretq_f32_f64(vtrn2q_f64(t0, t2))};
    out[3] = {vreinterpretq_f32_f64(vtrn2q_f64(t1, t3))};
  }
  FASTLOSS_INLINE static void load_transposed_n(const float* p, std::int64_t stride, std::int64_t, Vec* out) {
    load_transposed(p, stride, out);
  }
  // -2 where p[j] is outside [0, n) (as unsigned), then -1 where p[j] == ignore.
  static int64x2_t index_lanes(int64x2_t a, std::int64_t n, std::int64_t ignore) {
    const int64x2_t r = vbslq_s64(vcltq_u64(vreinterpretq_u64_s64(a), vdupq_n_u64(static_cast<std::uint64_t>(n))), a,
                                  vdupq_n_s64(-2));
    return vbslq_s64(vceqq_s64(a, vdupq_n_s64(ignore)), vdupq_n_s64(-1), r);
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    const int64x2_t a = index_lanes(vld1q_s64(p), n, ignore), b = index_lanes(vld1q_s64(p + 2), n, ignore);
    return {vcvtq_f32_s32(vcombine_s32(vmovn_s64(a), vmovn_s64(b)))};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    const int32x4_t v = vld1q_s32(p);
    const int32x4_t r = vbslq_s32(vcltq_u32(vreinterpretq_u32_s32(v), vdupq_n_u32(static_cast<std::uint32_t>(n))), v,
                                  vdupq_n_s32(-2));
    if (ignore < INT32_MIN || ignore > INT32_MAX) return {vcvtq_f32_s32(r)};  // matches nothing
    return {vcvtq_f32_s32(vbslq_s32(vceqq_s32(v, vdupq_n_s32(static_cast<std::int32_t>(ignore))), vdupq_n_s32(-1), r))};
  }
};

template <>
struct Vec<double> {
  using Elem = double;
  using Mask = MaskF64;
  static constexpr int kLanes = 2;
  float64x2_t raw;

  static Vec set1(double x) { return {vdupq_n_f64(x)}; }
  static Vec load(const double* p) { return {vld1q_f64(p)}; }
  static Vec load_n(const double* p, std::int64_t n, double fill) {
    if (n >= kLanes) return load(p);
    float64x2_t v = vdupq_n_f64(fill);
    if (n > 0) v = vld1q_lane_f64(p, v, 0);
    return {v};
  }
  void store(double* p) const { vst1q_f64(p, raw); }
  void store_n(double* p, std::int64_t n) const {
    if (n >= kLanes) {
      store(p);
      return;
    }
    if (n > 0) vst1q_lane_f64(p, raw, 0);
  }
  FASTLOSS_INLINE static void load_transposed(const double* p, std::int64_t stride, Vec* out) {
    const float64x2_t r0 = vld1q_f64(p), r1 = vld1q_f64(p + stride);
    out[0] = {vtrn1q_f64(r0, r1)};
    out[1] = {vtrn2q_f64(r0, r1)};
  }
  FASTLOSS_INLINE static void load_transposed_n(const double* p, std::int64_t stride, std::int64_t, Vec* out) {
    load_transposed(p, stride, out);
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    return {vcvtq_f64_s64(Vec<float>::index_lanes(vld1q_s64(p), n, ignore))};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    // Widened to int64 first; an ignore outside int32 then matches nothing, as it should.
    return {vcvtq_f64_s64(Vec<float>::index_lanes(vmovl_s32(vld1_s32(p)), n, ignore))};
  }
};

using VecF = Vec<float>;
using VecD = Vec<double>;
using MaskF = VecF::Mask;
using MaskD = VecD::Mask;

// float
inline VecF operator+(VecF a, VecF b) { return {vaddq_f32(a.raw, b.raw)}; }
inline VecF operator-(VecF a, VecF b) { return {vsubq_f32(a.raw, b.raw)}; }
inline VecF operator*(VecF a, VecF b) { return {vmulq_f32(a.raw, b.raw)}; }
inline VecF operator/(VecF a, VecF b) { return {vdivq_f32(a.raw, b.raw)}; }
inline VecF operator-(VecF a) { return {vnegq_f32(a.raw)}; }
// FMLA / FMLS: one rounding.
inline VecF fma(VecF a, VecF b, VecF c) { return {vfmaq_f32(c.raw, a.raw, b.raw)}; }
inline VecF fnma(VecF a, VecF b, VecF c) { return {vfmsq_f32(c.raw, a.raw, b.raw)}; }
// x86 rule: a < b ? a : b (resp. >), so b when either is NaN; not FMIN/FMAX (see header).
inline VecF min(VecF a, VecF b) { return {vbslq_f32(vcltq_f32(a.raw, b.raw), a.raw, b.raw)}; }
inline VecF max(VecF a, VecF b) { return {vbslq_f32(vcgtq_f32(a.raw, b.raw), a.raw, b.raw)}; }
inline VecF abs(VecF a) { return {vabsq_f32(a.raw)}; }
inline MaskF lt(VecF a, VecF b) { return {vcltq_f32(a.raw, b.raw)}; }
inline MaskF le(VecF a, VecF b) { return {vcleq_f32(a.raw, b.raw)}; }
inline MaskF gt(VecF a, VecF b) { return {vcgtq_f32(a.raw, b.raw)}; }
inline MaskF ge(VecF a, VecF b) { return {vcgeq_f32(a.raw, b.raw)}; }
inline MaskF eq(VecF a, VecF b) { return {vceqq_f32(a.raw, b.raw)}; }
inline MaskF is_nan(VecF a) { return {vmvnq_u32(vceqq_f32(a.raw, a.raw))}; }
inline VecF select(MaskF m, VecF a, VecF b) { return {vbslq_f32(m.raw, a.raw, b.raw)}; }
inline MaskF operator&(MaskF a, MaskF b) { return {vandq_u32(a.raw, b.raw)}; }
inline MaskF operator|(MaskF a, MaskF b) { return {vorrq_u32(a.raw, b.raw)}; }
inline bool any(MaskF m) { return vmaxvq_u32(m.raw) != 0; }
inline bool none(MaskF m) { return vmaxvq_u32(m.raw) == 0; }
inline VecF round_even(VecF a) { return {vrndnq_f32(a.raw)}; }

// 2^n for integral n in [-126, 127], built in the exponent field.
inline float32x4_t pow2_f32(float32x4_t n) {
  const int32x4_t ni = vcvtq_s32_f32(n);  // n is integral: truncation is exact
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(ni, vdupq_n_s32(127)), 23));
}
inline VecF scale_pow2(VecF v, VecF n) {
  // Two steps keep each factor a normal number: |n| <= 250 stays exact down into subnormals.
  const float32x4_t half = vrndq_f32(vmulq_f32(n.raw, vdupq_n_f32(0.5f)));  // toward zero
  const float32x4_t rest = vsubq_f32(n.raw, half);
  return {vmulq_f32(vmulq_f32(v.raw, pow2_f32(half)), pow2_f32(rest))};
}
inline VecF decompose_normal(VecF x, VecF* e) {
  // Subtracting the bits of sqrt(2)/2 moves the exponent boundary there.
  const int32x4_t bits = vreinterpretq_s32_f32(x.raw);
  const int32x4_t k = vshrq_n_s32(vsubq_s32(bits, vdupq_n_s32(0x3f3504f3)), 23);
  const int32x4_t m_bits = vsubq_s32(bits, vshlq_n_s32(k, 23));
  *e = {vcvtq_f32_s32(k)};
  return {vreinterpretq_f32_s32(m_bits)};
}
inline VecF decompose(VecF x, VecF* e) {
  // Subnormals: scale by 2^25 first so that the exponent field is meaningful.
  const uint32x4_t tiny = vcltq_f32(x.raw, vdupq_n_f32(0x1p-126f));
  const float32x4_t xs = vbslq_f32(tiny, vmulq_f32(x.raw, vdupq_n_f32(0x1p25f)), x.raw);
  const float32x4_t e_adj = vbslq_f32(tiny, vdupq_n_f32(-25.0f), vdupq_n_f32(0.0f));
  VecF k;
  const VecF m = decompose_normal({xs}, &k);
  *e = {vaddq_f32(k.raw, e_adj)};
  return m;
}
inline float reduce_add(VecF v) {
  const float32x2_t s2 = vadd_f32(vget_low_f32(v.raw), vget_high_f32(v.raw));  // v0+v2, v1+v3
  return vget_lane_f32(s2, 0) + vget_lane_f32(s2, 1);
}
inline float reduce_max(VecF v) {
  // x86 rule at every step (as avx2.hpp: max(lo, hi), then lane 0 against lane 1).
  const float32x2_t lo = vget_low_f32(v.raw), hi = vget_high_f32(v.raw);
  const float32x2_t s2 = vbsl_f32(vcgt_f32(lo, hi), lo, hi);
  const float a = vget_lane_f32(s2, 0), b = vget_lane_f32(s2, 1);
  return a > b ? a : b;
}

// double
inline VecD operator+(VecD a, VecD b) { return {vaddq_f64(a.raw, b.raw)}; }
inline VecD operator-(VecD a, VecD b) { return {vsubq_f64(a.raw, b.raw)}; }
inline VecD operator*(VecD a, VecD b) { return {vmulq_f64(a.raw, b.raw)}; }
inline VecD operator/(VecD a, VecD b) { return {vdivq_f64(a.raw, b.raw)}; }
inline VecD operator-(VecD a) { return {vnegq_f64(a.raw)}; }
inline VecD fma(VecD a, VecD b, VecD c) { return {vfmaq_f64(c.raw, a.raw, b.raw)}; }
inline VecD fnma(VecD a, VecD b, VecD c) { return {vfmsq_f64(c.raw, a.raw, b.raw)}; }
inline VecD min(VecD a, VecD b) { return {vbslq_f64(vcltq_f64(a.raw, b.raw), a.raw, b.raw)}; }
inline VecD max(VecD a, VecD b) { return {vbslq_f64(vcgtq_f64(a.raw, b.raw), a.raw, b.raw)}; }
inline VecD abs(VecD a) { return {vabsq_f64(a.raw)}; }
inline MaskD lt(VecD a, VecD b) { return {vcltq_f64(a.raw, b.raw)}; }
inline MaskD le(VecD a, VecD b) { return {vcleq_f64(a.raw, b.raw)}; }
inline MaskD gt(VecD a, VecD b) { return {vcgtq_f64(a.raw, b.raw)}; }
inline MaskD ge(VecD a, VecD b) { return {vcgeq_f64(a.raw, b.raw)}; }
inline MaskD eq(VecD a, VecD b) { return {vceqq_f64(a.raw, b.raw)}; }
inline MaskD is_nan(VecD a) {
  return {vreinterpretq_u64_u32(vmvnq_u32(vreinterpretq_u32_u64(vceqq_f64(a.raw, a.raw))))};
}
inline VecD select(MaskD m, VecD a, VecD b) { return {vbslq_f64(m.raw, a.raw, b.raw)}; }
inline MaskD operator&(MaskD a, MaskD b) { return {vandq_u64(a.raw, b.raw)}; }
inline MaskD operator|(MaskD a, MaskD b) { return {vorrq_u64(a.raw, b.raw)}; }
inline bool any(MaskD m) { return vmaxvq_u32(vreinterpretq_u32_u64(m.raw)) != 0; }
inline bool none(MaskD m) { return vmaxvq_u32(vreinterpretq_u32_u64(m.raw)) == 0; }
inline VecD round_even(VecD a) { return {vrndnq_f64(a.raw)}; }

// 2^n for integral n in [-1022, 1023], built in the exponent field.
inline float64x2_t pow2_f64(float64x2_t n) {
  const int64x2_t ni = vcvtq_s64_f64(n);
  return vreinterpretq_f64_s64(vshlq_n_s64(vaddq_s64(ni, vdupq_n_s64(1023)), 52));
}
inline VecD scale_pow2(VecD v, VecD n) {
  const float64x2_t half = vrndq_f64(vmulq_f64(n.raw, vdupq_n_f64(0.5)));
  const float64x2_t rest = vsubq_f64(n.raw, half);
  return {vmulq_f64(vmulq_f64(v.raw, pow2_f64(half)), pow2_f64(rest))};
}
inline VecD decompose_normal(VecD x, VecD* e) {
  // NEON has a 64-bit arithmetic shift: k directly, no bias (unlike avx2.hpp).
  const int64x2_t bits = vreinterpretq_s64_f64(x.raw);
  const int64x2_t k = vshrq_n_s64(vsubq_s64(bits, vdupq_n_s64(0x3fe6a09e667f3bcdLL)), 52);
  const int64x2_t m_bits = vsubq_s64(bits, vshlq_n_s64(k, 52));
  *e = {vcvtq_f64_s64(k)};
  return {vreinterpretq_f64_s64(m_bits)};
}
inline VecD decompose(VecD x, VecD* e) {
  const uint64x2_t tiny = vcltq_f64(x.raw, vdupq_n_f64(0x1p-1022));
  const float64x2_t xs = vbslq_f64(tiny, vmulq_f64(x.raw, vdupq_n_f64(0x1p54)), x.raw);
  const float64x2_t e_adj = vbslq_f64(tiny, vdupq_n_f64(-54.0), vdupq_n_f64(0.0));
  VecD k;
  const VecD m = decompose_normal({xs}, &k);
  *e = {vaddq_f64(k.raw, e_adj)};
  return m;
}
inline double reduce_add(VecD v) { return vgetq_lane_f64(v.raw, 0) + vgetq_lane_f64(v.raw, 1); }
inline double reduce_max(VecD v) {
  const double a = vgetq_lane_f64(v.raw, 0), b = vgetq_lane_f64(v.raw, 1);
  return a > b ? a : b;
}

inline void widen_add(VecD& acc_lo, VecD& acc_hi, VecF v) {
  acc_lo.raw = vaddq_f64(acc_lo.raw, vcvt_f64_f32(vget_low_f32(v.raw)));
  acc_hi.raw = vaddq_f64(acc_hi.raw, vcvt_high_f64_f32(v.raw));
}
inline void widen_add(VecD& acc, VecD v) { acc.raw = vaddq_f64(acc.raw, v.raw); }

inline VecF pow2_low_bits(VecF y) { return {vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(y.raw), 23))}; }
inline VecD pow2_low_bits(VecD y) { return {vreinterpretq_f64_u64(vshlq_n_u64(vreinterpretq_u64_f64(y.raw), 52))}; }

}  // namespace fastloss::FASTLOSS_ISA
