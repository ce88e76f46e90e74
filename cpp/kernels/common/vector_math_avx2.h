// Header-only float vector math on __m256 (AVX2 + FMA only): exp, erf, tanh, GELU (erf and tanh forms).
// Include only from files compiled with the avx2 (-mavx2 -mfma) flags (an *_avx2.cc file or higher). Everything is static
// inline in namespace edgeinfer::vm256, so several kernels (e.g. a GEMM epilogue) can include it.
//
// Accuracy (measured by cpp/tests/test_layernorm_gelu.cc against double-precision std functions):
//   exp_ps   : <= 2 ulp on [-87.3, 88.3]; saturates outside (no inf, no denormals), NaN -> NaN.
//   erf_ps   : rational x*P(x^2)/Q(x^2) on |x| <= 4 (Eigen/XLA coefficients), +-1 beyond;
//              relative error < 1e-6 (typically a few ulp).
//   tanh_ps  : rational x*P(x^2)/Q(x^2) on |x| <= 7.9 (Eigen coefficients); relative error < 1e-6.
//   gelu_erf_ps  : 0.5 x (1 + erf(x / sqrt 2)); for x < 0 the 1 + erf cancellation gives an absolute error
//                  of about 1e-7 * |x| (the test bound is 2e-6 |ref| + 2e-7 |x| + 1e-37).
//   gelu_tanh_ps : x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))), identical to 0.5 x (1 + tanh(.)) and
//                  free of cancellation: relative error of a few ulp.
//   gelu(-inf) = -0 or +0, gelu(+inf) = +inf, gelu(NaN) = NaN.
#pragma once

#include <immintrin.h>

namespace edgeinfer::vm256 {

// Quotient p / q for finite, nonzero q. Fast form: rcp + one correction step (error ~1 ulp), cheaper than vdivps on most cores.
static inline __m256 div_ps(__m256 p, __m256 q) {
#if defined(EDGEINFER_VM_EXACT_DIV)
  return _mm256_div_ps(p, q);
#else
  const __m256 r = _mm256_rcp_ps(q);  // 12 bits; one correction step brings it to ~1 ulp
  const __m256 y0 = _mm256_mul_ps(p, r);
  const __m256 e = _mm256_fnmadd_ps(q, y0, p);  // p - q*y0, exact-ish residual
  return _mm256_fmadd_ps(e, r, y0);
#endif
}

static inline __m256 exp_ps(__m256 x) {
  // Clamped to [-87.3, 88.3] so 2^n stays a normal float built from its exponent bits: results saturate
  // at ~1.2e-38 and ~2.2e38 (no inf / denormals). max(lo, x) / min(hi, x) keep NaN (second operand wins).
  x = _mm256_max_ps(_mm256_set1_ps(-87.3f), x);
  x = _mm256_min_ps(_mm256_set1_ps(88.3f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

static inline __m256 erf_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-4.0f), x);
  x = _mm256_min_ps(_mm256_set1_ps(4.0f), x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-2.72614225801306e-10f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.77068142495902e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.10102402082508e-06f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.69250639462346e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-7.34990630326855e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-2.95459980854025e-03f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.60960333262415e-02f));
  p = _mm256_mul_ps(p, x);
  __m256 q = _mm256_set1_ps(-1.45660718464996e-05f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-2.13374055278905e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.68282697438203e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-7.37332916720468e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.42647390514189e-02f));
  const __m256 r = div_ps(p, q);
  // The rational slightly exceeds 1 near |x| = 4: clamp so |erf| <= 1 (NaN still propagates).
  return _mm256_min_ps(_mm256_set1_ps(1.0f), _mm256_max_ps(_mm256_set1_ps(-1.0f), r));
}

static inline __m256 tanh_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-7.90531110763549805f), x);
  x = _mm256_min_ps(_mm256_set1_ps(7.90531110763549805f), x);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-2.76076847742355e-16f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.00018790482477e-13f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-8.60467152213735e-11f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(5.12229709037114e-08f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.48572235717979e-05f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(6.37261928875436e-04f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(4.89352455891786e-03f));
  p = _mm256_mul_ps(p, x);
  __m256 q = _mm256_set1_ps(1.19825839466702e-06f);
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(1.18534705686654e-04f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(2.26843463243900e-03f));
  q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(4.89352518554385e-03f));
  return div_ps(p, q);
}

// 0.5 x (1 + erf(x / sqrt 2)).
static inline __m256 gelu_erf_ps(__m256 x) {
  // -inf would give -inf * 0: clamp to -FLT_MAX first (gelu there is 0 either way). NaN stays NaN.
  x = _mm256_max_ps(_mm256_set1_ps(-3.40282347e+38f), x);
  const __m256 hx = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
  const __m256 e = erf_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.707106781186547524f)));
  return _mm256_fmadd_ps(hx, e, hx);
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) computed as x / (1 + exp(-2 sqrt(2/pi) (x + 0.044715 x^3))).
static inline __m256 gelu_tanh_ps(__m256 x) {
  // Below -9 the true result is below 2e-28 in magnitude: clamping there keeps exp(.) finite (~7e28), so
  // the reciprocal-based quotient never sees inf, and -inf never meets inf.
  const __m256 xc = _mm256_max_ps(_mm256_set1_ps(-9.0f), x);
  const __m256 x2 = _mm256_mul_ps(xc, xc);
  const __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(-2.0f * 0.797884560802865356f * 0.044715f), x2,
                                      _mm256_set1_ps(-2.0f * 0.797884560802865356f));
  const __m256 e = exp_ps(_mm256_mul_ps(xc, poly));
  // x * (1 / q) rather than x / q: q = 1 + e is in [1, ~7e28], so the refined reciprocal is accurate and
  // x = +inf gives +inf (the residual form of div_ps would compute inf - inf there).
  const __m256 q = _mm256_add_ps(e, _mm256_set1_ps(1.0f));
  __m256 r = _mm256_rcp_ps(q);
  r = _mm256_fmadd_ps(r, _mm256_fnmadd_ps(q, r, _mm256_set1_ps(1.0f)), r);
  return _mm256_mul_ps(xc, r);
}

}  // namespace edgeinfer::vm256
