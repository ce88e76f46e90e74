// Header-only float vector math on float32x4_t (AArch64 Advanced SIMD, armv8.0-a baseline): exp, erf, tanh,
// GELU (erf and tanh forms). Include from any aarch64 file (*_neon.cc, *_neondot.cc, *_i8mm.cc: NEON is
// always there on aarch64). Everything is static inline in namespace edgeinfer::vmneon, so several kernels
// (e.g. a GEMM epilogue) can include it. Same algorithms and constants as vector_math_avx2.h / avx512.h.
//
// Accuracy (measured by cpp/tests/test_layernorm_gelu.cc against double-precision std functions):
//   exp_ps   : <= 2 ulp on [-87, 88.7]; gradual underflow to denormals / 0 below, +inf above ~88.72,
//              NaN -> NaN.
//   erf_ps   : rational x*P(x^2)/Q(x^2) on |x| <= 4 (Eigen/XLA coefficients), +-1 beyond;
//              relative error < 1e-6 (typically a few ulp).
//   tanh_ps  : rational x*P(x^2)/Q(x^2) on |x| <= 7.9 (Eigen coefficients); relative error < 1e-6.
//   gelu_erf_ps  : relu(x) - |x| Phi(-|x|), with Phi(-t) = exp(-t^2/2) P(t)/Q(t) and t^2 carried as hi + lo:
//                  relative error < 1e-6 for every x (no 1 + erf cancellation for x < 0).
//   gelu_tanh_ps : x sigma(z) with z = 2 sqrt(2/pi) (x + 0.044715 x^3) carried as hi + lo: relative error
//                  of a few ulp, no cancellation for x < 0.
//   gelu(-inf) = NaN (the formula's -inf * 0, and ONNX Runtime's result), gelu(+inf) = +inf, gelu(NaN) = NaN.
// Divisions use a reciprocal estimate + one Newton step + one residual correction (~1 ulp), much cheaper
// than FDIV on in-order cores such as Cortex-A53; define EDGEINFER_VM_EXACT_DIV for vdivq_f32.
#pragma once

#if !defined(__aarch64__)
#error "vector_math_neon.h is for AArch64 only"
#endif

#include <arm_neon.h>

// Forced inline: GCC otherwise keeps the GELU bodies out of line in unrolled loops (a call per vector,
// every constant reloaded, no interleaving of independent vectors).
#define EDGEINFER_VMNEON_INLINE static inline __attribute__((always_inline))

namespace edgeinfer::vmneon {

// p / q for finite, normal q (|q| in [2^-126, 2^126]).
EDGEINFER_VMNEON_INLINE float32x4_t div_ps(float32x4_t p, float32x4_t q) {
#if defined(EDGEINFER_VM_EXACT_DIV)
  return vdivq_f32(p, q);
#else
  float32x4_t r = vrecpeq_f32(q);             // ~8 bits
  r = vmulq_f32(r, vrecpsq_f32(q, r));        // ~16 bits
  const float32x4_t y0 = vmulq_f32(p, r);
  const float32x4_t e = vfmsq_f32(p, q, y0);  // p - q y0 (fused)
  return vfmaq_f32(y0, e, r);                 // ~1 ulp
#endif
}

// 2^n for integral float n in [-127, 127] (n = -127 gives 0).
EDGEINFER_VMNEON_INLINE float32x4_t pow2i(float32x4_t n) {
  return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23));
}

namespace detail {
// exp(r) - 1 - r ~ r^2 (1/2 + r/6 + ...) on [-ln2/2, ln2/2] (Cephes expf), returns exp(r).
EDGEINFER_VMNEON_INLINE float32x4_t exp_poly(float32x4_t r) {
  float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
  p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
  p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
  p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
  p = vfmaq_f32(r, p, vmulq_f32(r, r));
  return vaddq_f32(p, vdupq_n_f32(1.0f));
}
}  // namespace detail

EDGEINFER_VMNEON_INLINE float32x4_t exp_ps(float32x4_t x) {
  // vmaxq / vminq propagate NaN. [-104, 89] keeps n = round(x log2 e) in [-150, 129].
  x = vmaxq_f32(vdupq_n_f32(-104.0f), x);
  x = vminq_f32(vdupq_n_f32(89.0f), x);
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  const float32x4_t p = detail::exp_poly(r);
  // 2^n = 2^n1 2^n2 with n1 = floor(n / 2), n2 = n - n1, both normal: the first product is exact, the
  // second rounds once (gradual underflow to denormals, overflow to +inf).
  const int32x4_t ni = vcvtq_s32_f32(n);  // NaN -> 0 (p is NaN anyway)
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, vdupq_n_s32(127)), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, vdupq_n_s32(127)), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

