// AVX2 + FMA depthwise-convolution rows (dwconv_f32_common.h over 8-float vectors; masked loads and
// stores for the last partial vector of a row) and the stride-2 row deinterleave.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/conv/dwconv_f32_common.h"

namespace edgeinfer {

namespace {

using namespace dwconv_f32_detail;

inline __m256i lanes_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T set1(float a) { return _mm256_set1_ps(a); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_partial(const float* p, int n) { return _mm256_maskload_ps(p, lanes_mask(n)); }
  static T load_u8(const uint8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static T load_partial_u8(const uint8_t* p, int n) {
    uint8_t lanes[8] = {};
    std::memcpy(lanes, p, static_cast<size_t>(n));
    return load_u8(lanes);
  }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static void store_u8(uint8_t* p, T v) {
    const __m256i i = _mm256_cvtps_epi32(v);  // 0..255
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packus_epi16(w, w));
  }
  static void store_partial_u8(uint8_t* p, T v, int n) {
    uint8_t lanes[8];
    store_u8(lanes, v);
    std::memcpy(p, lanes, static_cast<size_t>(n));
  }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T sub(T a, T b) { return _mm256_sub_ps(a, b); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T round_even(T v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, T v, int n) { _mm256_maskstore_ps(p, lanes_mask(n), v); }
  // maxps / minps return the second operand when either is NaN: v second, so NaN propagates.
  static T relu(T v) { return _mm256_max_ps(_mm256_setzero_ps(), v); }
  static T clip(T v, float lo, float hi) { return _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), v)); }
  static T leaky(T v, float slope) {
    const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(slope)), neg);
  }
};

void deinterleave2_row(const float* src, int64_t n, float* even, float* odd) {
  int64_t i = 0;
  for (; 2 * i + 16 <= n; i += 8) {
    const __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + 8);
    // a0 a2 b0 b2 | a4 a6 b4 b6 -> a0 a2 a4 a6 b0 b2 b4 b6 (and the odd ones alike)
    const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(even + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
    _mm256_storeu_ps(odd + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0))));
  }
  deinterleave2_row_scalar(src + 2 * i, n - 2 * i, even + i, odd + i);
}

}  // namespace

extern const DwConvF32Variant kDwConvF32Avx2 = {"f32_dwconv_8__avx2", Isa::kAvx2, 8, dw_rows<Avx2Vec>, dw_nhwc_pixels<Avx2Vec>, copy_rows<Avx2Vec>,
    deinterleave2_rows<deinterleave2_row>};

}  // namespace edgeinfer
