// Conv / pooling window attributes shared by linear.cc and pool.cc: spatial rank, kernel / strides / pads /
// dilations from the ints, and the output size formula (floor or ceil mode).
#pragma once

#include <string>

#include "runtime/executor.h"

namespace edgeinfer::runtime {
inline int spatial_rank(const StepView& v) {
  const size_t rank = v.in(0).dims.size();
  if (rank != 3 && rank != 4) v.fail("input must be [N, C, W] or [N, C, H, W], got " + dims_string(v.in(0).dims));
  return static_cast<int>(rank) - 2;
}

// Reads kernel/strides/pads/dilations at ints[first..] into a ConvShape (after checks).
inline void read_window(const StepView& v, size_t first, int r, ConvShape& shape) {
  const auto& ints = v.step().ints;
  for (int i = 0; i < r; ++i) {
    shape.kernel[i] = ints[first + static_cast<size_t>(i)];
    shape.stride[i] = ints[first + static_cast<size_t>(r + i)];
    shape.pad_begin[i] = ints[first + static_cast<size_t>(2 * r + i)];
    shape.pad_end[i] = ints[first + static_cast<size_t>(3 * r + i)];
    shape.dilation[i] = ints[first + static_cast<size_t>(4 * r + i)];
    constexpr int64_t kLimit = int64_t{1} << 24;
    if (shape.kernel[i] < 1 || shape.kernel[i] > kLimit) v.fail("kernel size " + std::to_string(shape.kernel[i]) + " is out of range");
    if (shape.stride[i] < 1 || shape.stride[i] > kLimit) v.fail("stride " + std::to_string(shape.stride[i]) + " is out of range");
    if (shape.dilation[i] < 1 || shape.dilation[i] > kLimit) v.fail("dilation " + std::to_string(shape.dilation[i]) + " is out of range");
    if (shape.pad_begin[i] < 0 || shape.pad_begin[i] > kLimit || shape.pad_end[i] < 0 || shape.pad_end[i] > kLimit)
      v.fail("pads are out of range");
  }
}

// floor((in + pads - effective kernel) / stride) + 1, or -1 when the window does not fit.
inline int64_t window_output(int64_t in, int64_t pb, int64_t pe, int64_t kernel, int64_t stride, int64_t dilation, bool ceil_mode) {
  const int64_t span = in + pb + pe - (dilation * (kernel - 1) + 1);
  if (span < 0) return -1;
  int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pb) --out;  // the last window must start inside input + begin pad
  return out;
}

}  // namespace edgeinfer::runtime
