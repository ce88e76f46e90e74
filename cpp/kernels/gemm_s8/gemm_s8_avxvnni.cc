// INT8 GEMM with AVX-VNNI: vpdpbusd on ymm (VEX), 6 x 16 register tile (12 accumulators), kr = 4.
#include <immintrin.h>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "kernels/gemm_s8/gemm_s8_vnni_impl.h"

namespace edgeinfer {
namespace {

struct Ymm {
  using V = __m256i;
  using F = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kPrefetchDistance = 512;
  static constexpr int64_t kChunkBytes = 384 * 1024;
  static V zero() { return _mm256_setzero_si256(); }
  static V set1(int32_t x) { return _mm256_set1_epi32(x); }
  static V load(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
  static V broadcast32(const uint8_t* p) { return _mm256_set1_epi32(gemm_s8_detail::load_i32(p)); }
  static void prefetch(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T0); }
  static V bxor(V a, V b) { return _mm256_xor_si256(a, b); }
  static V dpbusd(V acc, V a, V b) { return _mm256_dpbusd_avx_epi32(acc, a, b); }
  static V sub(V a, V b) { return _mm256_sub_epi32(a, b); }
  static V mullo(V a, V b) { return _mm256_mullo_epi32(a, b); }
  static V mask(int valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static void store_i32(int32_t* p, V m, V v) { _mm256_maskstore_epi32(reinterpret_cast<int*>(p), m, v); }
  static F set1_ps(float x) { return _mm256_set1_ps(x); }
  static F load_ps(const float* p) { return _mm256_loadu_ps(p); }
  static F mul_ps(F a, F b) { return _mm256_mul_ps(a, b); }
  static F cvt_ps(V v) { return _mm256_cvtepi32_ps(v); }
  static F fmadd_ps(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F max0_ps(F a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static void store_ps(float* p, V m, F v) { _mm256_maskstore_ps(p, m, v); }
  static F gelu_erf_ps(F x) { return vm256::gelu_erf_ps(x); }
  static F gelu_tanh_ps(F x) { return vm256::gelu_tanh_ps(x); }
  template <int MR, int NV>
  static constexpr bool has_asm_kernel() { return false; }
};

constexpr int kMr = 6;
constexpr int kNv = 2;

void gemm_s8_avxvnni_run(const GemmS8Args& args) { vnni_impl::run<Ymm, kMr, kNv>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8AvxVnni = {"qs8_gemm_6x16c4__avxvnni", Isa::kAvxVnni, 8 * kNv, 4,
                                             gemm_s8_avxvnni_run};

}  // namespace edgeinfer
