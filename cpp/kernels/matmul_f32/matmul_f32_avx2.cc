// AVX2 + FMA FP32 matmul of two activations: tiles of up to 6 rows x 2 ymm (12 accumulators), B read in place.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/matmul_f32/matmul_f32_common.h"

namespace edgeinfer {

namespace {

using namespace matmul_f32_detail;

constexpr int kMr = 6, kNv = 2;

struct Avx2Vec {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float hsum(V v) {
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 d = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(d, _mm_movehdup_ps(d)));
  }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static void store_partial(float* p, V v, int n) {
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(p, mask, v);
  }
};

constexpr TileTable<Avx2Vec, kMr, kNv> kTiles{};

void run(const MatMulF32Args& args) { run_driver(args, kTiles); }

}  // namespace

extern const MatMulF32Variant kMatMulF32Avx2 = {"f32_matmul_6x16__avx2", Isa::kAvx2, kMr, kNv * 8, run};

}  // namespace edgeinfer
