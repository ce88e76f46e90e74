// AVX-512 FP32 GEMM: 12x32 register tile (24 zmm accumulators, B panel rows as 2 zmm, A broadcast from its
// packed panel), fewer rows as their own instantiations (1-3 rows split k over extra accumulator sets to
// hide the FMA latency: the M = 1 GEMV path), fused alpha / bias / activation epilogue with masked stores.
// GCC 12 reports its own _mm512_undefined_ps() placeholders inside the mask intrinsics as uninitialized.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx512.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

using namespace gemm_f32_detail;

constexpr int kMr = 12, kNr = 32;

inline __m512 activate(__m512 v, FusedActivation act, float a, float b) {
  switch (act) {
    case FusedActivation::kNone: return v;
    // maxps / minps return the second operand when either is NaN: x second, so NaN propagates (as ORT).
    case FusedActivation::kRelu: return _mm512_max_ps(_mm512_setzero_ps(), v);
    case FusedActivation::kLeakyRelu: {
      const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
      return _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(a));
    }
    case FusedActivation::kSigmoid: {
      const __m512 ex = vm512::exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v));
      return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), ex));
    }
    case FusedActivation::kClip: return _mm512_min_ps(_mm512_set1_ps(b), _mm512_max_ps(_mm512_set1_ps(a), v));
    case FusedActivation::kTanh: return vm512::tanh_ps(v);
    case FusedActivation::kHardSigmoid:
    case FusedActivation::kHardSwish: {
      const bool swish = act == FusedActivation::kHardSwish;
      const __m512 t = _mm512_fmadd_ps(_mm512_set1_ps(swish ? 1.0f / 6.0f : a), v, _mm512_set1_ps(swish ? 0.5f : b));
      const __m512 h = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), t));
      return swish ? _mm512_mul_ps(v, h) : h;
    }
    case FusedActivation::kSilu: {
      const __m512 ex = vm512::exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), v));
      const __m512 y = _mm512_mul_ps(v, _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), ex)));
      // -inf * Sigmoid(-inf) = -inf * 0 = NaN in ONNX Runtime's Mul(x, Sigmoid(x)); exp_ps saturates instead.
      const __mmask16 minus_inf = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
      return _mm512_mask_mov_ps(y, minus_inf, _mm512_set1_ps(NAN));
    }
    case FusedActivation::kGeluErf: return vm512::gelu_erf_ps(v);
    case FusedActivation::kGeluTanh: return vm512::gelu_tanh_ps(v);
  }
  return v;
}

inline __mmask16 cols_mask(int cols) { return cols >= 16 ? __mmask16(0xFFFF) : cols <= 0 ? __mmask16(0) : __mmask16((1u << cols) - 1); }

template <int R>
struct Tile {
  static void run(int64_t k, const float* a, const float* b, int64_t ldb, float* c, int64_t ldc, int cols,
                  const Epilogue& e) {
    constexpr int KU = R >= 4 ? 1 : (R >= 2 ? 2 : 4);
    __m512 acc[KU][R][2];
#pragma GCC unroll 64
    for (int u = 0; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) acc[u][i][0] = acc[u][i][1] = _mm512_setzero_ps();
    int64_t kk = 0;
    for (; kk + KU <= k; kk += KU) {
#pragma GCC unroll 4
      for (int u = 0; u < KU; ++u) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        b += ldb;
#pragma GCC unroll 64
        for (int i = 0; i < R; ++i) {
          const __m512 av = _mm512_set1_ps(a[i]);
          acc[u][i][0] = _mm512_fmadd_ps(av, b0, acc[u][i][0]);
          acc[u][i][1] = _mm512_fmadd_ps(av, b1, acc[u][i][1]);
        }
        a += R;
      }
    }
    for (; kk < k; ++kk) {
      const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
      b += ldb;
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        const __m512 av = _mm512_set1_ps(a[i]);
        acc[0][i][0] = _mm512_fmadd_ps(av, b0, acc[0][i][0]);
        acc[0][i][1] = _mm512_fmadd_ps(av, b1, acc[0][i][1]);
      }
      a += R;
    }
#pragma GCC unroll 4
    for (int u = 1; u < KU; ++u)
