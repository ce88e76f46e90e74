// QuantizeLinear / DequantizeLinear, per tensor or per axis, through the kernel table (int8 / uint8);
// DequantizeLinear of int32 (biases) in a reference loop; QuantizeDequantize (a Q -> DQ pair: fake
// quantization) through both kernels, chunk by chunk. Zero points are widened to int32 in scratch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeinfer/kernels.h"
#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

// [outer, channels, inner] view; per tensor: channels = 1.
struct QView {
  int64_t outer = 1, channels = 1, inner = 1;
};

QView qview(const TensorSlot& x, const TensorSlot& scale, int64_t axis) {
  QView q;
  if (scale.elements() == 1) {
    q.inner = x.elements();
    return q;
  }
  q.outer = product(x.dims, 0, static_cast<size_t>(axis));
  q.channels = x.dims[static_cast<size_t>(axis)];
  q.inner = product(x.dims, static_cast<size_t>(axis) + 1);
  return q;
}

template <bool kQuantize>
void q_validate(const StepView& v) {
  v.inputs(2, 3);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  const TensorSlot& x = v.in(0);
  const TensorSlot& scale = v.in(1);
  const TensorSlot& y = v.out(0);
  v.dtype_in(1, {DType::kFloat32});
  if constexpr (kQuantize) {
    v.dtype_in(0, {DType::kFloat32});
    v.dtype_out(0, {DType::kUint8, DType::kInt8});
  } else {
    v.dtype_in(0, {DType::kUint8, DType::kInt8, DType::kInt32});
    v.dtype_out(0, {DType::kFloat32});
  }
  v.dims_equal(y.dims, x.dims, "output");
  const TensorSlot& q = kQuantize ? y : x;
  if (v.has_in(2)) {
    v.same_dtype(v.in(2), "zero_point", q, kQuantize ? "output" : "input");
    if (v.in(2).elements() != scale.elements()) v.fail("zero_point and scale have different element counts");
  }
  if (scale.elements() != 1) {
    const int64_t axis = v.axis(v.step().ints[0], x.dims.size(), "axis");
    if (scale.dims.size() != 1 || scale.elements() != x.dims[static_cast<size_t>(axis)])
      v.fail("per-axis scale " + dims_string(scale.dims) + " does not match dim " + std::to_string(axis) + " of " +
             dims_string(x.dims));
  }
}

template <bool kQuantize>
std::unique_ptr<OpState> q_prepare(PrepareContext& ctx, const Step& step) {
  ctx.scratch_bytes = static_cast<size_t>(ctx.plan.tensors[step.inputs[1]].elements()) * sizeof(int32_t);
  ctx.kernel = kernels().quantize->name;
  return nullptr;
}

const int32_t* widen_zero_points(RunContext& ctx, const Step& step, int64_t channels) {
  auto* zp = reinterpret_cast<int32_t*>(ctx.scratch);
  const bool has = step.inputs.size() > 2 && step.inputs[2] >= 0;
  const DType d = has ? ctx.slot(step.inputs[2]).dtype : DType::kUint8;
  for (int64_t c = 0; c < channels; ++c) {
    if (!has) zp[c] = 0;
    else if (d == DType::kUint8) zp[c] = ctx.t<const uint8_t>(step.inputs[2])[c];
    else if (d == DType::kInt8) zp[c] = ctx.t<const int8_t>(step.inputs[2])[c];
    else zp[c] = ctx.t<const int32_t>(step.inputs[2])[c];
  }
  return zp;
}

void quantize_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& x = ctx.slot(step.inputs[0]);
  const TensorSlot& scale = ctx.slot(step.inputs[1]);
  const QView view = qview(x, scale, step.ints[0]);
  QuantizeArgs args;
  args.x = ctx.t<const float>(step.inputs[0]);
  args.y = ctx.ptr[step.outputs[0]];
  args.y_signed = ctx.slot(step.outputs[0]).dtype == DType::kInt8;
  args.outer = view.outer;
  args.channels = view.channels;
  args.inner = view.inner;
  args.scales = ctx.t<const float>(step.inputs[1]);
  args.zero_points = widen_zero_points(ctx, step, view.channels);
  if (view.outer * view.channels * view.inner > 0) kernels().quantize->quantize(args);
}

