// Header-only float vector math on __m256 (AVX2 + FMA only): exp, erf, tanh, GELU (erf and tanh forms).
// Include only from files compiled with the avx2 (-mavx2 -mfma) flags (an *_avx2.cc file or higher). Everything is static
// inline in namespace edgeinfer::vm256, so several kernels (e.g. a GEMM epilogue) can include it.
//
// Accuracy (measured by cpp/tests/test_layernorm_gelu.cc against double-precision std functions):
//   exp_ps   : <= 2 ulp on [-87.3, 88.3]; saturates outside (no inf, no denormals), NaN -> NaN.
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

namespace gelu_detail {
// Same constants as vector_math_avx512.h (see the comments there).
constexpr float kT = 13.2f;
constexpr float kP0 = 0.5f, kP1 = 0.43488312f, kP2 = 0.18069056f, kP3 = 0.039770257f, kP4 = 0.003986579f;
constexpr float kQ1 = 1.667651f, kQ2 = 1.1919707f, kQ3 = 0.46274802f, kQ4 = 0.099696815f, kQ5 = 0.009992724f;
constexpr float kMinusHalfLog2e = -0.7213475f;
constexpr float kTwoLn2Hi = 1.3862944f, kTwoLn2Lo = -3.8093084e-09f;
constexpr float kE1 = 0.49999985f, kE2 = 0.12499788f, kE3 = 0.020834545f, kE4 = 0.0026186202f, kE5 = 0.00025907197f;
constexpr float kK0Hi = 1.5957692f, kK0Lo = -4.534068e-08f, kK1Hi = 0.071354814f, kK1Lo = 2.3988325e-09f;
constexpr float kTanhT = 10.75f;

// y, with NaN where x = -inf (GELU's -inf * 0; the clamps would give -0 or a tiny negative there): the
// all-ones compare mask or-ed in is a quiet NaN.
static inline __m256 nan_at_neg_inf(__m256 y, __m256 x) {
  return _mm256_or_ps(y, _mm256_cmp_ps(x, _mm256_set1_ps(-__builtin_inff()), _CMP_EQ_OQ));
}

// 2^n for integral float n in [-127, 127]; n = -127 gives 0 (a flush, not a denormal).
static inline __m256 pow2i(__m256 n) {
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23));
}

// exp(x) for x <= 0 (or NaN): like exp_ps, but below about -87.7 the result is 0 instead of saturating.
static inline __m256 exp_nonpos_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-88.0f), x);  // NaN stays (second operand)
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
  return _mm256_mul_ps(p, pow2i(n));
}
}  // namespace gelu_detail

// 0.5 x (1 + erf(x / sqrt 2)) = relu(x) - |x| * 0.5 erfc(|x| / sqrt 2), relative error < 1e-6 for every x
// (no 1 + erf cancellation for x < 0). Same algorithm as vm512::gelu_erf_ps.
static inline __m256 gelu_erf_ps(__m256 x) {
  using namespace gelu_detail;
  const __m256 t = _mm256_min_ps(_mm256_set1_ps(kT), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x));  // NaN stays
  const __m256 relu = nan_at_neg_inf(_mm256_max_ps(_mm256_setzero_ps(), x), x);  // -inf -> NaN, off the critical path
  const __m256 s = _mm256_mul_ps(t, t);
  const __m256 e = _mm256_fmsub_ps(t, t, s);  // t^2 - s, exact
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(s, _mm256_set1_ps(kMinusHalfLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);  // [-126, 0]
  const __m256 rh = _mm256_fnmsub_ps(n, _mm256_set1_ps(kTwoLn2Hi), s);
  const __m256 rl = _mm256_fnmsub_ps(n, _mm256_set1_ps(kTwoLn2Lo), e);
  const __m256 r = _mm256_add_ps(rh, rl);
  __m256 ex = _mm256_set1_ps(kE5);
  ex = _mm256_fmadd_ps(ex, r, _mm256_set1_ps(kE4));
  ex = _mm256_fmadd_ps(ex, r, _mm256_set1_ps(kE3));
  ex = _mm256_fmadd_ps(ex, r, _mm256_set1_ps(kE2));
  ex = _mm256_fmadd_ps(ex, r, _mm256_set1_ps(kE1));
  ex = _mm256_fmadd_ps(ex, r, _mm256_set1_ps(1.0f));
  __m256 p = _mm256_set1_ps(kP4);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(kP0));
  __m256 q = _mm256_set1_ps(kQ5);
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(kQ4));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(kQ3));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(kQ2));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(kQ1));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.0f));
  const __m256 c = _mm256_mul_ps(_mm256_div_ps(_mm256_mul_ps(ex, p), q), pow2i(n));
  return _mm256_fnmadd_ps(t, c, relu);
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x sigma(z); same algorithm as vm512::gelu_tanh_ps.
static inline __m256 gelu_tanh_ps(__m256 x) {
  using namespace gelu_detail;
  const __m256 t = _mm256_min_ps(_mm256_set1_ps(kTanhT), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x));
  const __m256 sh = _mm256_mul_ps(t, t);
  const __m256 sl = _mm256_fmsub_ps(t, t, sh);
  const __m256 ch = _mm256_mul_ps(sh, t);
  const __m256 cl = _mm256_fmadd_ps(sl, t, _mm256_fmsub_ps(sh, t, ch));
  const __m256 k1h = _mm256_set1_ps(kK1Hi), k0h = _mm256_set1_ps(kK0Hi);
  const __m256 bh = _mm256_mul_ps(ch, k1h);
  const __m256 bl =
      _mm256_fmadd_ps(cl, k1h, _mm256_fmadd_ps(ch, _mm256_set1_ps(kK1Lo), _mm256_fmsub_ps(ch, k1h, bh)));
  const __m256 ah = _mm256_mul_ps(t, k0h);
  const __m256 al = _mm256_fmadd_ps(t, _mm256_set1_ps(kK0Lo), _mm256_fmsub_ps(t, k0h, ah));
  const __m256 big = _mm256_max_ps(ah, bh), small = _mm256_min_ps(ah, bh);
  const __m256 zh = _mm256_add_ps(big, small);
  const __m256 zl = _mm256_add_ps(_mm256_sub_ps(small, _mm256_sub_ps(zh, big)), _mm256_add_ps(al, bl));
  __m256 a = exp_nonpos_ps(_mm256_sub_ps(_mm256_setzero_ps(), zh));
  a = _mm256_fnmadd_ps(a, zl, a);
  const __m256 q = _mm256_add_ps(a, _mm256_set1_ps(1.0f));
  __m256 d = _mm256_rcp_ps(q);
  d = _mm256_fmadd_ps(d, _mm256_fnmadd_ps(q, d, _mm256_set1_ps(1.0f)), d);
  const __m256 sig = _mm256_blendv_ps(d, _mm256_mul_ps(d, a), x);  // sign bit of x selects a / (1 + a)
  // exp_nonpos_ps flushes to 0 below -87.7, so sig = 0 exactly for x < ~-9.9: x * sig is -0 there and
  // -inf * 0 = NaN for x = -inf (no clamp of x needed); NaN stays NaN.
  return _mm256_mul_ps(x, sig);
}

