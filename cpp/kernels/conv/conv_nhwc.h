// Channels-last convolutions (internal): float through the igemm tiles, INT8 in conv_f32.cc's dynamic path.
#pragma once

#include <memory>

#include "edgeinfer/nn_kernels.h"
#include "kernels/conv/conv_shape.h"

namespace edgeinfer::conv_detail {

// half: weights kept as IEEE halves, expanded into scratch per run.
std::unique_ptr<ConvF32> create_conv_nhwc_f32(const Conv2d& c, const float* w, const float* bias, ActivationParams act,
                                              bool half);

}  // namespace edgeinfer::conv_detail
