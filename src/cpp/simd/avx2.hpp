// Vec<T> on AVX2 + FMA: 8 floats or 4 doubles per __m256. Same interface as simd/scalar.hpp,
// which documents it. Masks are full-width lane masks (all ones / all zeros).
#pragma once

#include <immintrin.h>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "attributes.hpp"
#include "half.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T> struct Vec;

struct MaskF32 {
  __m256 raw;
};
struct MaskF64 {
  __m256d raw;
};

// Lanes [0, n) of a kLanes-wide int32 index vector: the mask of a partial load.
inline __m256i first_lanes_i32(std::int64_t n) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}
inline __m256i first_lanes_i64(std::int64_t n) {
  const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), idx);
}

// load_index on 4 int64 lanes (last = (n - 1) with the sign bit flipped): unsigned a < n as a
// signed compare with flipped sign bits; an out-of-range or ignored lane ORs to -1, and an
// out-of-range one that is not ignored then adds -1.
inline __m256i index_lanes_i64(__m256i a, __m256i last, __m256i ignore) {
  const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
  const __m256i out = _mm256_cmpgt_epi64(_mm256_xor_si256(a, flip), last), ign = _mm256_cmpeq_epi64(a, ignore);
  return _mm256_add_epi64(_mm256_or_si256(a, _mm256_or_si256(out, ign)), _mm256_andnot_si256(ign, out));
}

template <>
struct Vec<float> {
  using Elem = float;
  using Mask = MaskF32;
  static constexpr int kLanes = 8;
  __m256 raw;