void dequantize_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& x = ctx.slot(step.inputs[0]);
  const TensorSlot& scale = ctx.slot(step.inputs[1]);
  const QView view = qview(x, scale, step.ints[0]);
  const float* scales = ctx.t<const float>(step.inputs[1]);
  const int32_t* zp = widen_zero_points(ctx, step, view.channels);
  float* y = ctx.t<float>(step.outputs[0]);
  if (view.outer * view.channels * view.inner == 0) return;
  if (x.dtype == DType::kInt32) {
    const int32_t* q = ctx.t<const int32_t>(step.inputs[0]);
    for (int64_t o = 0; o < view.outer; ++o)
      for (int64_t c = 0; c < view.channels; ++c) {
        const int64_t base = (o * view.channels + c) * view.inner;
        for (int64_t i = 0; i < view.inner; ++i)
          y[base + i] = static_cast<float>(static_cast<int64_t>(q[base + i]) - zp[c]) * scales[c];
      }
    return;
  }
  DequantizeArgs args;
  args.q = ctx.ptr[step.inputs[0]];
  args.q_signed = x.dtype == DType::kInt8;
  args.x = y;
  args.outer = view.outer;
  args.channels = view.channels;
  args.inner = view.inner;
  args.scales = scales;
  args.zero_points = zp;
  kernels().quantize->dequantize(args);
}

// ------------------------------------------------------------------ QuantizeDequantize
// y = dequantize(quantize(x)) in the zero point's dtype (uint8 when omitted, as QuantizeLinear): the
// quantized bytes pass through a scratch chunk, so rounding and saturation are exactly the kernels'. An
// optional second output receives those bytes (the levels, for INT8 convs that read them as they are;
// lib/onnx/passes/byte-activations.ts) instead of the scratch chunk.
constexpr int64_t kQdqChunk = 4096;

void qdq_validate(const StepView& v) {
  v.inputs(2, 3);
  v.outputs(1, 2);
  if (v.step().outputs.size() > 1) {
    const DType levels = v.has_in(2) ? v.in(2).dtype : DType::kUint8;
    v.dtype_out(1, {levels});
    v.dims_equal(v.out(1).dims, v.in(0).dims, "levels output");
  }
  v.ints(1);
  v.floats(0);
  const TensorSlot& x = v.in(0);
  const TensorSlot& scale = v.in(1);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_in(1, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  v.dims_equal(v.out(0).dims, x.dims, "output");
  if (v.has_in(2)) {
    v.dtype_in(2, {DType::kUint8, DType::kInt8});
    if (v.in(2).elements() != scale.elements()) v.fail("zero_point and scale have different element counts");
  }
  if (scale.elements() != 1) {
    const int64_t axis = v.axis(v.step().ints[0], x.dims.size(), "axis");
    if (scale.dims.size() != 1 || scale.elements() != x.dims[static_cast<size_t>(axis)])
      v.fail("per-axis scale " + dims_string(scale.dims) + " does not match dim " + std::to_string(axis) + " of " +
             dims_string(x.dims));
  }
}

std::unique_ptr<OpState> qdq_prepare(PrepareContext& ctx, const Step& step) {
  const size_t zero_points = static_cast<size_t>(ctx.plan.tensors[step.inputs[1]].elements()) * sizeof(int32_t);
  ctx.scratch_bytes = (zero_points + 63) / 64 * 64 + kQdqChunk;
  ctx.kernel = kernels().quantize->name;
  return nullptr;
}

void qdq_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& x = ctx.slot(step.inputs[0]);
  const TensorSlot& scale = ctx.slot(step.inputs[1]);
  const QView view = qview(x, scale, step.ints[0]);
  const float* scales = ctx.t<const float>(step.inputs[1]);
  const int32_t* zp = widen_zero_points(ctx, step, view.channels);
  uint8_t* chunk = ctx.scratch + (static_cast<size_t>(view.channels) * sizeof(int32_t) + 63) / 64 * 64;
  const bool is_signed = step.inputs.size() > 2 && step.inputs[2] >= 0 && ctx.slot(step.inputs[2]).dtype == DType::kInt8;
  const float* in = ctx.t<const float>(step.inputs[0]);
  float* out = ctx.t<float>(step.outputs[0]);
  uint8_t* levels = step.outputs.size() > 1 ? ctx.t<uint8_t>(step.outputs[1]) : nullptr;
  const QuantizeVariant* kernel = kernels().quantize;
  for (int64_t o = 0; o < view.outer; ++o)
    for (int64_t c = 0; c < view.channels; ++c) {
      const int64_t base = (o * view.channels + c) * view.inner;
      for (int64_t i = 0; i < view.inner; i += kQdqChunk) {
        uint8_t* bytes = levels != nullptr ? levels + base + i : chunk;
        QuantizeArgs q;
        q.x = in + base + i;
        q.y = bytes;
        q.y_signed = is_signed;
        q.inner = std::min(kQdqChunk, view.inner - i);
        q.scales = scales + c;
        q.zero_points = zp + c;
        kernel->quantize(q);
        DequantizeArgs d;
        d.q = bytes;
        d.q_signed = is_signed;
        d.x = out + base + i;
        d.inner = q.inner;
        d.scales = scales + c;
        d.zero_points = zp + c;
        kernel->dequantize(d);
      }
    }
}

