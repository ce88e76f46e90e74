// AVX-512 depthwise-convolution rows (dwconv_f32_common.h over 16-float vectors; the weight broadcasts fold
// into the FMAs, the last partial vector of a row is masked) and the stride-2 row deinterleave.
// GCC 12 reports its own _mm512_undefined_ps() placeholders inside the mask intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/conv/dwconv_f32_common.h"

namespace edgeinfer {

namespace {

using namespace dwconv_f32_detail;

inline __mmask16 lanes_mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T set1(float a) { return _mm512_set1_ps(a); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes_mask(n), p); }
  static T load_u8(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static T load_partial_u8(const uint8_t* p, int n) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(lanes_mask(n), p)));
  }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static void store_u8(uint8_t* p, T v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm512_cvtusepi32_epi8(_mm512_cvtps_epi32(v))); }
  static void store_partial_u8(uint8_t* p, T v, int n) { _mm512_mask_cvtusepi32_storeu_epi8(p, lanes_mask(n), _mm512_cvtps_epi32(v)); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T sub(T a, T b) { return _mm512_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T round_even(T v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
  static void store_partial(float* p, T v, int n) { _mm512_mask_storeu_ps(p, lanes_mask(n), v); }
  // maxps / minps return the second operand when either is NaN: v second, so NaN propagates.
  static T relu(T v) { return _mm512_max_ps(_mm512_setzero_ps(), v); }
  static T clip(T v, float lo, float hi) { return _mm512_min_ps(_mm512_set1_ps(hi), _mm512_max_ps(_mm512_set1_ps(lo), v)); }
  static T leaky(T v, float slope) {
    const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(slope));
  }
};

void deinterleave2_row(const float* src, int64_t n, float* even, float* odd) {
  const __m512i even_idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_idx = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  int64_t i = 0;
  for (; 2 * i + 32 <= n; i += 16) {
    const __m512 a = _mm512_loadu_ps(src + 2 * i), b = _mm512_loadu_ps(src + 2 * i + 16);
    _mm512_storeu_ps(even + i, _mm512_permutex2var_ps(a, even_idx, b));
    _mm512_storeu_ps(odd + i, _mm512_permutex2var_ps(a, odd_idx, b));
  }
  deinterleave2_row_scalar(src + 2 * i, n - 2 * i, even + i, odd + i);
}

}  // namespace

extern const DwConvF32Variant kDwConvF32Avx512 = {"f32_dwconv_16__avx512", Isa::kAvx512, 16, dw_rows<Avx512Vec>, dw_nhwc_pixels<Avx512Vec>, copy_rows<Avx512Vec>,
    deinterleave2_rows<deinterleave2_row>};

}  // namespace edgeinfer
