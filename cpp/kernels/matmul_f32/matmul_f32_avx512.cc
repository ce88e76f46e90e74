// AVX-512 FP32 matmul of two activations: tiles of up to 12 rows x 2 zmm (24 accumulators), B read in place.
// GCC 12 reports its own _mm512_undefined_ps() placeholders inside the mask intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/matmul_f32/matmul_f32_common.h"

namespace edgeinfer {

namespace {

using namespace matmul_f32_detail;

constexpr int kMr = 12, kNv = 2;

struct Avx512Vec {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static void store_partial(float* p, V v, int n) { _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v); }
};

constexpr TileTable<Avx512Vec, kMr, kNv> kTiles{};

void run(const MatMulF32Args& args) { run_driver(args, kTiles); }

}  // namespace

extern const MatMulF32Variant kMatMulF32Avx512 = {"f32_matmul_12x32__avx512", Isa::kAvx512, kMr, kNv * 16, run};

}  // namespace edgeinfer
