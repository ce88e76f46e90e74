// LayerNorm (+ fused GELU) and GELU on AVX-512F. One row at a time: pass 1 sums the row (from memory),
// pass 2 sums squared deviations from the mean (row now in L1/L2: two-pass, no cancellation), pass 3
// normalizes, applies gamma/beta and the activation in registers and stores the row once.
// GCC 12 reports its own _mm512_undefined_ps() self-initialisation as uninitialised once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx512.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"

namespace edgeinfer {
namespace {

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

template <Activation A>
inline __m512 activate(__m512 v) {
  if constexpr (A == Activation::kGeluErf) return vm512::gelu_erf_ps(v);
  else if constexpr (A == Activation::kGeluTanh) return vm512::gelu_tanh_ps(v);
  else return v;
}

float row_sum(const float* x, int64_t w) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= w; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i + 16 <= w; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
  if (i < w) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(tail_mask(w - i), x + i));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

float row_sq_dev(const float* x, int64_t w, float mean) {
  const __m512 m = _mm512_set1_ps(mean);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= w; i += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m);
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 32), m);
    const __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 48), m);
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
    a2 = _mm512_fmadd_ps(d2, d2, a2);
    a3 = _mm512_fmadd_ps(d3, d3, a3);
  }
  for (; i + 16 <= w; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    a0 = _mm512_fmadd_ps(d, d, a0);
  }
  if (i < w) {
    const __mmask16 k = tail_mask(w - i);
    const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), m);
    a1 = _mm512_fmadd_ps(d, d, a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

template <Activation A, bool kGamma, bool kBeta>
inline __m512 normalize(__m512 v, __m512 mean, __m512 rstd, const float* gamma, const float* beta, int64_t i,
                        __mmask16 k) {
  __m512 n = _mm512_mul_ps(_mm512_sub_ps(v, mean), rstd);
  if constexpr (kGamma && kBeta)
    n = _mm512_fmadd_ps(n, _mm512_maskz_loadu_ps(k, gamma + i), _mm512_maskz_loadu_ps(k, beta + i));
  else if constexpr (kGamma)
    n = _mm512_mul_ps(n, _mm512_maskz_loadu_ps(k, gamma + i));
  else if constexpr (kBeta)
    n = _mm512_add_ps(n, _mm512_maskz_loadu_ps(k, beta + i));
  return activate<A>(n);
}

// Non-temporal stores were measured at 2048x4096 (32 MB out) and did not help on Zen5: plain stores only.
template <Activation A, bool kGamma, bool kBeta>
void layer_norm_rows(const LayerNormArgs& a) {
  const int64_t w = a.width;
  const float inv_w = 1.0f / static_cast<float>(w);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * w;
    float* y = a.y + r * w;
    const float mean = row_sum(x, w) * inv_w;
    const float var = row_sq_dev(x, w, mean) * inv_w;
    const __m512 vmean = _mm512_set1_ps(mean);
    const __m512 vrstd = _mm512_set1_ps(1.0f / __builtin_sqrtf(var + a.epsilon));
    int64_t i = 0;
    for (; i + 32 <= w; i += 32) {
      const __m512 o0 = normalize<A, kGamma, kBeta>(_mm512_loadu_ps(x + i), vmean, vrstd, a.gamma, a.beta, i, 0xFFFF);
      const __m512 o1 =
          normalize<A, kGamma, kBeta>(_mm512_loadu_ps(x + i + 16), vmean, vrstd, a.gamma, a.beta, i + 16, 0xFFFF);
      _mm512_storeu_ps(y + i, o0);
      _mm512_storeu_ps(y + i + 16, o1);
    }
    for (; i < w; i += 16) {
      const __mmask16 k = w - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(w - i);
      const __m512 o = normalize<A, kGamma, kBeta>(_mm512_maskz_loadu_ps(k, x + i), vmean, vrstd, a.gamma, a.beta, i, k);
      _mm512_mask_storeu_ps(y + i, k, o);
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

void layer_norm_avx512(const LayerNormArgs& a) {
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
  for (; i + 32 <= n; i += 32) {
    const __m512 o0 = activate<A>(_mm512_loadu_ps(x + i));
    const __m512 o1 = activate<A>(_mm512_loadu_ps(x + i + 16));
    _mm512_storeu_ps(y + i, o0);
    _mm512_storeu_ps(y + i + 16, o1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, activate<A>(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

void gelu_avx512(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  if (a.n == 0) return;
  if (a.tanh_approximation)
    gelu_run<Activation::kGeluTanh>(a.x, a.y, a.n);
  else
    gelu_run<Activation::kGeluErf>(a.x, a.y, a.n);
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluAvx512;
const LayerNormGeluVariant kLayerNormGeluAvx512 = {"f32_layernorm_gelu__avx512", Isa::kAvx512, layer_norm_avx512,
                                                   gelu_avx512};

}  // namespace edgeinfer