  static Vec set1(float x) { return {_mm256_set1_ps(x)}; }
  static Vec load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static Vec load_n(const float* p, std::int64_t n, float fill) {
    const __m256i m = first_lanes_i32(n);
    // maskload never touches memory in masked-off lanes, so reading past the end is safe.
    return {_mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m))};
  }
  void store(float* p) const { _mm256_storeu_ps(p, raw); }
  void store_n(float* p, std::int64_t n) const { _mm256_maskstore_ps(p, first_lanes_i32(n), raw); }
  // The half types (half.hpp): F16C's vcvtph2ps / vcvtps2ph (round to nearest even), bfloat16
  // by a 16-bit shift and an integer round to nearest even. AVX2 has no 16-bit masked moves:
  // the partial ones go through a small buffer.
  static Vec load(const F16* p) { return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)))}; }
  static Vec load(const Bf16* p) { return from_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  static Vec load_n(const H* p, std::int64_t n, float fill) {
    H buf[8] = {};
    if (n > 0) std::memcpy(buf, p, sizeof(H) * static_cast<std::size_t>(n < 8 ? n : 8));
    const __m256i m = first_lanes_i32(n);
    return {_mm256_blendv_ps(_mm256_set1_ps(fill), load(buf).raw, _mm256_castsi256_ps(m))};
  }
  void store(F16* p) const {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p),
                     _mm256_cvtps_ph(raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
  void store(Bf16* p) const { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), to_bf16()); }
  template <class H, std::enable_if_t<kIsHalf<H>, int> = 0>
  void store_n(H* p, std::int64_t n) const {
    H buf[8];
    store(buf);
    if (n > 0) std::memcpy(p, buf, sizeof(H) * static_cast<std::size_t>(n < 8 ? n : 8));
  }
  static Vec from_bf16(__m128i h) { return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))}; }
  // Round to nearest even on the low 16 bits; NaN made quiet (as to_bf16 in unaligned.hpp).
  __m128i to_bf16() const {
    const __m256i b = _mm256_castps_si256(raw);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_add_epi32(b, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd));
    const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(raw, raw, _CMP_UNORD_Q));
    const __m256i r = _mm256_srli_epi32(
        _mm256_blendv_epi8(rounded, _mm256_or_si256(b, _mm256_set1_epi32(0x400000)), nan), 16);
    // Pack the 16-bit halves of both 128-bit lanes (values <= 0xffff: no saturation).
    return _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  }
  // 8x8 transpose in registers: 8 loads, 24 shuffles (a gather costs ~11 cycles on Zen 3).
  FASTLOSS_INLINE static void load_transposed(const float* p, std::int64_t stride, Vec* out) {
    __m256 r[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(p + j * stride);
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    out[0] = {_mm256_permute2f128_ps(s0, s4, 0x20)};
    out[1] = {_mm256_permute2f128_ps(s1, s5, 0x20)};
    out[2] = {_mm256_permute2f128_ps(s2, s6, 0x20)};
    out[3] = {_mm256_permute2f128_ps(s3, s7, 0x20)};
    out[4] = {_mm256_permute2f128_ps(s0, s4, 0x31)};
    out[5] = {_mm256_permute2f128_ps(s1, s5, 0x31)};
    out[6] = {_mm256_permute2f128_ps(s2, s6, 0x31)};
    out[7] = {_mm256_permute2f128_ps(s3, s7, 0x31)};
  }
  // The first n outputs: 64-bit row loads and 4 shuffles for n <= 2, 128-bit row loads and
  // 8 shuffles for n <= 4 (the last class block of a short row), else load_transposed.
  FASTLOSS_INLINE static void load_transposed_n(const float* p, std::int64_t stride, std::int64_t n, Vec* out) {
    if (n <= 2) {
      // Rows j and j + 1, two elements each, in one xmm.
      auto pair = [&](int j) {
        const __m128 lo = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + j * stride)));
        return _mm_loadh_pi(lo, reinterpret_cast<const __m64*>(p + (j + 1) * stride));
      };
      const __m256 a = _mm256_insertf128_ps(_mm256_castps128_ps256(pair(0)), pair(4), 1);  // rows 0 1 | 4 5
      const __m256 b = _mm256_insertf128_ps(_mm256_castps128_ps256(pair(2)), pair(6), 1);  // rows 2 3 | 6 7
      out[0] = {_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))};
      if (n == 2) out[1] = {_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))};
      return;
    }
    if (n <= 4) {
      __m256 r[4];  // rows j | j + 4, then a 4x4 transpose in each 128-bit half
      for (int j = 0; j < 4; ++j)
        r[j] = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + j * stride)),
                                    _mm_loadu_ps(p + (j + 4) * stride), 1);
      const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
      const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
      out[0] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0))};
      out[1] = {_mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2))};
      out[2] = {_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0))};
      if (n == 4) out[3] = {_mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2))};
      return;
    }
    load_transposed(p, stride, out);
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
    const __m256i last = _mm256_xor_si256(_mm256_set1_epi64x(n - 1), flip), ign = _mm256_set1_epi64x(ignore);
    const __m256i a = index_lanes_i64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), last, ign);
    const __m256i b = index_lanes_i64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4)), last, ign);
    const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // low dwords first
    const __m256i ab = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(a, low),
                                                 _mm256_permutevar8x32_epi32(b, low), 0x20);
    return {_mm256_cvtepi32_ps(ab)};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    const __m256i flip = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    const __m256i last = _mm256_xor_si256(_mm256_set1_epi32(static_cast<int>(n - 1)), flip);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    // An ignore_index outside int32 matches nothing.
    const bool ig_fits = ignore >= INT32_MIN && ignore <= INT32_MAX;
    const __m256i ign = ig_fits ? _mm256_cmpeq_epi32(v, _mm256_set1_epi32(static_cast<int>(ignore)))
                                : _mm256_setzero_si256();
    const __m256i out = _mm256_cmpgt_epi32(_mm256_xor_si256(v, flip), last);
    return {_mm256_cvtepi32_ps(
        _mm256_add_epi32(_mm256_or_si256(v, _mm256_or_si256(out, ign)), _mm256_andnot_si256(ign, out)))};
  }
};

template <>
struct Vec<double> {
  using Elem = double;
  using Mask = MaskF64;
  static constexpr int kLanes = 4;
  __m256d raw;

