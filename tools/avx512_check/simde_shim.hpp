// AVX-512 intrinsics emulated by SIMDe on a CPU without them (a check, not a build), plus
// lane-by-lane stand-ins for the ones SIMDe 0.7.4 lacks.
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <cstdint>

namespace emu {
template <class V, class E, int N>
inline void to(V v, E (&a)[N]) {
  static_assert(sizeof(V) == sizeof(a), "");
  __builtin_memcpy(a, &v, sizeof(a));
}
template <class V, class E, int N>
inline V from(const E (&a)[N]) {
  V v;
  static_assert(sizeof(V) == sizeof(a), "");
  __builtin_memcpy(&v, a, sizeof(a));
  return v;
}
inline simde__mmask16 cmplt_epu32(simde__m512i a, simde__m512i b) {
  uint32_t x[16], y[16];
  to(a, x);
  to(b, y);
  simde__mmask16 m = 0;
  for (int i = 0; i < 16; ++i)
    if (x[i] < y[i]) m |= simde__mmask16(1u << i);
  return m;
}
inline simde__mmask8 cmplt_epu64(simde__m512i a, simde__m512i b) {
  uint64_t x[8], y[8];
  to(a, x);
  to(b, y);
  simde__mmask8 m = 0;
  for (int i = 0; i < 8; ++i)
    if (x[i] < y[i]) m |= simde__mmask8(1u << i);
  return m;
}
inline simde__m512d cvtepi32_pd(__m256i a) {
  int32_t x[8];
  double r[8];
  to(a, x);
  for (int i = 0; i < 8; ++i) r[i] = x[i];
  return from<simde__m512d>(r);
}
inline simde__m512 cvtepi32_ps(simde__m512i a) {
  int32_t x[16];
  float r[16];
  to(a, x);
  for (int i = 0; i < 16; ++i) r[i] = float(x[i]);
  return from<simde__m512>(r);
}
inline simde__m512d cvtepi64_pd(simde__m512i a) {
  int64_t x[8];
  double r[8];
  to(a, x);
  for (int i = 0; i < 8; ++i) r[i] = double(x[i]);
  return from<simde__m512d>(r);
}
inline simde__m512d cvtps_pd(__m256 a) {
  float x[8];
  double r[8];
  to(a, x);
  for (int i = 0; i < 8; ++i) r[i] = x[i];
  return from<simde__m512d>(r);
}
inline simde__m512d i32gather_pd(__m256i idx, const void* base, int scale) {
  int32_t k[8];
  double r[8];
  to(idx, k);
  for (int i = 0; i < 8; ++i) __builtin_memcpy(&r[i], static_cast<const char*>(base) + std::int64_t(k[i]) * scale, 8);
  return from<simde__m512d>(r);
}
inline simde__m512 i32gather_ps(simde__m512i idx, const void* base, int scale) {
  int32_t k[16];
  float r[16];
  to(idx, k);
  for (int i = 0; i < 16; ++i) __builtin_memcpy(&r[i], static_cast<const char*>(base) + std::int64_t(k[i]) * scale, 4);
  return from<simde__m512>(r);
}
inline simde__m512 mask_loadu_ps(simde__m512 src, simde__mmask16 m, const void* p) {
  float r[16];
  to(src, r);
  for (int i = 0; i < 16; ++i)
    if (m & (1u << i)) r[i] = static_cast<const float*>(p)[i];
  return from<simde__m512>(r);
}
inline simde__m512d mask_loadu_pd(simde__m512d src, simde__mmask8 m, const void* p) {
  double r[8];
  to(src, r);
  for (int i = 0; i < 8; ++i)
    if (m & (1u << i)) r[i] = static_cast<const double*>(p)[i];
  return from<simde__m512d>(r);
}
inline void mask_storeu_ps(void* p, simde__mmask16 m, simde__m512 v) {
  float r[16];
  to(v, r);
  for (int i = 0; i < 16; ++i)
    if (m & (1u << i)) static_cast<float*>(p)[i] = r[i];
}
inline void mask_storeu_pd(void* p, simde__mmask8 m, simde__m512d v) {
  double r[8];
  to(v, r);
  for (int i = 0; i < 8; ++i)
    if (m & (1u << i)) static_cast<double*>(p)[i] = r[i];
}
inline float reduce_add_ps(simde__m512 v) {
  float r[16];
  to(v, r);
  for (int w = 8; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) r[i] = r[i] + r[i + w];
  return r[0];
}
inline simde__m512i srai_epi32(simde__m512i a, int s) {
  int32_t x[16];
  to(a, x);
  for (int i = 0; i < 16; ++i) x[i] >>= (s > 31 ? 31 : s);
  return from<simde__m512i>(x);
}
inline simde__m512i srai_epi64(simde__m512i a, int s) {
  int64_t x[8];
  to(a, x);
  for (int i = 0; i < 8; ++i) x[i] >>= (s > 63 ? 63 : s);
  return from<simde__m512i>(x);
}
inline simde__mmask8 cmpeq_epi32_256(__m256i a, __m256i b) {
  int32_t x[8], y[8];
  to(a, x);
  to(b, y);
  simde__mmask8 m = 0;
  for (int i = 0; i < 8; ++i)
    if (x[i] == y[i]) m |= simde__mmask8(1u << i);
  return m;
}
inline simde__mmask8 cmplt_epu32_256(__m256i a, __m256i b) {
  uint32_t x[8], y[8];
  to(a, x);
  to(b, y);
  simde__mmask8 m = 0;
  for (int i = 0; i < 8; ++i)
    if (x[i] < y[i]) m |= simde__mmask8(1u << i);
  return m;
}
}  // namespace emu
#define _mm512_cmplt_epu32_mask emu::cmplt_epu32
#define _mm512_cmplt_epu64_mask emu::cmplt_epu64
#define _mm512_cvtepi32_pd emu::cvtepi32_pd
#define _mm512_cvtepi32_ps emu::cvtepi32_ps
#define _mm512_cvtepi64_pd emu::cvtepi64_pd
#define _mm512_cvtps_pd emu::cvtps_pd
#define _mm512_i32gather_pd emu::i32gather_pd
#define _mm512_i32gather_ps emu::i32gather_ps
#define _mm512_mask_loadu_ps emu::mask_loadu_ps
#define _mm512_mask_loadu_pd emu::mask_loadu_pd
#define _mm512_mask_storeu_ps emu::mask_storeu_ps
#define _mm512_mask_storeu_pd emu::mask_storeu_pd
#define _mm512_reduce_add_ps emu::reduce_add_ps
#define _mm512_srai_epi32 emu::srai_epi32
#define _mm512_srai_epi64 emu::srai_epi64
#define _mm256_cmpeq_epi32_mask emu::cmpeq_epi32_256
#define _mm256_cmplt_epu32_mask emu::cmplt_epu32_256