// ---- IEEE-edged forms for the element-wise ops (Exp, Log, Sigmoid), where inf / 0 / NaN must come out as
// the reference gives them (cpp/tests/test_elementwise_f32.cc measures the accuracy).

// exp(x), <= 2 ulp for normal results: +inf above ~88.72, gradual underflow to denormals and exactly 0 below
// about -103.9, NaN -> NaN. 2^n is applied in two halves (both normal floats): the first product is exact, the
// second rounds once. (exp_ps above saturates instead, cheaper where that does not matter.)
static inline __m256 exp_ieee_ps(__m256 x) {
  x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);  // NaN stays (second operand)
  x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);    // n in [-150, 129]
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
  const __m256i ni = _mm256_cvtps_epi32(n);  // NaN -> INT_MIN: garbage scales, but p is NaN
  const __m256i n1 = _mm256_srai_epi32(ni, 1);
  const __m256i n2 = _mm256_sub_epi32(ni, n1);
  const __m256i bias = _mm256_set1_epi32(127);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
  return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

// log(x) (Cephes logf: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log(m) by a degree-9 polynomial in m - 1, the
// reduction exact): ~1 ulp; denormals scaled by 2^23 first; log(+-0) = -inf, log(x < 0) = NaN,
// log(+inf) = +inf, NaN -> NaN.
static inline __m256 log_ps(__m256 x) {
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);  // denormal (or <= 0)
  const __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);
  const __m256i bits = _mm256_castps_si256(xs);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  e = _mm256_sub_ps(e, _mm256_and_ps(tiny, _mm256_set1_ps(23.0f)));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));  // [0.5, 1)
  const __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0f)));
  m = _mm256_add_ps(_mm256_sub_ps(m, _mm256_set1_ps(1.0f)), _mm256_and_ps(small, m));  // m - 1 or 2m - 1, exact
  const __m256 z = _mm256_mul_ps(m, m);
  __m256 p = _mm256_set1_ps(7.0376836292e-2f);
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.1514610310e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(1.1676998740e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.2420140846e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(1.4249322787e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-1.6668057665e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(2.0000714765e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(-2.4999993993e-1f));
  p = _mm256_fmadd_ps(p, m, _mm256_set1_ps(3.3333331174e-1f));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, m), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
  y = _mm256_add_ps(m, y);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), y);
  const __m256 inf = _mm256_set1_ps(__builtin_inff());
  y = _mm256_blendv_ps(y, inf, _mm256_cmp_ps(x, inf, _CMP_EQ_OQ));
  y = _mm256_blendv_ps(y, _mm256_sub_ps(_mm256_setzero_ps(), inf), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
  // x < 0 or NaN: a quiet NaN (the all-ones compare mask).
  return _mm256_or_ps(y, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
}

// 1 / (1 + exp(-x)) as a / (1 + a) (x < 0) or 1 / (1 + a) (x >= 0), a = exp(-|x|): no cancellation, one
// correctly rounded division, exactly 0 at -inf and 1 from x ~ 17 on; ~2 ulp; 0 below x ~ -87.7 (the true
// value is a denormal there). NaN -> NaN.
static inline __m256 sigmoid_ps(__m256 x) {
  const __m256 a = gelu_detail::exp_nonpos_ps(_mm256_or_ps(x, _mm256_set1_ps(-0.0f)));  // exp(-|x|)
  const __m256 num = _mm256_blendv_ps(_mm256_set1_ps(1.0f), a, _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  return _mm256_div_ps(num, _mm256_add_ps(a, _mm256_set1_ps(1.0f)));
}

}  // namespace edgeinfer::vm256
