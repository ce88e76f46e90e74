// AVX-512 grouped-convolution rows (gconv_f32_common.h): 8 channels x 32 outputs per register block.
// GCC 12 reports its own _mm512_undefined_ps() placeholders inside the mask intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/conv/gconv_f32_common.h"

namespace edgeinfer {

namespace {

// The vector traits of dwconv_f32_avx512.cc (internal there).
inline __mmask16 lanes_mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

struct Avx512Vec {
  using T = __m512;
  static constexpr int kLanes = 16;
  static T set1(float a) { return _mm512_set1_ps(a); }
  static T load(const float* p) { return _mm512_loadu_ps(p); }
  static T load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(lanes_mask(n), p); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
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

}  // namespace

extern const GConvF32Variant kGConvF32Avx512 = {"f32_gconv_8x32__avx512", Isa::kAvx512, 8, gconv_f32_detail::rows<Avx512Vec, 8>};

}  // namespace edgeinfer
