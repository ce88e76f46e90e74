// MaxPool / AveragePool through pool_f32 (nn_kernels.h), GlobalAveragePool / GlobalMaxPool in reference
// loops. Output sizes come from the plan; floor and ceil mode are both accepted.
#include <cmath>
#include <limits>

#include "runtime/executor.h"
#include "runtime/ops/window.h"

namespace edgeinfer::runtime {
namespace {

// ------------------------------------------------------------------ pooling
// MaxPoolNhwc / AveragePoolNhwc: X [N, (H,) W, C] -> Y [N, (OH,) OW, C].
void fill_pool_shape(const StepView& v, PoolShape& shape) {
  const int r = spatial_rank(v);
  const TensorSlot& x = v.in(0);
  const bool last = v.step().op.ends_with("Nhwc");
  const size_t spatial0 = last ? 1 : 2, channel_dim = last ? static_cast<size_t>(r + 1) : 1;
  shape.rank = r;
  shape.channels_last = last;
  shape.batch = x.dims[0];
  shape.in_channels = shape.out_channels = shape.group = x.dims[channel_dim];
  shape.max = v.step().op.starts_with("MaxPool");
  const int64_t cip = v.step().ints[0];
  if (cip != 0 && cip != 1) v.fail("count_include_pad must be 0 or 1");
  shape.count_include_pad = cip != 0;
  read_window(v, 1, r, shape);
  std::vector<int64_t> expected = {shape.batch, shape.in_channels};
  const auto& out = v.out(0).dims;
  if (out.size() != static_cast<size_t>(r + 2) || out[0] != shape.batch || out[channel_dim] != shape.in_channels)
    v.fail("output " + dims_string(out) + " does not match input " + dims_string(x.dims));
  for (int i = 0; i < r; ++i) {
    shape.in_size[i] = x.dims[spatial0 + static_cast<size_t>(i)];
    const int64_t effective = shape.dilation[i] * (shape.kernel[i] - 1) + 1;
    if (shape.pad_begin[i] >= effective || shape.pad_end[i] >= effective) v.fail("pads must be smaller than the kernel");
    const int64_t lo = window_output(shape.in_size[i], shape.pad_begin[i], shape.pad_end[i], shape.kernel[i], shape.stride[i],
                                     shape.dilation[i], false);
    const int64_t hi = window_output(shape.in_size[i], shape.pad_begin[i], shape.pad_end[i], shape.kernel[i], shape.stride[i],
                                     shape.dilation[i], true);
    const int64_t o = out[spatial0 + static_cast<size_t>(i)];
    if (lo < 1 || o < lo || o > hi)
      v.fail("output size " + std::to_string(o) + " along spatial axis " + std::to_string(i) + " is not " +
             std::to_string(lo) + (hi != lo ? " or " + std::to_string(hi) : std::string()));
    shape.out_size[i] = o;
  }
}

void pool_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  const int r = spatial_rank(v);
  v.ints(1 + 5 * static_cast<size_t>(r));
  v.floats(0);
  // MaxPoolNhwc also pools uint8 levels (an INT8 conv's output; lib/onnx/passes/byte-activations.ts).
  v.dtype_in(0, v.step().op == "MaxPoolNhwc" ? std::initializer_list<DType>{DType::kFloat32, DType::kUint8}
                                             : std::initializer_list<DType>{DType::kFloat32});
  v.same_dtype(v.out(0), "output", v.in(0), "input");
  PoolShape shape;
  fill_pool_shape(v, shape);
}

struct PoolState : OpState {
  PoolShape shape;
  bool levels = false;  // uint8 in and out
};

std::unique_ptr<OpState> pool_prepare(PrepareContext& ctx, const Step& step) {
  StepView v(ctx.plan, step, step.name);
  auto s = std::make_unique<PoolState>();
  fill_pool_shape(v, s->shape);
  s->levels = ctx.plan.tensors[static_cast<size_t>(step.inputs[0])].dtype == DType::kUint8;
  ctx.kernel = s->levels ? "u8_maxpool_nhwc"
               : s->shape.channels_last ? (s->shape.max ? "f32_maxpool_nhwc" : "f32_avgpool_nhwc")
                                        : (s->shape.max ? "f32_maxpool" : "f32_avgpool");
  return s;
}

void pool_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const PoolState*>(state);
  if (ctx.elements(step.outputs[0]) == 0) return;
  if (s.levels) max_pool_u8_nhwc(s.shape, ctx.t<const uint8_t>(step.inputs[0]), ctx.t<uint8_t>(step.outputs[0]));
  else pool_f32(s.shape, ctx.t<const float>(step.inputs[0]), ctx.t<float>(step.outputs[0]));
}

void global_pool_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  const auto& x = v.in(0).dims;
  if (x.size() < 3) v.fail("input must be [N, C, spatial...]");
  std::vector<int64_t> out = {x[0], x[1]};
  out.resize(x.size(), 1);
  v.dims_equal(v.out(0).dims, out, "output");
}

template <bool kMax>
void global_pool_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& x = ctx.slot(step.inputs[0]);
  const int64_t planes = x.dims[0] * x.dims[1];
  const int64_t size = product(x.dims, 2);
  const float* in = ctx.t<const float>(step.inputs[0]);
  float* out = ctx.t<float>(step.outputs[0]);
  for (int64_t p = 0; p < planes; ++p) {
    const float* row = in + p * size;
    if constexpr (kMax) {
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t i = 0; i < size; ++i) m = ((row[i] > m) | (row[i] != row[i])) ? row[i] : m;  // NaN propagates
      out[p] = m;
    } else {
      float sum = 0.0f;
      for (int64_t i = 0; i < size; ++i) sum += row[i];
      out[p] = size > 0 ? sum / static_cast<float>(size) : std::numeric_limits<float>::quiet_NaN();
    }
  }
}

}  // namespace

void register_pool_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"MaxPool", &pool_validate, &pool_prepare, &pool_run});
  ops.push_back(OpDef{"AveragePool", &pool_validate, &pool_prepare, &pool_run});
  ops.push_back(OpDef{"MaxPoolNhwc", &pool_validate, &pool_prepare, &pool_run});
  ops.push_back(OpDef{"AveragePoolNhwc", &pool_validate, &pool_prepare, &pool_run});
  ops.push_back(OpDef{"GlobalAveragePool", &global_pool_validate, nullptr, &global_pool_run<false>});
  ops.push_back(OpDef{"GlobalMaxPool", &global_pool_validate, nullptr, &global_pool_run<true>});
}

}  // namespace edgeinfer::runtime
