// Vec<T> on AVX-512 (F, DQ, BW, VL): 16 floats or 8 doubles per zmm. Same interface as
// simd/scalar.hpp, which documents it. Masks are opmask registers; scaling uses vscalefps,
// which handles overflow and underflow itself.
#pragma once

#include <immintrin.h>
#include <cstdint>

#include "attributes.hpp"
#include "half.hpp"

namespace fastloss::FASTLOSS_ISA {

template <class T> struct Vec;

template <class Raw>
struct LaneMask {
  Raw raw;
};

// The first n of `lanes` lanes, for any n (none for n <= 0, all for n >= lanes), as the other
// ISAs' load_n/store_n take it: a lane block past a partial tile's last position asks for
// n <= 0, and (1u << n) - 1 with a negative n (undefined; x86 shifts by n mod 32) selected all
// lanes, a read past the end.
inline unsigned first_lanes_mask(std::int64_t n, int lanes) {
  const std::int64_t k = n < 0 ? 0 : (n > lanes ? lanes : n);
  return (1u << k) - 1u;
}

template <>
struct Vec<float> {
  using Elem = float;
  using Mask = LaneMask<__mmask16>;
  static constexpr int kLanes = 16;
  __m512 raw;

  static Vec set1(float x) { return {_mm512_set1_ps(x)}; }
  static Vec load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static Vec load_n(const float* p, std::int64_t n, float fill) {
    // Masked-off lanes are neither read (no fault past the end) nor taken from memory.
    const __mmask16 m = static_cast<__mmask16>(first_lanes_mask(n, 16));
    return {_mm512_mask_loadu_ps(_mm512_set1_ps(fill), m, p)};
  }
  void store(float* p) const { _mm512_storeu_ps(p, raw); }
  void store_n(float* p, std::int64_t n) const {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>(first_lanes_mask(n, 16)), raw);
  }
  // The half types (half.hpp): vcvtph2ps / vcvtps2ph (round to nearest even), bfloat16 by a
  // 16-bit shift and an integer round to nearest even; partial ones by masked 16-bit moves.
  static Vec load(const F16* p) { return {_mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)))}; }
  static Vec load(const Bf16* p) { return from_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static Vec load_n(const F16* p, std::int64_t n, float fill) {
    const __mmask16 m = static_cast<__mmask16>(first_lanes_mask(n, 16));
    return {_mm512_mask_blend_ps(m, _mm512_set1_ps(fill), _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)))};
  }
  static Vec load_n(const Bf16* p, std::int64_t n, float fill) {
    const __mmask16 m = static_cast<__mmask16>(first_lanes_mask(n, 16));
    return {_mm512_mask_blend_ps(m, _mm512_set1_ps(fill), from_bf16(_mm256_maskz_loadu_epi16(m, p)).raw)};
  }
  void store(F16* p) const { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), to_f16()); }
  void store(Bf16* p) const { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), to_bf16()); }
  void store_n(F16* p, std::int64_t n) const {
    _mm256_mask_storeu_epi16(p, static_cast<__mmask16>(first_lanes_mask(n, 16)), to_f16());
  }
  void store_n(Bf16* p, std::int64_t n) const {
    _mm256_mask_storeu_epi16(p, static_cast<__mmask16>(first_lanes_mask(n, 16)), to_bf16());
  }
  static Vec from_bf16(__m256i h) { return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16))}; }
  __m256i to_f16() const { return _mm512_cvtps_ph(raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // Round to nearest even on the low 16 bits; NaN made quiet (as to_bf16 in unaligned.hpp).
  __m256i to_bf16() const {
    const __m512i b = _mm512_castps_si512(raw);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
    const __mmask16 nan = _mm512_cmp_ps_mask(raw, raw, _CMP_UNORD_Q);
    const __m512i r = _mm512_mask_or_epi32(rounded, nan, b, _mm512_set1_epi32(0x400000));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16));
  }
  // 16x16 transpose in registers: 16 row loads and 64 shuffles (unpack, shuffle_ps, then two
  // rounds of 128-bit block shuffles), where a gather per output is several times slower.
  FASTLOSS_INLINE static void load_transposed(const float* p, std::int64_t stride, Vec* out) {
    load_transposed_n(p, stride, 16, out);
  }
  // The first n outputs. For n <= 8 rows j and j + 8 share a register (256-bit row loads) and
  // an 8x8 transpose in each half takes 32 shuffles; else the full transpose.
  FASTLOSS_INLINE static void load_transposed_n(const float* p, std::int64_t stride, std::int64_t n, Vec* out) {
    if (n <= 8) {
      __m512 r[8];
      for (int j = 0; j < 8; ++j)
        r[j] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(p + j * stride)),
                                  _mm256_loadu_ps(p + (j + 8) * stride), 1);
      __m512 s[8];
      transpose_4x4_blocks<8>(r, s);
      // s[4m + c], 128-bit block b: rows 4m..4m+3 (+8 for b >= 2) of column c (+4 for odd b).
      // Output c + 4h takes blocks h and h + 2 of s[c] and of s[4 + c], interleaved.
      const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
      const __m512i hi = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
      for (int c = 0; c < 4 && c < n; ++c) out[c] = {_mm512_permutex2var_ps(s[c], lo, s[4 + c])};
      for (int c = 0; c + 4 < n; ++c) out[c + 4] = {_mm512_permutex2var_ps(s[c], hi, s[4 + c])};
      return;
    }
    __m512 r[16];
    for (int j = 0; j < 16; ++j) r[j] = _mm512_loadu_ps(p + j * stride);
    transpose16(r, out, n);
  }
  // The first two stages of both transposes: a 4x4 transpose inside every 128-bit block of each
  // group of 4 registers. s[4m + c], block b = element c of block b of r[4m], ..., r[4m + 3].
  template <int R>
  FASTLOSS_INLINE static void transpose_4x4_blocks(const __m512* r, __m512* s) {
    __m512 t[R];
    for (int k = 0; k < R / 2; ++k) {
      t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
    for (int m = 0; m < R / 4; ++m) {
      s[4 * m + 0] = _mm512_shuffle_ps(t[4 * m], t[4 * m + 2], _MM_SHUFFLE(1, 0, 1, 0));
      s[4 * m + 1] = _mm512_shuffle_ps(t[4 * m], t[4 * m + 2], _MM_SHUFFLE(3, 2, 3, 2));
      s[4 * m + 2] = _mm512_shuffle_ps(t[4 * m + 1], t[4 * m + 3], _MM_SHUFFLE(1, 0, 1, 0));
      s[4 * m + 3] = _mm512_shuffle_ps(t[4 * m + 1], t[4 * m + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
  }
  // r[j] = row j (16 floats) -> out[i] lane j = r[j][i], for the first n outputs.
  FASTLOSS_INLINE static void transpose16(const __m512* r, Vec* out, std::int64_t n) {
    // s[4m + c], 128-bit block b: rows 4m..4m+3 of column 4b + c.
    __m512 s[16];
    transpose_4x4_blocks<16>(r, s);
    // Column 4b + c gathers block b of s[c], s[4 + c], s[8 + c], s[12 + c].
    for (int c = 0; c < 4; ++c) {
      const __m512 u0 = _mm512_shuffle_f32x4(s[c], s[4 + c], _MM_SHUFFLE(2, 0, 2, 0));
      const __m512 u1 = _mm512_shuffle_f32x4(s[c], s[4 + c], _MM_SHUFFLE(3, 1, 3, 1));
      const __m512 v0 = _mm512_shuffle_f32x4(s[8 + c], s[12 + c], _MM_SHUFFLE(2, 0, 2, 0));
      const __m512 v1 = _mm512_shuffle_f32x4(s[8 + c], s[12 + c], _MM_SHUFFLE(3, 1, 3, 1));
      if (c < n) out[c] = {_mm512_shuffle_f32x4(u0, v0, _MM_SHUFFLE(2, 0, 2, 0))};
      if (4 + c < n) out[4 + c] = {_mm512_shuffle_f32x4(u1, v1, _MM_SHUFFLE(2, 0, 2, 0))};
      if (8 + c < n) out[8 + c] = {_mm512_shuffle_f32x4(u0, v0, _MM_SHUFFLE(3, 1, 3, 1))};
      if (12 + c < n) out[12 + c] = {_mm512_shuffle_f32x4(u1, v1, _MM_SHUFFLE(3, 1, 3, 1))};
    }
  }
  // -2 where p[j] is outside [0, n) (as unsigned), then -1 where p[j] == ignore.
  static __m256i index_lanes(__m512i a, std::int64_t n, std::int64_t ignore) {
    const __m512i r = _mm512_mask_blend_epi64(_mm512_cmplt_epu64_mask(a, _mm512_set1_epi64(n)), _mm512_set1_epi64(-2),
                                              a);
    return _mm512_cvtepi64_epi32(
        _mm512_mask_blend_epi64(_mm512_cmpeq_epi64_mask(a, _mm512_set1_epi64(ignore)), r, _mm512_set1_epi64(-1)));
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    const __m256i lo = index_lanes(_mm512_loadu_si512(p), n, ignore),
                  hi = index_lanes(_mm512_loadu_si512(p + 8), n, ignore);
    return {_mm512_cvtepi32_ps(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1))};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    const __m512i v = _mm512_loadu_si512(p);
    const __m512i r = _mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(v, _mm512_set1_epi32(static_cast<int>(n))),
                                              _mm512_set1_epi32(-2), v);
    const bool ig_fits = ignore >= INT32_MIN && ignore <= INT32_MAX;  // else it matches nothing
    const __mmask16 ig = ig_fits ? _mm512_cmpeq_epi32_mask(v, _mm512_set1_epi32(static_cast<int>(ignore)))
                                 : __mmask16(0);
    return {_mm512_cvtepi32_ps(_mm512_mask_blend_epi32(ig, r, _mm512_set1_epi32(-1)))};
  }
};

template <>
struct Vec<double> {
  using Elem = double;
  using Mask = LaneMask<__mmask8>;
  static constexpr int kLanes = 8;
  __m512d raw;

  static Vec set1(double x) { return {_mm512_set1_pd(x)}; }
  static Vec load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static Vec load_n(const double* p, std::int64_t n, double fill) {
    const __mmask8 m = static_cast<__mmask8>(first_lanes_mask(n, 8));
    return {_mm512_mask_loadu_pd(_mm512_set1_pd(fill), m, p)};
  }
  void store(double* p) const { _mm512_storeu_pd(p, raw); }
  void store_n(double* p, std::int64_t n) const {
    _mm512_mask_storeu_pd(p, static_cast<__mmask8>(first_lanes_mask(n, 8)), raw);
  }
  // 8x8 transpose in registers: 8 row loads, 24 shuffles (unpack, then two rounds of 128-bit
  // block shuffles).
  FASTLOSS_INLINE static void load_transposed(const double* p, std::int64_t stride, Vec* out) {
    __m512d r[8], t[8];
    for (int j = 0; j < 8; ++j) r[j] = _mm512_loadu_pd(p + j * stride);
    // t[2k + c], 128-bit block b: rows 2k, 2k + 1 of column 2b + c.
    for (int k = 0; k < 4; ++k) {
      t[2 * k] = _mm512_unpacklo_pd(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm512_unpackhi_pd(r[2 * k], r[2 * k + 1]);
    }
    // Column 2b + c gathers block b of t[c], t[2 + c], t[4 + c], t[6 + c].
    for (int c = 0; c < 2; ++c) {
      const __m512d u0 = _mm512_shuffle_f64x2(t[c], t[2 + c], _MM_SHUFFLE(2, 0, 2, 0));
      const __m512d u1 = _mm512_shuffle_f64x2(t[c], t[2 + c], _MM_SHUFFLE(3, 1, 3, 1));
      const __m512d v0 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], _MM_SHUFFLE(2, 0, 2, 0));
      const __m512d v1 = _mm512_shuffle_f64x2(t[4 + c], t[6 + c], _MM_SHUFFLE(3, 1, 3, 1));
      out[c] = {_mm512_shuffle_f64x2(u0, v0, _MM_SHUFFLE(2, 0, 2, 0))};
      out[2 + c] = {_mm512_shuffle_f64x2(u1, v1, _MM_SHUFFLE(2, 0, 2, 0))};
      out[4 + c] = {_mm512_shuffle_f64x2(u0, v0, _MM_SHUFFLE(3, 1, 3, 1))};
      out[6 + c] = {_mm512_shuffle_f64x2(u1, v1, _MM_SHUFFLE(3, 1, 3, 1))};
    }
  }
  FASTLOSS_INLINE static void load_transposed_n(const double* p, std::int64_t stride, std::int64_t, Vec* out) {
    load_transposed(p, stride, out);
  }
  FASTLOSS_INLINE static Vec load_index(const std::int64_t* p, std::int64_t n, std::int64_t ignore) {
    const __m512i a = _mm512_loadu_si512(p);
    const __m512i r = _mm512_mask_blend_epi64(_mm512_cmplt_epu64_mask(a, _mm512_set1_epi64(n)), _mm512_set1_epi64(-2),
                                              a);
    return {_mm512_cvtepi64_pd(
        _mm512_mask_blend_epi64(_mm512_cmpeq_epi64_mask(a, _mm512_set1_epi64(ignore)), r, _mm512_set1_epi64(-1)))};
  }
  FASTLOSS_INLINE static Vec load_index(const std::int32_t* p, std::int64_t n, std::int64_t ignore) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i r = _mm256_mask_blend_epi32(_mm256_cmplt_epu32_mask(v, _mm256_set1_epi32(static_cast<int>(n))),
                                              _mm256_set1_epi32(-2), v);
    const bool ig_fits = ignore >= INT32_MIN && ignore <= INT32_MAX;
    const __mmask8 ig = ig_fits ? _mm256_cmpeq_epi32_mask(v, _mm256_set1_epi32(static_cast<int>(ignore))) : __mmask8(0);
    return {_mm512_cvtepi32_pd(_mm256_mask_blend_epi32(ig, r, _mm256_set1_epi32(-1)))};
  }
};

