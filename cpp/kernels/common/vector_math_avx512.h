// Header-only float vector math on __m512 (AVX-512F/DQ): exp, erf, tanh, GELU (erf and tanh forms).
// Include only from files compiled with the avx512 flags (a *_avx512*.cc file). Everything is static
// inline in namespace edgeinfer::vm512, so several kernels (e.g. a GEMM epilogue) can include it.
//
// Accuracy (measured by cpp/tests/test_layernorm_gelu.cc against double-precision std functions):
//   exp_ps   : <= 2 ulp on [-87, 88]; underflows to denormal / 0 below, +inf above ~88.72, NaN -> NaN.
//   erf_ps   : rational x*P(x^2)/Q(x^2) on |x| <= 4 (Eigen/XLA coefficients), +-1 beyond (no longer used
//              by the GELUs);
//              relative error < 1e-6 (typically a few ulp).
//   tanh_ps  : rational x*P(x^2)/Q(x^2) on |x| <= 7.9 (Eigen coefficients); relative error < 1e-6.
//   gelu_erf_ps  : relu(x) - |x| c(|x|), c(t) = 0.5 erfc(t / sqrt 2) = exp(-t^2 / 2) P(t) / Q(t) (t^2 split
//                  exactly so exp keeps full relative accuracy): no 1 + erf cancellation for x < 0; relative
//                  error < 4e-7 for every x down to the float underflow (x ~ -13), 1e-38 absolute below.
//                  vdivps is used for P / Q: on Zen 4/5 the divider runs beside the FMA pipes and measured
//                  ~7% faster than rcp + Newton in the GELU loop.
//   gelu_tanh_ps : x sigma(z), z = 2 sqrt(2/pi) (x + 0.044715 x^3) carried as a double-float, a = exp(-|z|),
//                  sigma = 1 / (1 + a) (x >= 0) or a / (1 + a) (x < 0): relative error < 4e-7 for every x.
//   gelu(-inf) = NaN (the formula's -inf * 0, and ONNX Runtime's result), gelu(+inf) = +inf, gelu(NaN) = NaN.
#pragma once

#include <immintrin.h>

namespace edgeinfer::vm512 {

// Quotient p / q for finite, nonzero q. Fast form: rcp14 + one correction step (error ~1 ulp), cheaper than vdivps on most cores.
static inline __m512 div_ps(__m512 p, __m512 q) {
#if defined(EDGEINFER_VM_EXACT_DIV)
  return _mm512_div_ps(p, q);
#else
  const __m512 r = _mm512_rcp14_ps(q);
  const __m512 y0 = _mm512_mul_ps(p, r);
  const __m512 e = _mm512_fnmadd_ps(q, y0, p);  // p - q*y0, exact-ish residual
  return _mm512_fmadd_ps(e, r, y0);
#endif
}

static inline __m512 exp_ps(__m512 x) {
  // max(lo, x) / min(hi, x) return x when x is NaN (the second operand wins), so NaN propagates.
  x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
  p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

static inline __m512 erf_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-4.0f), x);
  x = _mm512_min_ps(_mm512_set1_ps(4.0f), x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-2.72614225801306e-10f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.77068142495902e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.10102402082508e-06f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-5.69250639462346e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-7.34990630326855e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-2.95459980854025e-03f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.60960333262415e-02f));
  p = _mm512_mul_ps(p, x);
  __m512 q = _mm512_set1_ps(-1.45660718464996e-05f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-2.13374055278905e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.68282697438203e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-7.37332916720468e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.42647390514189e-02f));
  const __m512 r = div_ps(p, q);
  // The rational slightly exceeds 1 near |x| = 4: clamp so |erf| <= 1 (NaN still propagates).
  return _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_set1_ps(-1.0f), r));
}