#pragma GCC unroll 64
      for (int i = 0; i < R; ++i) {
        acc[0][i][0] = _mm512_add_ps(acc[0][i][0], acc[u][i][0]);
        acc[0][i][1] = _mm512_add_ps(acc[0][i][1], acc[u][i][1]);
      }
    const __mmask16 m0 = cols_mask(cols), m1 = cols_mask(cols - 16);
    const __m512 alpha = _mm512_set1_ps(e.alpha);
    __m512 bn0 = _mm512_setzero_ps(), bn1 = _mm512_setzero_ps();
    if (e.bias_n != nullptr) {
      bn0 = _mm512_maskz_loadu_ps(m0, e.bias_n);
      bn1 = _mm512_maskz_loadu_ps(m1, e.bias_n + 16);
    }
#pragma GCC unroll 64
    for (int i = 0; i < R; ++i) {
      __m512 v0 = _mm512_fmadd_ps(alpha, acc[0][i][0], bn0);
      __m512 v1 = _mm512_fmadd_ps(alpha, acc[0][i][1], bn1);
      if (e.bias_m != nullptr) {
        const __m512 bm = _mm512_set1_ps(e.bias_m[i]);
        v0 = _mm512_add_ps(v0, bm);
        v1 = _mm512_add_ps(v1, bm);
      }
      v0 = activate(v0, e.act, e.act_alpha, e.act_beta);
      float* ci = c + i * ldc;
      if (cols >= 32) {
        _mm512_storeu_ps(ci, v0);
        _mm512_storeu_ps(ci + 16, activate(v1, e.act, e.act_alpha, e.act_beta));
      } else {
        _mm512_mask_storeu_ps(ci, m0, v0);
        if (m1 != 0) _mm512_mask_storeu_ps(ci + 16, m1, activate(v1, e.act, e.act_alpha, e.act_beta));
      }
    }
  }
};

constexpr TileTable<Tile, kMr> kTiles{};

void run(const GemmF32Args& args) { run_driver<kMr, kNr>(args, kTiles.fns); }

void minmax(const float* x, int64_t n, float* mn, float* mx) {
  __m512 lo = _mm512_set1_ps(INFINITY), hi = _mm512_set1_ps(-INFINITY);
  __mmask16 nan = 0;
  int64_t i = 0;
  // max(v, hi) with v NaN returns hi (second operand): NaN ignored there, recorded in `nan`.
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    lo = _mm512_min_ps(v, lo);
    hi = _mm512_max_ps(v, hi);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  }
  if (i < n) {
    const __mmask16 m = cols_mask(static_cast<int>(n - i));
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    lo = _mm512_mask_min_ps(lo, m, v, lo);
    hi = _mm512_mask_max_ps(hi, m, v, hi);
    nan |= _mm512_mask_cmp_ps_mask(m, v, v, _CMP_UNORD_Q);
  }
  alignas(64) float l[16], h[16];
  _mm512_store_ps(l, lo);
  _mm512_store_ps(h, hi);
  float a = l[0], b = h[0];
  for (int j = 1; j < 16; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  *mn = nan != 0 ? NAN : a;
  *mx = nan != 0 ? NAN : b;
}

struct Avx512Vec {
  using V = __m512;
  static constexpr int kLanes = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  // NaN in a stays NaN (a following ONNX Max propagates it).
  static V max(V a, V b) { return _mm512_max_ps(b, a); }  // the second operand wins on NaN: a NaN stays
  static V activate(V v, FusedActivation act, float a, float b) { return edgeinfer::activate(v, act, a, b); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(cols_mask(n), p); }
  static void store_partial(float* p, V v, int n) { _mm512_mask_storeu_ps(p, cols_mask(n), v); }
};

void half_to_float_n(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(out + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
  half_to_float_scalar(in + i, out + i, n - i);
}

}  // namespace

extern const GemmF32Variant kGemmF32Avx512 = {"f32_gemm_12x32__avx512", Isa::kAvx512, kMr, kNr, run, minmax,
                                              activate_n<Avx512Vec>, IgemmTiles<Avx512Vec, 12, 1>::family(),
                                              IgemmTiles<Avx512Vec, 8, 2>::family(), IgemmTiles<Avx512Vec, 8, 3>::family(),
    rows_epilogue<Avx512Vec>, column_sums<Avx512Vec>, half_to_float_n};

}  // namespace edgeinfer