using VecF = Vec<float>;
using VecD = Vec<double>;
using MaskF = VecF::Mask;
using MaskD = VecD::Mask;

// float
inline VecF operator+(VecF a, VecF b) { return {_mm512_add_ps(a.raw, b.raw)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm512_sub_ps(a.raw, b.raw)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm512_mul_ps(a.raw, b.raw)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm512_div_ps(a.raw, b.raw)}; }
inline VecF operator-(VecF a) {
  return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.raw), _mm512_set1_epi32(INT32_MIN)))};
}
inline VecF fma(VecF a, VecF b, VecF c) { return {_mm512_fmadd_ps(a.raw, b.raw, c.raw)}; }
inline VecF fnma(VecF a, VecF b, VecF c) { return {_mm512_fnmadd_ps(a.raw, b.raw, c.raw)}; }
// vminps/vmaxps return the second operand when either is NaN.
inline VecF min(VecF a, VecF b) { return {_mm512_min_ps(a.raw, b.raw)}; }
inline VecF max(VecF a, VecF b) { return {_mm512_max_ps(a.raw, b.raw)}; }
inline VecF abs(VecF a) { return {_mm512_abs_ps(a.raw)}; }
inline MaskF lt(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.raw, b.raw, _CMP_LT_OQ)}; }
inline MaskF le(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.raw, b.raw, _CMP_LE_OQ)}; }
inline MaskF gt(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.raw, b.raw, _CMP_GT_OQ)}; }
inline MaskF ge(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.raw, b.raw, _CMP_GE_OQ)}; }
inline MaskF eq(VecF a, VecF b) { return {_mm512_cmp_ps_mask(a.raw, b.raw, _CMP_EQ_OQ)}; }
inline MaskF is_nan(VecF a) { return {_mm512_cmp_ps_mask(a.raw, a.raw, _CMP_UNORD_Q)}; }
inline VecF select(MaskF m, VecF a, VecF b) { return {_mm512_mask_blend_ps(m.raw, b.raw, a.raw)}; }
inline MaskF operator&(MaskF a, MaskF b) { return {static_cast<__mmask16>(a.raw & b.raw)}; }
inline MaskF operator|(MaskF a, MaskF b) { return {static_cast<__mmask16>(a.raw | b.raw)}; }
inline bool any(MaskF m) { return m.raw != 0; }
inline bool none(MaskF m) { return m.raw == 0; }
inline VecF round_even(VecF a) { return {_mm512_roundscale_ps(a.raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline VecF scale_pow2(VecF v, VecF n) { return {_mm512_scalef_ps(v.raw, n.raw)}; }
inline VecF decompose_normal(VecF x, VecF* e) {
  // Subtracting the bits of sqrt(2)/2 moves the exponent boundary there.
  const __m512i bits = _mm512_castps_si512(x.raw);
  const __m512i k = _mm512_srai_epi32(_mm512_sub_epi32(bits, _mm512_set1_epi32(0x3f3504f3)), 23);
  const __m512i m_bits = _mm512_sub_epi32(bits, _mm512_slli_epi32(k, 23));
  *e = {_mm512_cvtepi32_ps(k)};
  return {_mm512_castsi512_ps(m_bits)};
}
inline VecF decompose(VecF x, VecF* e) {
  const __mmask16 tiny = _mm512_cmp_ps_mask(x.raw, _mm512_set1_ps(0x1p-126f), _CMP_LT_OQ);
  const __m512 xs = _mm512_mask_mul_ps(x.raw, tiny, x.raw, _mm512_set1_ps(0x1p25f));
  const __m512 e_adj = _mm512_maskz_mov_ps(tiny, _mm512_set1_ps(-25.0f));
  VecF k;
  const VecF m = decompose_normal({xs}, &k);
  *e = {_mm512_add_ps(k.raw, e_adj)};
  return m;
}
inline float reduce_add(VecF v) {
  // Fixed pairwise order (not _mm512_reduce_add_ps, whose order is the compiler's).
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v.raw),
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v.raw), 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}
inline float reduce_max(VecF v) {
  const __m256 s8 = _mm256_max_ps(_mm512_castps512_ps256(v.raw),
                                  _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v.raw), 1)));
  const __m128 s4 = _mm_max_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_max_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_max_ss(s2, _mm_movehdup_ps(s2)));
}