static inline __m512 tanh_ps(__m512 x) {
  x = _mm512_max_ps(_mm512_set1_ps(-7.90531110763549805f), x);
  x = _mm512_min_ps(_mm512_set1_ps(7.90531110763549805f), x);
  const __m512 x2 = _mm512_mul_ps(x, x);
  __m512 p = _mm512_set1_ps(-2.76076847742355e-16f);
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.00018790482477e-13f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-8.60467152213735e-11f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(5.12229709037114e-08f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.48572235717979e-05f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(6.37261928875436e-04f));
  p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(4.89352455891786e-03f));
  p = _mm512_mul_ps(p, x);
  __m512 q = _mm512_set1_ps(1.19825839466702e-06f);
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.18534705686654e-04f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.26843463243900e-03f));
  q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(4.89352518554385e-03f));
  return div_ps(p, q);
}

// Constants shared by the AVX2 and AVX-512 GELU code (the AVX2 header has an identical copy).
namespace gelu_detail {
// GELU (erf form) = x Phi(x) = relu(x) - |x| c(|x|) with c(t) = Phi(-t) = 0.5 erfc(t / sqrt 2) (both signs:
// x >= 0 gives x (1 - c), x < 0 gives x c). c(t) = exp(-t^2 / 2) R(t) with R(t) = 0.5 erfcx(t / sqrt 2)
// ~= P(t) / Q(t), a (4, 5) rational fitted for minimax relative error on [0, 13.2] (2.6e-7 evaluated in
// float, coefficients rounded). t is clamped to 13.2 so that 2^n stays a normal float (n >= -126); beyond,
// |gelu| < 1e-38 anyway.
constexpr float kT = 13.2f;
constexpr float kP0 = 0.5f, kP1 = 0.43488312f, kP2 = 0.18069056f, kP3 = 0.039770257f, kP4 = 0.003986579f;
constexpr float kQ1 = 1.667651f, kQ2 = 1.1919707f, kQ3 = 0.46274802f, kQ4 = 0.099696815f, kQ5 = 0.009992724f;
// exp(-t^2 / 2) = 2^n exp(r' / 2), n = round(-t^2 log2(e) / 2), r' = -t^2 - 2 n ln 2 in [-ln 2, ln 2],
// t^2 = s + e exactly (s = fl(t * t), e = fma(t, t, -s)): rounding t^2 would cost t^2 * 6e-8 relative.
// exp(r' / 2) ~= 1 + E1 r' + ... + E5 r'^5 (minimax, 1.5e-7 relative in float).
constexpr float kMinusHalfLog2e = -0.7213475f;
constexpr float kTwoLn2Hi = 1.3862944f, kTwoLn2Lo = -3.8093084e-09f;
constexpr float kE1 = 0.49999985f, kE2 = 0.12499788f, kE3 = 0.020834545f, kE4 = 0.0026186202f, kE5 = 0.00025907197f;
// GELU (tanh form) = x sigma(z), z = k0 x + k1 x^3 (k0 = 2 sqrt(2 / pi), k1 = 0.044715 k0), as double-floats.
constexpr float kK0Hi = 1.5957692f, kK0Lo = -4.534068e-08f, kK1Hi = 0.071354814f, kK1Lo = 2.3988325e-09f;
// |x| clamp: at |x| = 10.75, |z| = 105.8 and exp(-|z|) rounds to exactly 0 (exp_ps clamps at -104), so the
// tanh form below can multiply the unclamped x: x < -10.75 gives -0 and -inf gives -inf * 0 = NaN.
constexpr float kTanhT = 10.75f;

// max(0, x), but NaN for x = -inf (GELU's -inf * 0: the clamped |x| below would give -tiny): one vfixupimmps
// instead of the vmaxps, off the critical path. Responses per class of x: -inf (token 4) -> 3, the default
// QNaN; negative (token 6) -> 8, +0; every other class keeps x (NaN, zeros, +inf, positive).
static inline __m512 relu_nan_at_neg_inf(__m512 x) {
  return _mm512_fixupimm_ps(x, x, _mm512_set1_epi32((0x3 << 16) | (0x8 << 24)), 0);
}
}  // namespace gelu_detail

