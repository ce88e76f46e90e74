// Conv / pooling window attributes shared by linear.cc, qlinear.cc and pool.cc: spatial rank, kernel / strides /
// pads / dilations from the ints, the output size formula (floor or ceil mode) and a conv step's whole shape.
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

// ConvNhwc* and QLinearConvNhwc steps: X [N, (H,) W, C] and Y [N, (OH,) OW, OC]; weights keep the ONNX
// [OC, C / group, kernel...].
inline bool channels_last_conv(const Step& step) { return step.op.starts_with("ConvNhwc") || step.op == "QLinearConvNhwc"; }

// The conv shape of a step with X at input 0, W at input w_index, ints [group, act, window...]; checks the
// weights' dims, the channels and the output dims against it.
inline void fill_conv_shape(const StepView& v, size_t w_index, ConvShape& shape) {
  const int r = spatial_rank(v);
  const TensorSlot& x = v.in(0);
  const TensorSlot& w = v.in(w_index);
  const auto& ints = v.step().ints;
  const bool last = channels_last_conv(v.step());
  const size_t spatial0 = last ? 1 : 2;  // first spatial dim of X / Y
  shape.rank = r;
  shape.channels_last = last;
  shape.batch = x.dims[0];
  shape.in_channels = last ? x.dims[static_cast<size_t>(r + 1)] : x.dims[1];
  shape.group = ints[0];
  if (shape.group < 1) v.fail("group must be >= 1");
  read_window(v, 2, r, shape);
  if (w.dims.size() != static_cast<size_t>(r + 2)) v.fail("weights must have rank " + std::to_string(r + 2));
  shape.out_channels = w.dims[0];
  if (shape.in_channels % shape.group != 0 || shape.out_channels % shape.group != 0)
    v.fail("channels " + std::to_string(shape.in_channels) + " -> " + std::to_string(shape.out_channels) +
           " are not divisible by group " + std::to_string(shape.group));
  if (w.dims[1] != shape.in_channels / shape.group)
    v.fail("weights " + dims_string(w.dims) + " do not match " + std::to_string(shape.in_channels) + " input channels / group " +
           std::to_string(shape.group));
  if (last && shape.group != 1 && !(shape.group == shape.in_channels && shape.group == shape.out_channels))
    v.fail("channels-last convolutions take group 1 or one channel per group (depthwise)");
  std::vector<int64_t> out = {shape.batch};
  if (!last) out.push_back(shape.out_channels);
  for (int i = 0; i < r; ++i) {
    if (w.dims[static_cast<size_t>(2 + i)] != shape.kernel[i]) v.fail("kernel attribute differs from the weights' dims");
    shape.in_size[i] = x.dims[spatial0 + static_cast<size_t>(i)];
    const int64_t o = window_output(shape.in_size[i], shape.pad_begin[i], shape.pad_end[i], shape.kernel[i], shape.stride[i],
                                    shape.dilation[i], false);
    if (o < 1) v.fail("the kernel does not fit the padded input along spatial axis " + std::to_string(i));
    shape.out_size[i] = o;
    out.push_back(o);
  }
  if (last) out.push_back(shape.out_channels);
  v.dims_equal(v.out(0).dims, out, "output");
}

}  // namespace edgeinfer::runtime
