// FP32 element-wise maps, portable reference: the definition of every value (NaN / inf included) that the
// ISA variants must reproduce. exp / sigmoid / tanh / erf use the branch-free polynomial forms of
// runtime/ops/vector_math.h (what the runtime ran before the variants existed; the loops still vectorise at
// the baseline ISA); the rest is plain IEEE arithmetic and <cmath>.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "edgeinfer/kernels.h"
#include "kernels/elementwise/elementwise_f32_common.h"
#include "runtime/ops/vector_math.h"

namespace edgeinfer {
namespace {

using runtime::erf_poly;
using runtime::exp_poly;
using runtime::sigmoid_poly;
using runtime::tanh_poly;

template <UnaryF32 U>
inline float unary_value(float x, float p0, float p1) {
  if constexpr (U == UnaryF32::kRelu) return x < 0.0f ? 0.0f : x;  // NaN stays NaN, -0 stays -0 (ONNX Runtime)
  else if constexpr (U == UnaryF32::kLeakyRelu) return x >= 0.0f ? x : x * p0;
  else if constexpr (U == UnaryF32::kClip) return std::min(std::max(x, p0), p1);  // NaN x kept, NaN bound ignored
  else if constexpr (U == UnaryF32::kNeg) return -x;
  else if constexpr (U == UnaryF32::kAbs) return std::fabs(x);
  else if constexpr (U == UnaryF32::kFloor) return std::floor(x);
  else if constexpr (U == UnaryF32::kCeil) return std::ceil(x);
  else if constexpr (U == UnaryF32::kSqrt) return std::sqrt(x);
  else if constexpr (U == UnaryF32::kReciprocal) return 1.0f / x;
  else if constexpr (U == UnaryF32::kExp) return exp_poly(x);
  else if constexpr (U == UnaryF32::kLog) return std::log(x);
  else if constexpr (U == UnaryF32::kSigmoid) return sigmoid_poly(x);
  else if constexpr (U == UnaryF32::kTanh) return tanh_poly(x);
  else if constexpr (U == UnaryF32::kHardSigmoid || U == UnaryF32::kHardSwish) {
    const float v = p0 * x + p1;
    const float h = v > 1.0f ? 1.0f : v < 0.0f ? 0.0f : v;  // NaN stays NaN, -0 stays -0
    return U == UnaryF32::kHardSwish ? x * h : h;
  }
  else return erf_poly(x);
}

template <BinaryF32 B>
inline float binary_value(float a, float b) {
  if constexpr (B == BinaryF32::kAdd) return a + b;
  else if constexpr (B == BinaryF32::kSub) return a - b;
  else if constexpr (B == BinaryF32::kMul) return a * b;
  else return a / b;
}

template <UnaryF32 U>
void unary_loop(const float* x, float* y, int64_t n, float p0, float p1) {
  for (int64_t i = 0; i < n; ++i) y[i] = unary_value<U>(x[i], p0, p1);
}

void unary(UnaryF32 op, const float* x, float* y, int64_t n, float p0, float p1) {
  elementwise_detail::dispatch_unary(op, [&](auto u) { unary_loop<decltype(u)::value>(x, y, n, p0, p1); });
}

template <BinaryF32 B>
void binary_loop(const float* a, int64_t as, const float* b, int64_t bs, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = binary_value<B>(a[i * as], b[i * bs]);
}

void binary(BinaryF32 op, const float* a, int64_t as, const float* b, int64_t bs, float* y, int64_t n) {
  elementwise_detail::dispatch_binary(op, [&](auto bt) { binary_loop<decltype(bt)::value>(a, as, b, bs, y, n); });
}

void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * n;
    float* yr = y + r * n;
    float m = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) m = xr[i] > m ? xr[i] : m;
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) {
      const float e = exp_poly(xr[i] - m);
      if (!log_softmax) yr[i] = e;
      sum += e;
    }
    if (log_softmax) {
      const float shift = m + std::log(sum);
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - shift;
    } else {
      const float scale = 1.0f / sum;
      for (int64_t i = 0; i < n; ++i) yr[i] *= scale;
    }
  }
}

// max(acc, x) that is NaN when either is NaN (a window holding a NaN pools to NaN).
inline float max_nan(float acc, float x) { return (acc > x || acc != acc) ? acc : x; }

void pool_taps(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max) {
  const float start = max ? -std::numeric_limits<float>::infinity() : 0.0f;
  for (int64_t j = 0; j < n; ++j) y[j] = start;
  for (int64_t t = 0; t < taps; ++t) {
    const float* xt = x + offsets[t];
    if (max)
      for (int64_t j = 0; j < n; ++j) y[j] = max_nan(y[j], xt[j]);
    else
      for (int64_t j = 0; j < n; ++j) y[j] += xt[j];
  }
}

}  // namespace

extern const ElementwiseF32Variant kElementwiseF32Ref{"f32_velementwise__ref", Isa::kRef, &unary, &binary, &softmax_rows, &pool_taps};

}  // namespace edgeinfer
