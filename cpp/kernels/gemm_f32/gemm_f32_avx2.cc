// AVX2 + FMA FP32 GEMM: 6x16 register tile (12 ymm accumulators, B panel rows as 2 ymm, A broadcast from
// its packed panel), fewer rows as their own instantiations (1-3 rows split k over extra accumulator sets),
// fused alpha / bias / activation epilogue with masked stores for the last panel.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

using namespace gemm_f32_detail;

constexpr int kMr = 6, kNr = 16;

inline __m256 activate(__m256 v, FusedActivation act, float a, float b) {
  switch (act) {
    case FusedActivation::kNone: return v;
    // maxps / minps return the second operand when either is NaN: x second, so NaN propagates (as ORT).
    case FusedActivation::kRelu: return _mm256_max_ps(_mm256_setzero_ps(), v);
    case FusedActivation::kLeakyRelu: {
      const __m256 neg = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
      return _mm256_blendv_ps(v, _mm256_mul_ps(v, _mm256_set1_ps(a)), neg);
    }
    case FusedActivation::kSigmoid: {
      const __m256 ex = vm256::exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), v));
      return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), ex));
    }
    case FusedActivation::kClip: return _mm256_min_ps(_mm256_set1_ps(b), _mm256_max_ps(_mm256_set1_ps(a), v));
    case FusedActivation::kTanh: return vm256::tanh_ps(v);
    case FusedActivation::kHardSigmoid:
    case FusedActivation::kHardSwish: {
      const bool swish = act == FusedActivation::kHardSwish;
      const __m256 t = _mm256_fmadd_ps(_mm256_set1_ps(swish ? 1.0f / 6.0f : a), v, _mm256_set1_ps(swish ? 0.5f : b));
      const __m256 h = _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_setzero_ps(), t));
      return swish ? _mm256_mul_ps(v, h) : h;
    }
    case FusedActivation::kSilu: {
      const __m256 ex = vm256::exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), v));
      const __m256 y = _mm256_mul_ps(v, _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), ex)));
      // -inf * Sigmoid(-inf) = -inf * 0 = NaN in ONNX Runtime's Mul(x, Sigmoid(x)); exp_ps saturates instead.
      return _mm256_blendv_ps(y, _mm256_set1_ps(NAN), _mm256_cmp_ps(v, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
    }
    case FusedActivation::kGeluErf: return vm256::gelu_erf_ps(v);
    case FusedActivation::kGeluTanh: return vm256::gelu_tanh_ps(v);
  }
  return v;
}

inline __m256i cols_mask(int cols) {
  cols = cols < 0 ? 0 : cols > 8 ? 8 : cols;
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), idx);
}

template <int R>
struct Tile {
  static void run(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
                  const Epilogue& e) {
    constexpr int KU = R >= 4 ? 1 : (R >= 2 ? 2 : 4);
    __m256 acc[KU][R][2];
#pragma GCC unroll 64
    for (int u = 0; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) acc[u][i][0] = acc[u][i][1] = _mm256_setzero_ps();
    int64_t kk = 0;
    for (; kk + KU <= k; kk += KU) {
#pragma GCC unroll 4
      for (int u = 0; u < KU; ++u) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        b += ldb;
#pragma GCC unroll 64
        for (int i = 0; i < R; ++i) {
          const __m256 av = _mm256_broadcast_ss(a + i);
          acc[u][i][0] = _mm256_fmadd_ps(av, b0, acc[u][i][0]);
          acc[u][i][1] = _mm256_fmadd_ps(av, b1, acc[u][i][1]);
        }
        a += R;
      }
    }
    for (; kk < k; ++kk) {
      const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      b += ldb;
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        const __m256 av = _mm256_broadcast_ss(a + i);
        acc[0][i][0] = _mm256_fmadd_ps(av, b0, acc[0][i][0]);
        acc[0][i][1] = _mm256_fmadd_ps(av, b1, acc[0][i][1]);
      }
      a += R;
    }
