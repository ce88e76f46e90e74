// The output stage of a QDQ convolution as ONNX Runtime's QLinearConv runs it: level = saturate(round_half_even(
// float(acc + bias_q) * ((x_scale * w_scale) / y_scale)) + y_zero_point), acc the exact integer sum and bias_q
// the model's int32 bias. Our float path (fma(float(acc), x_scale * w_scale, bias) / y_scale) rounds twice more
// and lands on the other level for about one output in a million; in a 50-layer network those flips compound
// into a 1e-4 cosine distance from ORT. With this stage the levels are ORT's own.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "edgeinfer/nn_kernels.h"

namespace edgeinfer::conv_detail {

struct ConvRequantization {
  std::vector<int32_t> bias;        // [out_c]: the int32 bias the model's DequantizeLinear was given
  std::vector<float> multipliers;   // [out_c]: (x_scale * w_scale[oc]) / y_scale, in that order, in float
};

// The stage for a conv with a static activation scale and a fused uint8 output quantization, when the float
// bias it was given is a dequantized int32 one (bias[oc] == float(b) * (x_scale * w_scale[oc]) for an integer b)
// and the activation is none, or Relu with output zero point 0 (then the clamp at level 0 is the Relu).
// max_partial: when the sums are formed in float (exact only below 2^24), the largest |sum| the weights allow
// without the bias; 0 when they are int32. Otherwise nullopt: the caller keeps its float path.
std::optional<ConvRequantization> conv_requantization(int64_t out_c, const float* w_scales, const float* bias,
                                                      const ActivationQuantization& input,
                                                      const OutputQuantization& output, ActivationParams act,
                                                      int64_t max_partial = 0);

}  // namespace edgeinfer::conv_detail
