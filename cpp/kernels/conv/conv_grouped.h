// Grouped convolutions with few channels per group (internal), NCHW.
#pragma once

#include <memory>

#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "kernels/conv/conv_shape.h"

namespace edgeinfer::conv_detail {

// Whether the direct kernel below beats one small GEMM per group (bench_conv grouped-* cases).
bool grouped_direct_f32_fits(const Conv2d& c);

// Direct grouped convolution through the gconv_f32 rows; variant: the table's choice when null.
std::unique_ptr<ConvF32> create_conv_grouped_f32(const Conv2d& c, const float* w, const float* bias,
                                                 ActivationParams act, const GConvF32Variant* variant = nullptr);

// The GEMM-per-group float convolution (conv_f32.cc), for tests and benchmarks to compare against.
std::unique_ptr<ConvF32> create_conv_gemm_f32(const Conv2d& c, const float* w, const float* bias, ActivationParams act);

}  // namespace edgeinfer::conv_detail