#pragma GCC unroll 4
    for (int u = 1; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        acc[0][i][0] = _mm256_add_ps(acc[0][i][0], acc[u][i][0]);
        acc[0][i][1] = _mm256_add_ps(acc[0][i][1], acc[u][i][1]);
      }
    const __m256i m0 = cols_mask(cols), m1 = cols_mask(cols - 8);
    const __m256 alpha = _mm256_set1_ps(e.alpha);
    __m256 bn0 = _mm256_setzero_ps(), bn1 = _mm256_setzero_ps();
    if (e.bias_n != nullptr) {
      bn0 = _mm256_maskload_ps(e.bias_n, m0);
      bn1 = _mm256_maskload_ps(e.bias_n + 8, m1);
    }
#pragma GCC unroll 64
    for (int i = 0; i < R; ++i) {
      __m256 v0 = _mm256_fmadd_ps(alpha, acc[0][i][0], bn0);
      __m256 v1 = _mm256_fmadd_ps(alpha, acc[0][i][1], bn1);
      if (e.bias_m != nullptr) {
        const __m256 bm = _mm256_set1_ps(e.bias_m[i]);
        v0 = _mm256_add_ps(v0, bm);
        v1 = _mm256_add_ps(v1, bm);
      }
      v0 = activate(v0, e.act, e.act_alpha, e.act_beta);
      float* ci = c + i * ldc;
      if (cols >= 16) {
        _mm256_storeu_ps(ci, v0);
        _mm256_storeu_ps(ci + 8, activate(v1, e.act, e.act_alpha, e.act_beta));
      } else {
        _mm256_maskstore_ps(ci, m0, v0);
        if (cols > 8) _mm256_maskstore_ps(ci + 8, m1, activate(v1, e.act, e.act_alpha, e.act_beta));
      }
    }
  }
};

constexpr TileTable<Tile, kMr> kTiles{};

void run(const GemmF32Args& args) { run_driver<kMr, kNr>(args, kTiles.fns); }

void minmax(const float* x, int64_t n, float* mn, float* mx) {
  __m256 lo = _mm256_set1_ps(INFINITY), hi = _mm256_set1_ps(-INFINITY), nan = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {  // min/max(v, acc) return acc when v is NaN: NaN kept apart in `nan`
    const __m256 v = _mm256_loadu_ps(x + i);
    lo = _mm256_min_ps(v, lo);
    hi = _mm256_max_ps(v, hi);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  alignas(32) float l[8], h[8];
  _mm256_store_ps(l, lo);
  _mm256_store_ps(h, hi);
  float a = l[0], b = h[0];
  for (int j = 1; j < 8; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  bool any_nan = _mm256_movemask_ps(nan) != 0;
  for (; i < n; ++i) {
    a = x[i] < a ? x[i] : a;
    b = x[i] > b ? x[i] : b;
    any_nan |= x[i] != x[i];
  }
  *mn = any_nan ? NAN : a;
  *mx = any_nan ? NAN : b;
}

struct Avx2Vec {
  using V = __m256;
  static constexpr int kLanes = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(b, a); }  // the second operand wins on NaN: a NaN stays
  static V activate(V v, FusedActivation act, float a, float b) { return edgeinfer::activate(v, act, a, b); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V load_partial(const float* p, int n) { return _mm256_maskload_ps(p, cols_mask(n)); }
  static void store_partial(float* p, V v, int n) { _mm256_maskstore_ps(p, cols_mask(n), v); }
};

void half_to_float_n(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  half_to_float_scalar(in + i, out + i, n - i);
}

}  // namespace

extern const GemmF32Variant kGemmF32Avx2 = {"f32_gemm_6x16__avx2", Isa::kAvx2, kMr, kNr, run, minmax, activate_n<Avx2Vec>,
                                            IgemmTiles<Avx2Vec, 12, 1>::family(), IgemmTiles<Avx2Vec, 6, 2>::family(),
                                            IgemmTiles<Avx2Vec, 4, 3>::family(),
    rows_epilogue<Avx2Vec>, column_sums<Avx2Vec>, half_to_float_n};

}  // namespace edgeinfer
