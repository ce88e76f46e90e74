// The AVX-512 VNNI vector operations of vnni_impl's driver and epilogue (gemm_s8_vnni_impl.h), shared by
// the tile files (8 x 48, 6 x 64); each adds its own assembly K loops. Include only from files compiled with
// the avx512vnni flags: the struct has internal linkage.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "kernels/common/vector_math_avx512.h"

namespace edgeinfer {
namespace {

struct ZmmOps {
  using V = __m512i;
  using F = __m512;
  static constexpr int kLanes = 16;
  static constexpr int64_t kChunkBytes = 512 * 1024;
  static V set1(int32_t x) { return _mm512_set1_epi32(x); }
  static V load(const void* p) { return _mm512_loadu_si512(p); }
  static void store_aligned(void* p, V v) { _mm512_store_si512(p, v); }
  static V sub(V a, V b) { return _mm512_sub_epi32(a, b); }
  static V mullo(V a, V b) { return _mm512_mullo_epi32(a, b); }
  static __mmask16 mask(int valid) { return static_cast<__mmask16>((1u << valid) - 1u); }
  static void store_i32(int32_t* p, __mmask16 m, V v) { _mm512_mask_storeu_epi32(p, m, v); }
  static F set1_ps(float x) { return _mm512_set1_ps(x); }
  static F load_ps(const float* p) { return _mm512_loadu_ps(p); }
  static F mul_ps(F a, F b) { return _mm512_mul_ps(a, b); }
  static F cvt_ps(V v) { return _mm512_cvtepi32_ps(v); }
  static F fmadd_ps(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F max0_ps(F a) { return _mm512_max_ps(_mm512_setzero_ps(), a); }  // NaN in a (second) stays
  static void store_ps(float* p, __mmask16 m, F v) { _mm512_mask_storeu_ps(p, m, v); }
  static F gelu_erf_ps(F x) { return vm512::gelu_erf_ps(x); }
  static F gelu_tanh_ps(F x) { return vm512::gelu_tanh_ps(x); }
};

}  // namespace
}  // namespace edgeinfer