// 0.5 x (1 + erf(x / sqrt 2)) = relu(x) - |x| * 0.5 erfc(|x| / sqrt 2), relative error < 1e-6 for every x
// (no 1 + erf cancellation for x < 0). About 27 vector operations, one of them a division.
static inline __m512 gelu_erf_ps(__m512 x) {
  using namespace gelu_detail;
  // range(x, T, min-abs, sign cleared) = min(|x|, T); NaN propagates (and so does the relu below).
  const __m512 t = _mm512_range_ps(x, _mm512_set1_ps(kT), 0x0A);
  const __m512 relu = gelu_detail::relu_nan_at_neg_inf(x);
  const __m512 s = _mm512_mul_ps(t, t);
  const __m512 e = _mm512_fmsub_ps(t, t, s);  // t^2 - s, exact
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(s, _mm512_set1_ps(kMinusHalfLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 rh = _mm512_fnmsub_ps(n, _mm512_set1_ps(kTwoLn2Hi), s);  // -n 2ln2_hi - s
  const __m512 rl = _mm512_fnmsub_ps(n, _mm512_set1_ps(kTwoLn2Lo), e);  // -n 2ln2_lo - e
  const __m512 r = _mm512_add_ps(rh, rl);
  __m512 ex = _mm512_set1_ps(kE5);
  ex = _mm512_fmadd_ps(ex, r, _mm512_set1_ps(kE4));
  ex = _mm512_fmadd_ps(ex, r, _mm512_set1_ps(kE3));
  ex = _mm512_fmadd_ps(ex, r, _mm512_set1_ps(kE2));
  ex = _mm512_fmadd_ps(ex, r, _mm512_set1_ps(kE1));
  ex = _mm512_fmadd_ps(ex, r, _mm512_set1_ps(1.0f));
  __m512 p = _mm512_set1_ps(kP4);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kP3));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kP2));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kP1));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(kP0));
  __m512 q = _mm512_set1_ps(kQ5);
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kQ4));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kQ3));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kQ2));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(kQ1));
  q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.0f));
  // c = 2^n exp(r'/2) P / Q; Q is in [1, 2e3], P / Q in [0.03, 0.5].
  const __m512 c = _mm512_scalef_ps(_mm512_div_ps(_mm512_mul_ps(ex, p), q), n);
  return _mm512_fnmadd_ps(t, c, relu);
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x sigma(z), z = 2 sqrt(2/pi) (x + 0.044715 x^3):
// with a = exp(-|z|), sigma = 1 / (1 + a) for x >= 0 and a / (1 + a) for x < 0 (no cancellation). |z| (up
// to ~100) is carried as a double-float so that exp(-|z|) keeps a relative error of a few 1e-7.
static inline __m512 gelu_tanh_ps(__m512 x) {
  using namespace gelu_detail;
  const __m512 t = _mm512_range_ps(x, _mm512_set1_ps(kTanhT), 0x0A);  // min(|x|, 10.75), NaN stays
  const __m512 sh = _mm512_mul_ps(t, t);
  const __m512 sl = _mm512_fmsub_ps(t, t, sh);
  const __m512 ch = _mm512_mul_ps(sh, t);  // t^3 = ch + cl
  const __m512 cl = _mm512_fmadd_ps(sl, t, _mm512_fmsub_ps(sh, t, ch));
  const __m512 k1h = _mm512_set1_ps(kK1Hi), k0h = _mm512_set1_ps(kK0Hi);
  const __m512 bh = _mm512_mul_ps(ch, k1h);  // k1 t^3 = bh + bl
  const __m512 bl =
      _mm512_fmadd_ps(cl, k1h, _mm512_fmadd_ps(ch, _mm512_set1_ps(kK1Lo), _mm512_fmsub_ps(ch, k1h, bh)));
  const __m512 ah = _mm512_mul_ps(t, k0h);  // k0 t = ah + al
  const __m512 al = _mm512_fmadd_ps(t, _mm512_set1_ps(kK0Lo), _mm512_fmsub_ps(t, k0h, ah));
  const __m512 big = _mm512_max_ps(ah, bh), small = _mm512_min_ps(ah, bh);
  const __m512 zh = _mm512_add_ps(big, small);  // |z| = zh + zl (fast two-sum)
  const __m512 zl = _mm512_add_ps(_mm512_sub_ps(small, _mm512_sub_ps(zh, big)), _mm512_add_ps(al, bl));
  __m512 a = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), zh));  // underflows to 0 gracefully
  a = _mm512_fnmadd_ps(a, zl, a);                              // * exp(-zl) ~ 1 - zl
  const __m512 q = _mm512_add_ps(a, _mm512_set1_ps(1.0f));    // [1, 2]
  __m512 d = _mm512_rcp14_ps(q);
  d = _mm512_fmadd_ps(d, _mm512_fnmadd_ps(q, d, _mm512_set1_ps(1.0f)), d);
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 sig = _mm512_mask_mul_ps(d, neg, d, a);
  // sig = 0 exactly once t is clamped (a = 0): x < -10.75 gives -0, -inf gives NaN; NaN stays NaN.
  return _mm512_mul_ps(x, sig);
}

