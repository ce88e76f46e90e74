// Branch-free float math the compiler can vectorise at the baseline ISA (no libm calls in the loop):
// exp, sigmoid, tanh and erf for the element-wise and softmax ops.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace edgeinfer::runtime {

// exp with ~1-2 ulp error (Cephes polynomial); subnormal results are approximated, 0 below -104,
// +inf above 88.72, NaN for NaN. The power of two is applied in two halves so every scale is a normal float.
inline float exp_poly(float x) {
  const float hi = 88.72283935546875f, lo = -104.0f;
  // n from the clamped x (NaN -> lo, so its int conversion stays defined), r from x itself: NaN reaches p
  // and y; x outside [lo, hi] is replaced below.
  const float xc = std::min(hi, std::max(lo, x));
  const float magic = 12582912.0f;  // 1.5 * 2^23: round to nearest integer
  const float n = (xc * 1.44269504088896341f + magic) - magic;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni >> 1, n2 = ni - n1;
  const float s1 = std::bit_cast<float>(static_cast<uint32_t>(n1 + 127) << 23);
  const float s2 = std::bit_cast<float>(static_cast<uint32_t>(n2 + 127) << 23);
  float y = p * s1 * s2;
  y = x > hi ? std::numeric_limits<float>::infinity() : y;
  y = x < lo ? 0.0f : y;
  return y;
}

inline float sigmoid_poly(float x) { return 1.0f / (1.0f + exp_poly(-x)); }

inline float tanh_poly(float x) {
  // Both forms, then a select (no branch, so the loop vectorises): the odd Taylor series for small |x|
  // avoids the cancellation of (1 - t) / (1 + t).
  const float ax = std::fabs(x);
  const float x2 = x * x;
  const float small = x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * -0.0539682540f)));
  const float t = exp_poly(-2.0f * ax);
  const float large = std::copysign((1.0f - t) / (1.0f + t), x);
  return ax < 0.0625f ? small : large;
}

// x P(x^2) / Q(x^2) on |x| <= 4 (Eigen / XLA coefficients, as erf_ps in kernels/common/vector_math_*.h),
// clamped to [-1, 1], +-1 from |x| = 4: relative error < 1e-6 for every x (A&S 7.1.26, used before, is only 1.5e-7 absolute,
// so wrong in relative terms near 0). The clamps are written so NaN passes through.
inline float erf_poly(float x) {
  const float xc = std::min(std::max(x, -4.0f), 4.0f);
  const float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * xc;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  const float r = std::min(std::max(p / q, -1.0f), 1.0f);
  return std::fabs(x) >= 4.0f ? std::copysign(1.0f, x) : r;  // erf rounds to +-1 from |x| ~ 3.92: exact there
}

}  // namespace edgeinfer::runtime