EDGEINFER_VMNEON_INLINE float32x4_t erf_ps(float32x4_t x) {
  x = vmaxq_f32(vdupq_n_f32(-4.0f), x);
  x = vminq_f32(vdupq_n_f32(4.0f), x);
  const float32x4_t x2 = vmulq_f32(x, x);
  float32x4_t p = vdupq_n_f32(-2.72614225801306e-10f);
  p = vfmaq_f32(vdupq_n_f32(2.77068142495902e-08f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-2.10102402082508e-06f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-5.69250639462346e-05f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-7.34990630326855e-04f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-2.95459980854025e-03f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-1.60960333262415e-02f), p, x2);
  p = vmulq_f32(p, x);
  float32x4_t q = vdupq_n_f32(-1.45660718464996e-05f);
  q = vfmaq_f32(vdupq_n_f32(-2.13374055278905e-04f), q, x2);
  q = vfmaq_f32(vdupq_n_f32(-1.68282697438203e-03f), q, x2);
  q = vfmaq_f32(vdupq_n_f32(-7.37332916720468e-03f), q, x2);
  q = vfmaq_f32(vdupq_n_f32(-1.42647390514189e-02f), q, x2);
  const float32x4_t r = div_ps(p, q);
  // The rational slightly exceeds 1 near |x| = 4: clamp so |erf| <= 1 (NaN still propagates).
  return vminq_f32(vdupq_n_f32(1.0f), vmaxq_f32(vdupq_n_f32(-1.0f), r));
}

EDGEINFER_VMNEON_INLINE float32x4_t tanh_ps(float32x4_t x) {
  x = vmaxq_f32(vdupq_n_f32(-7.90531110763549805f), x);
  x = vminq_f32(vdupq_n_f32(7.90531110763549805f), x);
  const float32x4_t x2 = vmulq_f32(x, x);
  float32x4_t p = vdupq_n_f32(-2.76076847742355e-16f);
  p = vfmaq_f32(vdupq_n_f32(2.00018790482477e-13f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(-8.60467152213735e-11f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(5.12229709037114e-08f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(1.48572235717979e-05f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(6.37261928875436e-04f), p, x2);
  p = vfmaq_f32(vdupq_n_f32(4.89352455891786e-03f), p, x2);
  p = vmulq_f32(p, x);
  float32x4_t q = vdupq_n_f32(1.19825839466702e-06f);
  q = vfmaq_f32(vdupq_n_f32(1.18534705686654e-04f), q, x2);
  q = vfmaq_f32(vdupq_n_f32(2.26843463243900e-03f), q, x2);
  q = vfmaq_f32(vdupq_n_f32(4.89352518554385e-03f), q, x2);
  return div_ps(p, q);
}

namespace gelu_detail {
// GELU (erf form) = x Phi(x) = relu(x) - |x| c(|x|) with c(t) = Phi(-t) = 0.5 erfc(t / sqrt 2) (both signs:
// x >= 0 gives x (1 - c), x < 0 gives x c). c(t) = exp(-t^2 / 2) R(t) with R(t) = 0.5 erfcx(t / sqrt 2)
// ~= P(t) / Q(t), a (4, 5) rational fitted for minimax relative error on [0, 13.2]. t is clamped to 13.2 so
// that 2^n stays a normal float (n >= -126); beyond, |gelu| < 1e-38 anyway.
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
constexpr float kTanhT = 10.75f;  // |x| clamp: beyond, exp(-|z|) < 1e-45 (exp_nonpos_ps gives 0 there)

// y, with NaN where x = -inf (the clamps would give -0 or a tiny value there): the all-ones compare mask
// or-ed in is a quiet NaN.
EDGEINFER_VMNEON_INLINE float32x4_t nan_at_neg_inf(float32x4_t y, float32x4_t x) {
  return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(y), vceqq_f32(x, vdupq_n_f32(-__builtin_inff()))));
}

// exp(x) for x <= 0 (or NaN); below about -87.3 the result is 0 (or a denormal) instead of saturating.
EDGEINFER_VMNEON_INLINE float32x4_t exp_nonpos_ps(float32x4_t x) {
  x = vmaxq_f32(vdupq_n_f32(-88.0f), x);  // NaN propagates
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504088896341f)));  // [-127, 0]
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  return vmulq_f32(detail::exp_poly(r), pow2i(n));
}
}  // namespace gelu_detail

