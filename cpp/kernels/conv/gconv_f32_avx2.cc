// AVX2 + FMA grouped-convolution rows (gconv_f32_common.h): 4 channels x 16 outputs per register block.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/conv/gconv_f32_common.h"

namespace edgeinfer {

namespace {

// The vector traits of dwconv_f32_avx2.cc (internal there).
inline __m256i lanes_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

struct Avx2Vec {
  using T = __m256;
  static constexpr int kLanes = 8;
  static T set1(float a) { return _mm256_set1_ps(a); }
  static T load(const float* p) { return _mm256_loadu_ps(p); }
  static T load_partial(const float* p, int n) { return _mm256_maskload_ps(p, lanes_mask(n)); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
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

}  // namespace

extern const GConvF32Variant kGConvF32Avx2 = {"f32_gconv_4x16__avx2", Isa::kAvx2, 4, gconv_f32_detail::rows<Avx2Vec, 4>};

}  // namespace edgeinfer
