// Depthwise convolutions (internal): in_channels / group == 1; NCHW with any channel multiplier, NHWC with 1.
#pragma once

#include <memory>

#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "kernels/conv/conv_shape.h"

namespace edgeinfer::conv_detail {

// variant: the table's choice when null (tests pass each compiled variant).
std::unique_ptr<ConvF32> create_conv_depthwise_f32(const Conv2d& c, const float* w, const float* bias,
                                                   ActivationParams act, const DwConvF32Variant* variant = nullptr);

// Channels-last (NHWC / NWC) depthwise, multiplier 1 (in_channels == out_channels == group).
std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_f32(const Conv2d& c, const float* w, const float* bias,
                                                        ActivationParams act, const DwConvF32Variant* variant = nullptr);

// INT8 (QDQ) depthwise: w int8 [out_c][taps], w_scales [out_c] (one per output channel), the GEMM path's numerics.
std::unique_ptr<ConvF32> create_conv_depthwise_s8(const Conv2d& c, const int8_t* w, const float* w_scales,
                                                  const float* bias, ActivationParams act,
                                                  ActivationQuantization quantization,
                                                  const DwConvS8Variant* variant = nullptr);

// The integer form of the channels-last depthwise conv for QDQ models: x as uint8 levels (read as level -
// x_zero_point), w and bias integers held as floats, so the sums are exact integers (below 2^24: the caller's
// bound). With multipliers (non-null) each output is requantized in the epilogue (DwConvNhwcF32Pixels:
// ORT's level, stored as a byte (y_levels) or dequantized with y_scale); without, the sums themselves.
// run_quantized(levels, floats or levels).
std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_levels(const Conv2d& c, const float* w, const float* bias,
                                                           int32_t x_zero_point, const float* multipliers,
                                                           int32_t y_zero_point, float y_scale, bool y_levels,
                                                           const DwConvF32Variant* variant = nullptr);

// INT8 (QDQ) channels-last depthwise, multiplier 1: static activation quantization, ORT's output stage when the
// output quantization is fused (conv_depthwise_nhwc_s8.cc). Input / output may be uint8 levels.
std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_s8(const Conv2d& c, const int8_t* w, const float* w_scales,
                                                       const float* bias, ActivationParams act,
                                                       ActivationQuantization input, OutputQuantization output);

}  // namespace edgeinfer::conv_detail
