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

}  // namespace edgeinfer::conv_detail
