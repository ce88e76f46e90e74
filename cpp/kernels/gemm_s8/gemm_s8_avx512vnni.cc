// INT8 GEMM with AVX-512 VNNI: vpdpbusd on zmm, 8 x 48 register tile (24 accumulators), kr = 4.
// GCC 12 reports a bogus -Wmaybe-uninitialized inside the AVX-512 intrinsic headers (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx512.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "kernels/gemm_s8/gemm_s8_vnni_impl.h"

namespace edgeinfer {
namespace {

struct Zmm {
  using V = __m512i;
  using F = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kPrefetchDistance = 1024;
  static constexpr int64_t kChunkBytes = 384 * 1024;
  static V zero() { return _mm512_setzero_si512(); }
  static V set1(int32_t x) { return _mm512_set1_epi32(x); }
  static V load(const void* p) { return _mm512_loadu_si512(p); }
  static V broadcast32(const uint8_t* p) { return _mm512_set1_epi32(gemm_s8_detail::load_i32(p)); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static V bxor(V a, V b) { return _mm512_xor_si512(a, b); }
  static V dpbusd(V acc, V a, V b) { return _mm512_dpbusd_epi32(acc, a, b); }
  static V sub(V a, V b) { return _mm512_sub_epi32(a, b); }
  static V mullo(V a, V b) { return _mm512_mullo_epi32(a, b); }
  static __mmask16 mask(int valid) { return static_cast<__mmask16>((1u << valid) - 1u); }
  static void store_i32(int32_t* p, __mmask16 m, V v) { _mm512_mask_storeu_epi32(p, m, v); }
  static F set1_ps(float x) { return _mm512_set1_ps(x); }
  static F load_ps(const float* p) { return _mm512_loadu_ps(p); }
  static F mul_ps(F a, F b) { return _mm512_mul_ps(a, b); }
  static F cvt_ps(V v) { return _mm512_cvtepi32_ps(v); }
  static F fmadd_ps(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F max0_ps(F a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }
  static void store_ps(float* p, __mmask16 m, F v) { _mm512_mask_storeu_ps(p, m, v); }
  static F gelu_erf_ps(F x) { return vm512::gelu_erf_ps(x); }
  static F gelu_tanh_ps(F x) { return vm512::gelu_tanh_ps(x); }
};


constexpr int kMr = 8;
constexpr int kNv = 3;

void gemm_s8_avx512vnni_run(const GemmS8Args& args) { vnni_impl::run<Zmm, kMr, kNv>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8Avx512Vnni = {"qs8_gemm_8x48c4__avx512vnni", Isa::kAvx512Vnni, 16 * kNv, 4,
                                                gemm_s8_avx512vnni_run};

}  // namespace edgeinfer
