// Portable reference for LayerNorm (+ fused GELU) and GELU: the definition of correct. Everything is
// computed in double (two-pass mean / population variance, std::erf / std::tanh) and rounded to float once.
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "edgeinfer/kernels.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"

namespace edgeinfer {
namespace {

// gelu(-inf) = NaN, as the formula gives it (-inf * 0) and as ONNX Runtime returns it (Gelu, both forms,
// and the exported x * 0.5 * (1 + erf(x / sqrt 2)) graph); gelu(+inf) = +inf; gelu(NaN) = NaN.
// Both forms are evaluated without cancellation for x < 0, where 1 + erf / 1 + tanh would lose everything
// in double too once the result drops below ~1e-16 |x|:
//   0.5 x (1 + erf(x / sqrt 2))  = 0.5 x erfc(-x / sqrt 2),
//   0.5 x (1 + tanh(z / 2))      = x / (1 + exp(-z)) = x exp(z) / (1 + exp(z)).
double gelu_erf_ref(double x) {
  if (std::isinf(x)) return x > 0 ? x : std::numeric_limits<double>::quiet_NaN();
  return 0.5 * x * std::erfc(-x * 0.70710678118654752440);
}

double gelu_tanh_ref(double x) {
  if (std::isinf(x)) return x > 0 ? x : std::numeric_limits<double>::quiet_NaN();
  const double z = 2.0 * 0.79788456080286535588 * (x + 0.044715 * x * x * x);  // 2 sqrt(2 / pi) (...)
  if (z >= 0) return x / (1.0 + std::exp(-z));
  const double a = std::exp(z);
  return x * a / (1.0 + a);
}

// v, or +-inf where rounding it to float would overflow (|v| >= FLT_MAX + half an ulp).
double float_overflow(double v) {
  constexpr double kOverflow = 0x1.ffffffp127;
  return std::fabs(v) >= kOverflow ? std::copysign(std::numeric_limits<double>::infinity(), v) : v;
}

double activate(double v, Activation act) {
  switch (act) {
    case Activation::kGeluErf: return gelu_erf_ref(v);
    case Activation::kGeluTanh: return gelu_tanh_ref(v);
    default: return v;
  }
}

void layer_norm_ref(const LayerNormArgs& a) {
  layernorm_detail::check_args(a);
  if (a.rows == 0 || a.width == 0) return;
  const int64_t w = a.width;
  std::vector<double> row(static_cast<size_t>(w));  // y may alias x: read the whole row first
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * w;
    float* y = a.y + r * w;
    double sum = 0.0;
    for (int64_t i = 0; i < w; ++i) {
      row[i] = x[i];
      sum += row[i];
    }
    // Non-finite values: a NaN or inf in the row makes the mean NaN / inf and the whole row NaN. Huge finite
    // rows keep a finite mean (double here; the float variants redo an overflowed sum in double), but the
    // sum of squared deviations and a deviation overflow in float past FLT_MAX like the float variants'
    // (rstd = 0, y = beta, or inf * 0 = NaN for an overflowed deviation): emulated.
    const double mean = sum / static_cast<double>(w);
    double sq = 0.0;
    for (int64_t i = 0; i < w; ++i) sq += (row[i] - mean) * (row[i] - mean);
    sq = float_overflow(sq);
    const double var = sq / static_cast<double>(w);
    const double rstd = 1.0 / std::sqrt(var + static_cast<double>(a.epsilon));
    for (int64_t i = 0; i < w; ++i) {
      double v = float_overflow(row[i] - mean) * rstd;
      if (a.gamma) v *= static_cast<double>(a.gamma[i]);
      if (a.beta) v += static_cast<double>(a.beta[i]);
      y[i] = static_cast<float>(activate(v, a.activation));
    }
  }
}

void gelu_ref(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  for (int64_t i = 0; i < a.n; ++i) {
    const double v = a.x[i];
    a.y[i] = static_cast<float>(a.tanh_approximation ? gelu_tanh_ref(v) : gelu_erf_ref(v));
  }
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluRef;
const LayerNormGeluVariant kLayerNormGeluRef = {"f32_layernorm_gelu__ref", Isa::kRef, layer_norm_ref, gelu_ref};

}  // namespace edgeinfer
