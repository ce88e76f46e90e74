// LayerNorm (+ fused GELU) and GELU on AVX2 + FMA. Same structure as the AVX-512 file: pass 1 sums the row,
// pass 2 sums squared deviations (row in L1/L2), pass 3 normalizes + gamma/beta + activation, one store.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"

namespace edgeinfer {
namespace {

alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// First n (0..8) lanes set.
inline __m256i tail_mask(int64_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n));
}

template <Activation A>
inline __m256 activate(__m256 v) {
  if constexpr (A == Activation::kGeluErf) return vm256::gelu_erf_ps(v);
  else if constexpr (A == Activation::kGeluTanh) return vm256::gelu_tanh_ps(v);
  else return v;
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float row_sum(const float* x, int64_t w) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= w; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= w; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  if (i < w) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, tail_mask(w - i)));
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

float row_sq_dev(const float* x, int64_t w, float mean) {
  const __m256 m = _mm256_set1_ps(mean);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= w; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m);
    const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
    a2 = _mm256_fmadd_ps(d2, d2, a2);
    a3 = _mm256_fmadd_ps(d3, d3, a3);
  }
  for (; i + 8 <= w; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    a0 = _mm256_fmadd_ps(d, d, a0);
  }
  if (i < w) {
    const __m256i k = tail_mask(w - i);
    const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), _mm256_castsi256_ps(k));
    a1 = _mm256_fmadd_ps(d, d, a1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

template <bool kMasked>
inline __m256 load(const float* p, __m256i k) {
  if constexpr (kMasked) return _mm256_maskload_ps(p, k);
  else return _mm256_loadu_ps(p);
}

template <Activation A, bool kGamma, bool kBeta, bool kMasked>
inline __m256 normalize(__m256 v, __m256 mean, __m256 rstd, const float* gamma, const float* beta, int64_t i,
                        __m256i k) {
  __m256 n = _mm256_mul_ps(_mm256_sub_ps(v, mean), rstd);
  if constexpr (kGamma && kBeta)
    n = _mm256_fmadd_ps(n, load<kMasked>(gamma + i, k), load<kMasked>(beta + i, k));
  else if constexpr (kGamma)
    n = _mm256_mul_ps(n, load<kMasked>(gamma + i, k));
  else if constexpr (kBeta)
    n = _mm256_add_ps(n, load<kMasked>(beta + i, k));
  return activate<A>(n);
}

template <Activation A, bool kGamma, bool kBeta>
void layer_norm_rows(const LayerNormArgs& a) {
  const int64_t w = a.width;
  const float inv_w = 1.0f / static_cast<float>(w);
  const __m256i all = _mm256_set1_epi32(-1);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * w;
    float* y = a.y + r * w;
    const float mean = row_sum(x, w) * inv_w;
    const float var = row_sq_dev(x, w, mean) * inv_w;
    const __m256 vmean = _mm256_set1_ps(mean);
    const __m256 vrstd = _mm256_set1_ps(1.0f / __builtin_sqrtf(var + a.epsilon));
    int64_t i = 0;
    for (; i + 16 <= w; i += 16) {
      const __m256 o0 =
          normalize<A, kGamma, kBeta, false>(_mm256_loadu_ps(x + i), vmean, vrstd, a.gamma, a.beta, i, all);
      const __m256 o1 =
          normalize<A, kGamma, kBeta, false>(_mm256_loadu_ps(x + i + 8), vmean, vrstd, a.gamma, a.beta, i + 8, all);
      _mm256_storeu_ps(y + i, o0);
      _mm256_storeu_ps(y + i + 8, o1);
    }
    for (; i + 8 <= w; i += 8)
      _mm256_storeu_ps(y + i, normalize<A, kGamma, kBeta, false>(_mm256_loadu_ps(x + i), vmean, vrstd, a.gamma,
                                                                   a.beta, i, all));
    if (i < w) {
      const __m256i k = tail_mask(w - i);
      const __m256 o =
          normalize<A, kGamma, kBeta, true>(_mm256_maskload_ps(x + i, k), vmean, vrstd, a.gamma, a.beta, i, k);
      _mm256_maskstore_ps(y + i, k, o);
    }
  }
}

template <Activation A>
void layer_norm_dispatch_affine(const LayerNormArgs& a) {
  if (a.gamma && a.beta) layer_norm_rows<A, true, true>(a);
  else if (a.gamma) layer_norm_rows<A, true, false>(a);
  else if (a.beta) layer_norm_rows<A, false, true>(a);
  else layer_norm_rows<A, false, false>(a);
}

void layer_norm_avx2(const LayerNormArgs& a) {
  layernorm_detail::check_args(a);
  if (a.rows == 0 || a.width == 0) return;
  switch (a.activation) {
    case Activation::kGeluErf: layer_norm_dispatch_affine<Activation::kGeluErf>(a); break;
    case Activation::kGeluTanh: layer_norm_dispatch_affine<Activation::kGeluTanh>(a); break;
    default: layer_norm_dispatch_affine<Activation::kNone>(a); break;
  }
}

template <Activation A>
void gelu_run(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 o0 = activate<A>(_mm256_loadu_ps(x + i));
    const __m256 o1 = activate<A>(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, o0);
    _mm256_storeu_ps(y + i + 8, o1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, activate<A>(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, k, activate<A>(_mm256_maskload_ps(x + i, k)));
  }
}

void gelu_avx2(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  if (a.n == 0) return;
  if (a.tanh_approximation)
    gelu_run<Activation::kGeluTanh>(a.x, a.y, a.n);
  else
    gelu_run<Activation::kGeluErf>(a.x, a.y, a.n);
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluAvx2;
const LayerNormGeluVariant kLayerNormGeluAvx2 = {"f32_layernorm_gelu__avx2", Isa::kAvx2, layer_norm_avx2, gelu_avx2};

}  // namespace edgeinfer