// 0.5 x (1 + erf(x / sqrt 2)) = relu(x) - |x| * 0.5 erfc(|x| / sqrt 2); relative error < 1e-6 for every x.
EDGEINFER_VMNEON_INLINE float32x4_t gelu_erf_ps(float32x4_t x) {
  using namespace gelu_detail;
  const float32x4_t t = vminq_f32(vdupq_n_f32(kT), vabsq_f32(x));  // NaN propagates
  const float32x4_t relu = nan_at_neg_inf(vmaxq_f32(vdupq_n_f32(0.0f), x), x);  // -inf -> NaN, off the critical path
  const float32x4_t s = vmulq_f32(t, t);
  const float32x4_t e = vfmaq_f32(vnegq_f32(s), t, t);  // t^2 - s, exact
  const float32x4_t n = vrndnq_f32(vmulq_f32(s, vdupq_n_f32(kMinusHalfLog2e)));  // [-126, 0]
  const float32x4_t rh = vfmsq_f32(vnegq_f32(s), n, vdupq_n_f32(kTwoLn2Hi));  // -s - n 2ln2_hi
  const float32x4_t rl = vfmsq_f32(vnegq_f32(e), n, vdupq_n_f32(kTwoLn2Lo));  // -e - n 2ln2_lo
  const float32x4_t r = vaddq_f32(rh, rl);
  float32x4_t ex = vdupq_n_f32(kE5);
  ex = vfmaq_f32(vdupq_n_f32(kE4), ex, r);
  ex = vfmaq_f32(vdupq_n_f32(kE3), ex, r);
  ex = vfmaq_f32(vdupq_n_f32(kE2), ex, r);
  ex = vfmaq_f32(vdupq_n_f32(kE1), ex, r);
  ex = vfmaq_f32(vdupq_n_f32(1.0f), ex, r);
  float32x4_t p = vdupq_n_f32(kP4);
  p = vfmaq_f32(vdupq_n_f32(kP3), p, t);
  p = vfmaq_f32(vdupq_n_f32(kP2), p, t);
  p = vfmaq_f32(vdupq_n_f32(kP1), p, t);
  p = vfmaq_f32(vdupq_n_f32(kP0), p, t);
  float32x4_t q = vdupq_n_f32(kQ5);
  q = vfmaq_f32(vdupq_n_f32(kQ4), q, t);
  q = vfmaq_f32(vdupq_n_f32(kQ3), q, t);
  q = vfmaq_f32(vdupq_n_f32(kQ2), q, t);
  q = vfmaq_f32(vdupq_n_f32(kQ1), q, t);
  q = vfmaq_f32(vdupq_n_f32(1.0f), q, t);
  // c = 2^n exp(r'/2) P / Q; Q is in [1, 2e3], P / Q in [0.03, 0.5].
  const float32x4_t c = vmulq_f32(div_ps(vmulq_f32(ex, p), q), pow2i(n));
  return vfmsq_f32(relu, t, c);
}

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) = x sigma(z), z = 2 sqrt(2/pi) (x + 0.044715 x^3):
// with a = exp(-|z|), sigma = 1 / (1 + a) for x >= 0 and a / (1 + a) for x < 0 (no cancellation). |z| (up
// to ~100) is carried as a double-float so that exp(-|z|) keeps a relative error of a few 1e-7.
EDGEINFER_VMNEON_INLINE float32x4_t gelu_tanh_ps(float32x4_t x) {
  using namespace gelu_detail;
  const float32x4_t t = vminq_f32(vdupq_n_f32(kTanhT), vabsq_f32(x));
  const float32x4_t sh = vmulq_f32(t, t);
  const float32x4_t sl = vfmaq_f32(vnegq_f32(sh), t, t);
  const float32x4_t ch = vmulq_f32(sh, t);  // t^3 = ch + cl
  const float32x4_t cl = vfmaq_f32(vfmaq_f32(vnegq_f32(ch), sh, t), sl, t);
  const float32x4_t k1h = vdupq_n_f32(kK1Hi), k0h = vdupq_n_f32(kK0Hi);
  const float32x4_t bh = vmulq_f32(ch, k1h);  // k1 t^3 = bh + bl
  const float32x4_t bl = vfmaq_f32(vfmaq_f32(vfmaq_f32(vnegq_f32(bh), ch, k1h), ch, vdupq_n_f32(kK1Lo)), cl, k1h);
  const float32x4_t ah = vmulq_f32(t, k0h);  // k0 t = ah + al
  const float32x4_t al = vfmaq_f32(vfmaq_f32(vnegq_f32(ah), t, k0h), t, vdupq_n_f32(kK0Lo));
  const float32x4_t big = vmaxq_f32(ah, bh), small = vminq_f32(ah, bh);
  const float32x4_t zh = vaddq_f32(big, small);  // |z| = zh + zl (fast two-sum)
  const float32x4_t zl = vaddq_f32(vsubq_f32(small, vsubq_f32(zh, big)), vaddq_f32(al, bl));
  float32x4_t a = exp_nonpos_ps(vnegq_f32(zh));
  a = vfmsq_f32(a, a, zl);  // * exp(-zl) ~ 1 - zl
  const float32x4_t q = vaddq_f32(a, vdupq_n_f32(1.0f));  // [1, 2]
  float32x4_t d = vrecpeq_f32(q);
  d = vmulq_f32(d, vrecpsq_f32(q, d));
  d = vfmaq_f32(d, d, vfmsq_f32(vdupq_n_f32(1.0f), q, d));  // ~1 ulp
  const uint32x4_t neg = vcltq_f32(x, vdupq_n_f32(0.0f));
  const float32x4_t sig = vbslq_f32(neg, vmulq_f32(d, a), d);
  // exp_nonpos_ps flushes to 0 below -87.3, so sig = 0 exactly for x < ~-9.9: x * sig is -0 there and
  // -inf * 0 = NaN for x = -inf (no clamp of x needed); NaN stays NaN.
  return vmulq_f32(x, sig);
}