  static Vec set1(double x) { return {_mm256_set1_pd(x)}; }
  static Vec load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static Vec load_n(const double* p, std::int64_t n, double fill) {
    const __m256i m = first_lanes_i64(n);
    return {_mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m))};
  }
  void store(double* p) const { _mm256_storeu_pd(p, raw); }
  void store_n(double* p, std::int64_t n) const { _mm256_maskstore_pd(p, first_lanes_i64(n), raw); }
  FASTLOSS_INLINE static void load_transposed(const double* p, std::int64_t stride, Vec* out) {
    const __m256d r0 = _mm256_loadu_pd(p), r1 = _mm256_loadu_pd(p + stride);
    const __m256d r2 = _mm256_loadu_pd(p + 2 * stride), r3 = _mm256_loadu_pd(p + 3 * stride);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    out[0] = {_mm256_permute2f128_pd(t0, t2, 0x20)};
    out[1] = {_mm256_permute2f128_pd(t1, t3, 0x20)};
    out[2] = {_mm256_permute2f128_pd(t0, t2, 0x31)};
    out[3] = {_mm256_permute2f128_pd(t1, t3, 0x31)};
  }
  FASTLOSS_INLINE static void load_transposed_n(const double* p, std::int64_t stride, std::int64_t, Vec* out) {
    load_transposed(p, stride, out);
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    const __m256i flip = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
    const __m256i last = _mm256_xor_si256(_mm256_set1_epi64x(n - 1), flip);
    const __m256i a = index_lanes_i64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), last,
                                      _mm256_set1_epi64x(ignore));
    const __m256i low = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    return {_mm256_cvtepi32_pd(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(a, low)))};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    const __m128i flip = _mm_set1_epi32(static_cast<int>(0x80000000u));
    const __m128i last = _mm_xor_si128(_mm_set1_epi32(static_cast<int>(n - 1)), flip);
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const bool ig_fits = ignore >= INT32_MIN && ignore <= INT32_MAX;
    const __m128i ign = ig_fits ? _mm_cmpeq_epi32(v, _mm_set1_epi32(static_cast<int>(ignore))) : _mm_setzero_si128();
    const __m128i out = _mm_cmpgt_epi32(_mm_xor_si128(v, flip), last);
    return {_mm256_cvtepi32_pd(_mm_add_epi32(_mm_or_si128(v, _mm_or_si128(out, ign)), _mm_andnot_si128(ign, out)))};
  }
};

using VecF = Vec<float>;
using VecD = Vec<double>;
using MaskF = VecF::Mask;
using MaskD = VecD::Mask;

