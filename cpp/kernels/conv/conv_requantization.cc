#include "kernels/conv/conv_requantization.h"

#include <cmath>
#include <cstdlib>

namespace edgeinfer::conv_detail {

std::optional<ConvRequantization> conv_requantization(int64_t out_c, const float* w_scales, const float* bias,
                                                      const ActivationQuantization& input,
                                                      const OutputQuantization& output, ActivationParams act,
                                                      int64_t max_partial) {
  if (input.dynamic || !output.enabled || output.is_signed) return std::nullopt;
  if (!(act.kind == FusedActivation::kNone || (act.kind == FusedActivation::kRelu && output.zero_point == 0)))
    return std::nullopt;
  if (act.out_min > -INFINITY) return std::nullopt;
  constexpr int64_t kExactFloat = int64_t{1} << 24;
  ConvRequantization r;
  r.bias.resize(static_cast<size_t>(out_c));
  r.multipliers.resize(static_cast<size_t>(out_c));
  for (int64_t oc = 0; oc < out_c; ++oc) {
    const float bias_scale = input.scale * w_scales[oc];
    int64_t b = 0;
    if (bias != nullptr && bias[oc] != 0.0f) {
      if (!std::isfinite(bias[oc]) || !(bias_scale > 0.0f)) return std::nullopt;
      const double q = std::nearbyint(static_cast<double>(bias[oc]) / static_cast<double>(bias_scale));
      if (!(std::fabs(q) < static_cast<double>(kExactFloat))) return std::nullopt;
      b = static_cast<int64_t>(q);
      if (static_cast<float>(b) * bias_scale != bias[oc]) return std::nullopt;  // not a dequantized int32
    }
    if (max_partial > 0 && max_partial + std::llabs(b) >= kExactFloat) return std::nullopt;
    const float m = bias_scale / output.scale;
    if (!(std::isfinite(m) && m > 0.0f)) return std::nullopt;
    r.bias[static_cast<size_t>(oc)] = static_cast<int32_t>(b);
    r.multipliers[static_cast<size_t>(oc)] = m;
  }
  return r;
}

}  // namespace edgeinfer::conv_detail