// double
inline VecD operator+(VecD a, VecD b) { return {_mm512_add_pd(a.raw, b.raw)}; }
inline VecD operator-(VecD a, VecD b) { return {_mm512_sub_pd(a.raw, b.raw)}; }
inline VecD operator*(VecD a, VecD b) { return {_mm512_mul_pd(a.raw, b.raw)}; }
inline VecD operator/(VecD a, VecD b) { return {_mm512_div_pd(a.raw, b.raw)}; }
inline VecD operator-(VecD a) {
  return {_mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(a.raw), _mm512_set1_epi64(INT64_MIN)))};
}
inline VecD fma(VecD a, VecD b, VecD c) { return {_mm512_fmadd_pd(a.raw, b.raw, c.raw)}; }
inline VecD fnma(VecD a, VecD b, VecD c) { return {_mm512_fnmadd_pd(a.raw, b.raw, c.raw)}; }
inline VecD min(VecD a, VecD b) { return {_mm512_min_pd(a.raw, b.raw)}; }
inline VecD max(VecD a, VecD b) { return {_mm512_max_pd(a.raw, b.raw)}; }
inline VecD abs(VecD a) { return {_mm512_abs_pd(a.raw)}; }
inline MaskD lt(VecD a, VecD b) { return {_mm512_cmp_pd_mask(a.raw, b.raw, _CMP_LT_OQ)}; }
inline MaskD le(VecD a, VecD b) { return {_mm512_cmp_pd_mask(a.raw, b.raw, _CMP_LE_OQ)}; }
inline MaskD gt(VecD a, VecD b) { return {_mm512_cmp_pd_mask(a.raw, b.raw, _CMP_GT_OQ)}; }
inline MaskD ge(VecD a, VecD b) { return {_mm512_cmp_pd_mask(a.raw, b.raw, _CMP_GE_OQ)}; }
inline MaskD eq(VecD a, VecD b) { return {_mm512_cmp_pd_mask(a.raw, b.raw, _CMP_EQ_OQ)}; }
inline MaskD is_nan(VecD a) { return {_mm512_cmp_pd_mask(a.raw, a.raw, _CMP_UNORD_Q)}; }
inline VecD select(MaskD m, VecD a, VecD b) { return {_mm512_mask_blend_pd(m.raw, b.raw, a.raw)}; }
inline MaskD operator&(MaskD a, MaskD b) { return {static_cast<__mmask8>(a.raw & b.raw)}; }
inline MaskD operator|(MaskD a, MaskD b) { return {static_cast<__mmask8>(a.raw | b.raw)}; }
inline bool any(MaskD m) { return m.raw != 0; }
inline bool none(MaskD m) { return m.raw == 0; }
inline VecD round_even(VecD a) { return {_mm512_roundscale_pd(a.raw, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
inline VecD scale_pow2(VecD v, VecD n) { return {_mm512_scalef_pd(v.raw, n.raw)}; }
inline VecD decompose_normal(VecD x, VecD* e) {
  const __m512i bits = _mm512_castpd_si512(x.raw);
  const __m512i k = _mm512_srai_epi64(_mm512_sub_epi64(bits, _mm512_set1_epi64(0x3fe6a09e667f3bcdLL)), 52);
  const __m512i m_bits = _mm512_sub_epi64(bits, _mm512_slli_epi64(k, 52));
  *e = {_mm512_cvtepi64_pd(k)};
  return {_mm512_castsi512_pd(m_bits)};
}
inline VecD decompose(VecD x, VecD* e) {
  const __mmask8 tiny = _mm512_cmp_pd_mask(x.raw, _mm512_set1_pd(0x1p-1022), _CMP_LT_OQ);
  const __m512d xs = _mm512_mask_mul_pd(x.raw, tiny, x.raw, _mm512_set1_pd(0x1p54));
  const __m512d e_adj = _mm512_maskz_mov_pd(tiny, _mm512_set1_pd(-54.0));
  VecD k;
  const VecD m = decompose_normal({xs}, &k);
  *e = {_mm512_add_pd(k.raw, e_adj)};
  return m;
}
inline double reduce_add(VecD v) {
  const __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(v.raw), _mm512_extractf64x4_pd(v.raw, 1));
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}
inline double reduce_max(VecD v) {
  const __m256d s4 = _mm256_max_pd(_mm512_castpd512_pd256(v.raw), _mm512_extractf64x4_pd(v.raw, 1));
  const __m128d s2 = _mm_max_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_max_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

inline void widen_add(VecD& acc_lo, VecD& acc_hi, VecF v) {
  acc_lo.raw = _mm512_add_pd(acc_lo.raw, _mm512_cvtps_pd(_mm512_castps512_ps256(v.raw)));
  acc_hi.raw = _mm512_add_pd(acc_hi.raw,
                             _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v.raw), 1))));
}
inline void widen_add(VecD& acc, VecD v) { acc.raw = _mm512_add_pd(acc.raw, v.raw); }

inline VecF pow2_low_bits(VecF y) { return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_castps_si512(y.raw), 23))}; }
inline VecD pow2_low_bits(VecD y) { return {_mm512_castsi512_pd(_mm512_slli_epi64(_mm512_castpd_si512(y.raw), 52))}; }

}  // namespace fastloss::FASTLOSS_ISA