// ---- IEEE-edged forms for the element-wise ops (Log, Sigmoid); exp_ps above already has IEEE edges.

// log(x) (Cephes logf, as vm256::log_ps; denormals scaled by 2^23 first): ~1 ulp; log(+-0) = -inf,
// log(x < 0) = NaN, log(+inf) = +inf, NaN -> NaN.
EDGEINFER_VMNEON_INLINE float32x4_t log_ps(float32x4_t x) {
  const uint32x4_t tiny = vcltq_f32(x, vdupq_n_f32(1.17549435e-38f));  // denormal (or <= 0)
  const float32x4_t xs = vbslq_f32(tiny, vmulq_f32(x, vdupq_n_f32(8388608.0f)), x);
  const uint32x4_t bits = vreinterpretq_u32_f32(xs);
  float32x4_t e = vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(bits, 23)), vdupq_n_s32(126)));
  e = vsubq_f32(e, vreinterpretq_f32_u32(vandq_u32(tiny, vreinterpretq_u32_f32(vdupq_n_f32(23.0f)))));
  float32x4_t m = vreinterpretq_f32_u32(vorrq_u32(vandq_u32(bits, vdupq_n_u32(0x007fffff)), vdupq_n_u32(0x3f000000)));
  const uint32x4_t small = vcltq_f32(m, vdupq_n_f32(0.707106781186547524f));
  e = vsubq_f32(e, vreinterpretq_f32_u32(vandq_u32(small, vreinterpretq_u32_f32(vdupq_n_f32(1.0f)))));
  m = vaddq_f32(vsubq_f32(m, vdupq_n_f32(1.0f)), vreinterpretq_f32_u32(vandq_u32(small, vreinterpretq_u32_f32(m))));
  const float32x4_t z = vmulq_f32(m, m);
  float32x4_t p = vdupq_n_f32(7.0376836292e-2f);
  p = vfmaq_f32(vdupq_n_f32(-1.1514610310e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(1.1676998740e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(-1.2420140846e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(1.4249322787e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(-1.6668057665e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(2.0000714765e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(-2.4999993993e-1f), p, m);
  p = vfmaq_f32(vdupq_n_f32(3.3333331174e-1f), p, m);
  float32x4_t y = vmulq_f32(vmulq_f32(p, m), z);
  y = vfmaq_f32(y, e, vdupq_n_f32(-2.12194440e-4f));
  y = vfmsq_f32(y, z, vdupq_n_f32(0.5f));
  y = vaddq_f32(m, y);
  y = vfmaq_f32(y, e, vdupq_n_f32(0.693359375f));
  const float32x4_t inf = vdupq_n_f32(__builtin_inff());
  y = vbslq_f32(vceqq_f32(x, inf), inf, y);
  y = vbslq_f32(vceqq_f32(x, vdupq_n_f32(0.0f)), vdupq_n_f32(-__builtin_inff()), y);
  const uint32x4_t not_ge0 = vmvnq_u32(vcgeq_f32(x, vdupq_n_f32(0.0f)));  // x < 0 or NaN
  return vbslq_f32(not_ge0, vdupq_n_f32(__builtin_nanf("")), y);
}

// 1 / (1 + exp(-x)) as a / (1 + a) (x < 0) or 1 / (1 + a) (x >= 0), a = exp(-|x|): no cancellation; the
// reciprocal (estimate + Newton, see div_ps) is forced to 1 where 1 + a == 1, so +inf and large x give
// exactly 1, -inf exactly 0; ~2 ulp. NaN -> NaN.
EDGEINFER_VMNEON_INLINE float32x4_t sigmoid_ps(float32x4_t x) {
  const float32x4_t a = exp_ps(vnegq_f32(vabsq_f32(x)));
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t q = vaddq_f32(a, one);
  const float32x4_t num = vbslq_f32(vcltq_f32(x, vdupq_n_f32(0.0f)), a, one);
  const float32x4_t d = div_ps(num, q);
  return vbslq_f32(vceqq_f32(q, one), num, d);
}

}  // namespace edgeinfer::vmneon