// ------------------------------------------------------------------ DynamicQuantizeLinear
// ONNX DynamicQuantizeLinear (ONNX Runtime's quantize_dynamic writes it before every MatMulInteger): y uint8,
// per tensor, from the range of x widened to include 0: scale = (max - min) / 255, zero point =
// round_half_even(clamp(-min / scale, 0, 255)), y = QuantizeLinear(x, scale, zero point) with the kernel
// table's rounding. All zeros: scale 1 (as ONNX Runtime), y = 0, zero point 0. NaN or inf in x: scale NaN / inf,
// y 0.

void dql_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(3, 3);
  v.ints(0);
  v.floats(0);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_out(0, {DType::kUint8});
  v.dtype_out(1, {DType::kFloat32});
  v.dtype_out(2, {DType::kUint8});
  v.dims_equal(v.out(0).dims, v.in(0).dims, "output");
  if (v.out(1).elements() != 1 || v.out(2).elements() != 1) v.fail("y_scale and y_zero_point must be scalars");
}

std::unique_ptr<OpState> dql_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = kernels().quantize->name;
  return nullptr;
}

void dql_run(RunContext& ctx, const Step& step, const OpState*) {
  const float* x = ctx.t<const float>(step.inputs[0]);
  const int64_t n = ctx.elements(step.inputs[0]);
  float lo = 0.0f, hi = 0.0f;
  bool nan = false;
  for (int64_t i = 0; i < n; ++i) {
    nan |= std::isnan(x[i]);
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  float scale = nan ? std::numeric_limits<float>::quiet_NaN() : (hi - lo) / 255.0f;
  if (scale == 0.0f) scale = 1.0f;  // all zeros: ONNX Runtime reports scale 1 (and every y is the zero point 0)
  int32_t zero_point = 0;
  if (scale > 0.0f && std::isfinite(scale)) zero_point = static_cast<int32_t>(std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f)));
  *ctx.t<float>(step.outputs[1]) = scale;
  *ctx.t<uint8_t>(step.outputs[2]) = static_cast<uint8_t>(zero_point);
  uint8_t* y = ctx.t<uint8_t>(step.outputs[0]);
  if (!(scale > 0.0f) || !std::isfinite(scale)) {
    // A range with NaN / inf: no levels to map to.
    std::fill(y, y + n, uint8_t{0});
    return;
  }
  QuantizeArgs args;
  args.x = x;
  args.y = y;
  args.y_signed = false;
  args.inner = n;
  args.scales = &scale;
  args.zero_points = &zero_point;
  if (n > 0) kernels().quantize->quantize(args);
}

}  // namespace

void register_quantize_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"DynamicQuantizeLinear", &dql_validate, &dql_prepare, &dql_run});
  ops.push_back(OpDef{"QuantizeLinear", &q_validate<true>, &q_prepare<true>, &quantize_run});
  ops.push_back(OpDef{"DequantizeLinear", &q_validate<false>, &q_prepare<false>, &dequantize_run});
  ops.push_back(OpDef{"QuantizeDequantize", &qdq_validate, &qdq_prepare, &qdq_run});
}

}  // namespace edgeinfer::runtime