// float
inline VecF operator+(VecF a, VecF b) { return {_mm256_add_ps(a.raw, b.raw)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm256_sub_ps(a.raw, b.raw)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm256_mul_ps(a.raw, b.raw)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm256_div_ps(a.raw, b.raw)}; }
inline VecF operator-(VecF a) { return {_mm256_xor_ps(a.raw, _mm256_set1_ps(-0.0f))}; }
inline VecF fma(VecF a, VecF b, VecF c) { return {_mm256_fmadd_ps(a.raw, b.raw, c.raw)}; }
inline VecF fnma(VecF a, VecF b, VecF c) { return {_mm256_fnmadd_ps(a.raw, b.raw, c.raw)}; }
// vminps/vmaxps return the second operand when either is NaN.
inline VecF min(VecF a, VecF b) { return {_mm256_min_ps(a.raw, b.raw)}; }
inline VecF max(VecF a, VecF b) { return {_mm256_max_ps(a.raw, b.raw)}; }
inline VecF abs(VecF a) { return {_mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.raw)}; }
inline MaskF lt(VecF a, VecF b) { return {_mm256_cmp_ps(a.raw, b.raw, _CMP_LT_OQ)}; }
inline MaskF le(VecF a, VecF b) { return {_mm256_cmp_ps(a.raw, b.raw, _CMP_LE_OQ)}; }
inline MaskF gt(VecF a, VecF b) { return {_mm256_cmp_ps(a.raw, b.raw, _CMP_GT_OQ)}; }
inline MaskF ge(VecF a, VecF b) { return {_mm256_cmp_ps(a.raw, b.raw, _CMP_GE_OQ)}; }
inline MaskF eq(VecF a, VecF b) { return {_mm256_cmp_ps(a.raw, b.raw, _CMP_EQ_OQ)}; }
inline MaskF is_nan(VecF a) { return {_mm256_cmp_ps(a.raw, a.raw, _CMP_UNORD_Q)}; }
inline VecF select(MaskF m, VecF a, VecF b) { return {_mm256_blendv_ps(b.raw, a.raw, m.raw)}; }
inline MaskF operator&(MaskF a, MaskF b) { return {_mm256_and_ps(a.raw, b.raw)}; }
inline MaskF operator|(MaskF a, MaskF b) { return {_mm256_or_ps(a.raw, b.raw)}; }
inline bool any(MaskF m) { return _mm256_movemask_ps(m.raw) != 0; }
inline bool none(MaskF m) { return _mm256_movemask_ps(m.raw) == 0; }
inline VecF round_even(VecF a) { return {_mm256_round_ps(a.raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }

// 2^n for integral n in [-126, 127], built in the exponent field.
inline __m256 pow2_f32(__m256 n) {
  const __m256i ni = _mm256_cvtps_epi32(n);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ni, _mm256_set1_epi32(127)), 23));
}
inline VecF scale_pow2(VecF v, VecF n) {
  // Two steps keep each factor a normal number: |n| <= 250 stays exact down into subnormals.
  const __m256 half = _mm256_round_ps(_mm256_mul_ps(n.raw, _mm256_set1_ps(0.5f)),
                                      _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 rest = _mm256_sub_ps(n.raw, half);
  return {_mm256_mul_ps(_mm256_mul_ps(v.raw, pow2_f32(half)), pow2_f32(rest))};
}
inline VecF decompose_normal(VecF x, VecF* e) {
  // Subtracting the bits of sqrt(2)/2 moves the exponent boundary there.
  const __m256i bits = _mm256_castps_si256(x.raw);
  const __m256i k = _mm256_srai_epi32(_mm256_sub_epi32(bits, _mm256_set1_epi32(0x3f3504f3)), 23);
  const __m256i m_bits = _mm256_sub_epi32(bits, _mm256_slli_epi32(k, 23));
  *e = {_mm256_cvtepi32_ps(k)};
  return {_mm256_castsi256_ps(m_bits)};
}
inline VecF decompose(VecF x, VecF* e) {
  // Subnormals: scale by 2^25 first so that the exponent field is meaningful.
  const __m256 tiny = _mm256_cmp_ps(x.raw, _mm256_set1_ps(0x1p-126f), _CMP_LT_OQ);
  const __m256 xs = _mm256_blendv_ps(x.raw, _mm256_mul_ps(x.raw, _mm256_set1_ps(0x1p25f)), tiny);
  const __m256 e_adj = _mm256_and_ps(tiny, _mm256_set1_ps(-25.0f));
  VecF k;
  const VecF m = decompose_normal({xs}, &k);
  *e = {_mm256_add_ps(k.raw, e_adj)};
  return m;
}
inline float reduce_add(VecF v) {
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v.raw), _mm256_extractf128_ps(v.raw, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
inline float reduce_max(VecF v) {
  const __m128 s4 = _mm_max_ps(_mm256_castps256_ps128(v.raw), _mm256_extractf128_ps(v.raw, 1));
  const __m128 s2 = _mm_max_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_max_ss(s2, _mm_movehdup_ps(s2)));
}

// double
inline VecD operator+(VecD a, VecD b) { return {_mm256_add_pd(a.raw, b.raw)}; }
inline VecD operator-(VecD a, VecD b) { return {_mm256_sub_pd(a.raw, b.raw)}; }
inline VecD operator*(VecD a, VecD b) { return {_mm256_mul_pd(a.raw, b.raw)}; }
inline VecD operator/(VecD a, VecD b) { return {_mm256_div_pd(a.raw, b.raw)}; }
inline VecD operator-(VecD a) { return {_mm256_xor_pd(a.raw, _mm256_set1_pd(-0.0))}; }
inline VecD fma(VecD a, VecD b, VecD c) { return {_mm256_fmadd_pd(a.raw, b.raw, c.raw)}; }
inline VecD fnma(VecD a, VecD b, VecD c) { return {_mm256_fnmadd_pd(a.raw, b.raw, c.raw)}; }
inline VecD min(VecD a, VecD b) { return {_mm256_min_pd(a.raw, b.raw)}; }
inline VecD max(VecD a, VecD b) { return {_mm256_max_pd(a.raw, b.raw)}; }
inline VecD abs(VecD a) { return {_mm256_andnot_pd(_mm256_set1_pd(-0.0), a.raw)}; }
inline MaskD lt(VecD a, VecD b) { return {_mm256_cmp_pd(a.raw, b.raw, _CMP_LT_OQ)}; }
inline MaskD le(VecD a, VecD b) { return {_mm256_cmp_pd(a.raw, b.raw, _CMP_LE_OQ)}; }
inline MaskD gt(VecD a, VecD b) { return {_mm256_cmp_pd(a.raw, b.raw, _CMP_GT_OQ)}; }
inline MaskD ge(VecD a, VecD b) { return {_mm256_cmp_pd(a.raw, b.raw, _CMP_GE_OQ)}; }
inline MaskD eq(VecD a, VecD b) { return {_mm256_cmp_pd(a.raw, b.raw, _CMP_EQ_OQ)}; }
inline MaskD is_nan(VecD a) { return {_mm256_cmp_pd(a.raw, a.raw, _CMP_UNORD_Q)}; }
inline VecD select(MaskD m, VecD a, VecD b) { return {_mm256_blendv_pd(b.raw, a.raw, m.raw)}; }
inline MaskD operator&(MaskD a, MaskD b) { return {_mm256_and_pd(a.raw, b.raw)}; }
inline MaskD operator|(MaskD a, MaskD b) { return {_mm256_or_pd(a.raw, b.raw)}; }
inline bool any(MaskD m) { return _mm256_movemask_pd(m.raw) != 0; }
inline bool none(MaskD m) { return _mm256_movemask_pd(m.raw) == 0; }
inline VecD round_even(VecD a) { return {_mm256_round_pd(a.raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }

// 2^n for integral n in [-1022, 1023]: adding 1.5*2^52 puts n in the low mantissa bits,
// and shifting those into the exponent field drops the rest.
inline __m256d pow2_f64(__m256d n) {
  const __m256d shifted = _mm256_add_pd(n, _mm256_set1_pd(0x1.8p52));
  const __m256i ebits = _mm256_slli_epi64(_mm256_castpd_si256(shifted), 52);
  return _mm256_castsi256_pd(_mm256_add_epi64(ebits, _mm256_set1_epi64x(0x3ff0000000000000LL)));
}
inline VecD scale_pow2(VecD v, VecD n) {
  const __m256d half = _mm256_round_pd(_mm256_mul_pd(n.raw, _mm256_set1_pd(0.5)),
                                       _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256d rest = _mm256_sub_pd(n.raw, half);
  return {_mm256_mul_pd(_mm256_mul_pd(v.raw, pow2_f64(half)), pow2_f64(rest))};
}
inline VecD decompose_normal(VecD x, VecD* e) {
  // AVX2 has no 64-bit arithmetic shift: bias by 1024 in the exponent field so that the
  // difference stays non-negative and a logical shift gives k + 1024.
  const __m256i bits = _mm256_castpd_si256(x.raw);
  const __m256i biased = _mm256_add_epi64(_mm256_sub_epi64(bits, _mm256_set1_epi64x(0x3fe6a09e667f3bcdLL)),
                                          _mm256_set1_epi64x(1024LL << 52));
  const __m256i k_biased = _mm256_srli_epi64(biased, 52);
  const __m256i k_field = _mm256_sub_epi64(_mm256_slli_epi64(k_biased, 52), _mm256_set1_epi64x(1024LL << 52));
  const __m256i m_bits = _mm256_sub_epi64(bits, k_field);
  // Small non-negative int64 -> double: OR into the mantissa of 2^52 and subtract it.
  const __m256d k_plus = _mm256_sub_pd(
      _mm256_castsi256_pd(_mm256_or_si256(k_biased, _mm256_castpd_si256(_mm256_set1_pd(0x1p52)))),
      _mm256_set1_pd(0x1p52));
  *e = {_mm256_sub_pd(k_plus, _mm256_set1_pd(1024.0))};
  return {_mm256_castsi256_pd(m_bits)};
}
inline VecD decompose(VecD x, VecD* e) {
  const __m256d tiny = _mm256_cmp_pd(x.raw, _mm256_set1_pd(0x1p-1022), _CMP_LT_OQ);
  const __m256d xs = _mm256_blendv_pd(x.raw, _mm256_mul_pd(x.raw, _mm256_set1_pd(0x1p54)), tiny);
  const __m256d e_adj = _mm256_and_pd(tiny, _mm256_set1_pd(-54.0));
  VecD k;
  const VecD m = decompose_normal({xs}, &k);
  *e = {_mm256_add_pd(k.raw, e_adj)};
  return m;
}
inline double reduce_add(VecD v) {
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(v.raw), _mm256_extractf128_pd(v.raw, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}
inline double reduce_max(VecD v) {
  const __m128d s2 = _mm_max_pd(_mm256_castpd256_pd128(v.raw), _mm256_extractf128_pd(v.raw, 1));
  return _mm_cvtsd_f64(_mm_max_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

inline void widen_add(VecD& acc_lo, VecD& acc_hi, VecF v) {
  acc_lo.raw = _mm256_add_pd(acc_lo.raw, _mm256_cvtps_pd(_mm256_castps256_ps128(v.raw)));
  acc_hi.raw = _mm256_add_pd(acc_hi.raw, _mm256_cvtps_pd(_mm256_extractf128_ps(v.raw, 1)));
}
inline void widen_add(VecD& acc, VecD v) { acc.raw = _mm256_add_pd(acc.raw, v.raw); }

inline VecF pow2_low_bits(VecF y) { return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(y.raw), 23))}; }
inline VecD pow2_low_bits(VecD y) { return {_mm256_castsi256_pd(_mm256_slli_epi64(_mm256_castpd_si256(y.raw), 52))}; }

}  // namespace fastloss::FASTLOSS_ISA