// ---- IEEE-edged forms for the element-wise ops (Log, Sigmoid); exp_ps above already has IEEE edges.

// log(x) (Cephes logf, as vm256::log_ps; getexp / getmant take denormals directly): ~1 ulp; log(+-0) = -inf,
// log(x < 0) = NaN, log(+inf) = +inf, NaN -> NaN.
static inline __m512 log_ps(__m512 x) {
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p5_1, _MM_MANT_SIGN_zero);  // [0.5, 1)
  __m512 e = _mm512_add_ps(_mm512_getexp_ps(x), _mm512_set1_ps(1.0f));
  const __mmask16 small = _mm512_cmp_ps_mask(m, _mm512_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm512_mask_sub_ps(e, small, e, _mm512_set1_ps(1.0f));
  m = _mm512_mask_add_ps(_mm512_sub_ps(m, _mm512_set1_ps(1.0f)), small, _mm512_sub_ps(m, _mm512_set1_ps(1.0f)), m);
  const __m512 z = _mm512_mul_ps(m, m);
  __m512 p = _mm512_set1_ps(7.0376836292e-2f);
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.1514610310e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(1.1676998740e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.2420140846e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(1.4249322787e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-1.6668057665e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(2.0000714765e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(-2.4999993993e-1f));
  p = _mm512_fmadd_ps(p, m, _mm512_set1_ps(3.3333331174e-1f));
  __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, m), z);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(z, _mm512_set1_ps(0.5f), y);
  y = _mm512_add_ps(m, y);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), y);
  const __m512 inf = _mm512_set1_ps(__builtin_inff());
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, inf, _CMP_EQ_OQ), inf);
  y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_EQ_OQ), _mm512_set1_ps(-__builtin_inff()));
  return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_NGE_UQ),
                            _mm512_set1_ps(__builtin_nanf("")));  // x < 0 or NaN
}

// 1 / (1 + exp(-x)) as a / (1 + a) (x < 0) or 1 / (1 + a) (x >= 0), a = exp(-|x|): no cancellation, one
// correctly rounded division, exactly 0 at -inf and 1 from x ~ 17 on; ~2 ulp (denormal results: gradual
// underflow, 0 below x ~ -103.9). NaN -> NaN.
static inline __m512 sigmoid_ps(__m512 x) {
  const __m512 a = exp_ps(_mm512_or_ps(x, _mm512_set1_ps(-0.0f)));  // exp(-|x|)
  const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 num = _mm512_mask_mov_ps(_mm512_set1_ps(1.0f), neg, a);
  return _mm512_div_ps(num, _mm512_add_ps(a, _mm512_set1_ps(1.0f)));
}

}  // namespace edgeinfer::vm512
