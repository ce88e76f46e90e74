// QLinearMatMul / QLinearGemm / QLinearConv: the INT8 ops of QDQ models (plan.h). The model's int8 weights
// (uint8 ones with zero point 128 are shifted to int8 here) and scales are packed once through nn_kernels.h
// (GemmF32 / ConvF32 create_quantized); activations are quantized with the model's fixed scale and zero
// point, or per call from their min / max when the model gives none. Validation reads the constants, so a
// plan the kernels cannot run exactly as the QDQ graph computes is rejected before prepare.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "runtime/executor.h"
#include "runtime/ops/window.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::runtime {
namespace {

// Input positions, shared by the three ops; QLinearConvNhwc may add the output's fused QuantizeLinear ->
// DequantizeLinear parameters (y_scale, y_zero_point?).
enum QInput : size_t { kX = 0, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint, kBias, kInputCount, kYScale = kInputCount, kYZeroPoint, kNhwcInputCount };

template <typename T>
const T* constant_data(const TensorSlot& slot) {
  return reinterpret_cast<const T*>(slot.constant->data());
}

float float_value(const TensorSlot& slot, int64_t i) {
  float value;
  std::memcpy(&value, slot.constant->data() + i * 4, 4);
  return value;
}

// A zero point as an int32 (uint8 or int8 element i).
int32_t zero_point_value(const TensorSlot& slot, int64_t i) {
  return slot.dtype == DType::kUint8 ? int32_t{constant_data<uint8_t>(slot)[i]} : int32_t{constant_data<int8_t>(slot)[i]};
}

// The checks all three ops share. out_axis / out_channels: the weights' output-channel axis and its size;
// w_axis: the plan's w_axis attribute; bias_may_be_scalar: Gemm's c may be one value.
void validate_quantization(const StepView& v, int64_t out_axis, int64_t out_channels, int64_t w_axis, bool bias_may_be_scalar) {
  const TensorSlot& w = v.in(kW);
  v.axis(w_axis, w.dims.size(), "w_axis");

  // Activation: both parameters (static), only the scale (zero point 0, uint8), or neither (dynamic).
  if (v.has_in(kXZeroPoint) && !v.has_in(kXScale)) v.fail("an activation zero point without a scale");
  if (v.has_in(kXScale)) {
    if (!v.is_constant(kXScale)) v.fail("the activation scale must be a constant");
    v.dtype_in(kXScale, {DType::kFloat32});
    if (v.in(kXScale).elements() != 1) v.fail("the activation scale must be one value (per tensor)");
    const float s = float_value(v.in(kXScale), 0);
    if (!(std::isfinite(s) && s > 0.0f)) v.fail("the activation scale must be finite and positive");
  }
  if (v.has_in(kXZeroPoint)) {
    if (!v.is_constant(kXZeroPoint)) v.fail("the activation zero point must be a constant");
    v.dtype_in(kXZeroPoint, {DType::kUint8, DType::kInt8});
    if (v.in(kXZeroPoint).elements() != 1) v.fail("the activation zero point must be one value (per tensor)");
  }

  // Weights: per tensor or per output channel, symmetric.
  const TensorSlot& scale = v.in(kWScale);
  if (!v.is_constant(kWScale)) v.fail("the weight scale must be a constant");
  v.dtype_in(kWScale, {DType::kFloat32});
  const int64_t scales = scale.elements();
  if (scales != 1 && !(scales == out_channels && scale.dims.size() == 1 && w_axis == out_axis))
    v.fail("weight scales " + dims_string(scale.dims) + " along axis " + std::to_string(w_axis) +
           " are neither per tensor nor per output channel (axis " + std::to_string(out_axis) + " of " + dims_string(w.dims) + ")");
  for (int64_t i = 0; i < scales; ++i) {
    const float s = float_value(scale, i);
    if (!(std::isfinite(s) && s > 0.0f)) v.fail("weight scales must be finite and positive");
  }
  // int8 weights with zero point 0, or uint8 with 128 (shifted to int8 at prepare); other zero points would
  // need a per-column correction the INT8 GEMM does not make.
  const int32_t symmetric = w.dtype == DType::kInt8 ? 0 : 128;
  if (v.has_in(kWZeroPoint)) {
    const TensorSlot& zp = v.in(kWZeroPoint);
    if (!v.is_constant(kWZeroPoint)) v.fail("the weight zero point must be a constant");
    v.same_dtype(zp, "weight zero point", w, "weights");
    if (zp.elements() != scales) v.fail("weight zero point and scale have different element counts");
    for (int64_t i = 0; i < zp.elements(); ++i)
      if (zero_point_value(zp, i) != symmetric)
        edgeinfer::fail(ErrorCode::kUnsupportedOp, v.where() + ": " + dtype_name(w.dtype) + " weights need zero point " +
                                                       std::to_string(symmetric) + ", got " + std::to_string(zero_point_value(zp, i)));
  } else if (symmetric != 0) {
    edgeinfer::fail(ErrorCode::kUnsupportedOp, v.where() + ": uint8 weights need zero point 128, got none (0)");
  }

  if (v.has_in(kBias)) {
    const TensorSlot& bias = v.in(kBias);
    if (!v.is_constant(kBias)) v.fail("the bias must be a constant");
    v.dtype_in(kBias, {DType::kFloat32});
    const bool row = bias.dims.size() <= 1 || (bias.dims.size() == 2 && bias.dims[0] == 1);
    if (!row || !(bias.elements() == out_channels || (bias_may_be_scalar && bias.elements() == 1)))
      v.fail("bias " + dims_string(bias.dims) + " is not one value per output channel (" + std::to_string(out_channels) + ")");
    for (int64_t i = 0; i < bias.elements(); ++i)
      if (!std::isfinite(float_value(bias, i))) v.fail("bias values must be finite");
  }
}

// Counts, dtypes of x / y and the weights' storage, before any shape is read from them. QLinearConvNhwc may
// read and write uint8 levels (an INT8 conv's output handed to the next one): checked in qconv_validate.
void validate_common(const StepView& v) {
  const bool nhwc = v.step().op == "QLinearConvNhwc";
  v.inputs(kInputCount, nhwc ? kNhwcInputCount : kInputCount);
  v.outputs(1, 1);
  if (nhwc) {
    v.dtype_in(kX, {DType::kFloat32, DType::kUint8});
    v.dtype_out(0, {DType::kFloat32, DType::kUint8});
  } else {
    v.dtype_in(kX, {DType::kFloat32});
    v.dtype_out(0, {DType::kFloat32});
  }
  if (!v.is_constant(kW)) v.fail("the weights must be a constant");
  v.dtype_in(kW, {DType::kInt8, DType::kUint8});
  if (v.in(kW).elements() <= 0) v.fail("the weights are empty");
  v.in(kWScale);
}

// What prepare reads from the constants: int8 weights, scales (times alpha), activation quantization.
struct QuantizedConstants {
  std::vector<int8_t> weights;
  std::vector<float> scales;
  ActivationQuantization activation;
};

QuantizedConstants read_constants(const Plan& plan, const Step& step, float alpha) {
  const auto slot = [&](size_t i) -> const TensorSlot& { return plan.tensors[static_cast<size_t>(step.inputs[i])]; };
  const auto has = [&](size_t i) { return step.inputs[i] >= 0; };
  QuantizedConstants c;
  const TensorSlot& w = slot(kW);
  c.weights.resize(static_cast<size_t>(w.elements()));
  if (w.dtype == DType::kInt8) {
    std::memcpy(c.weights.data(), w.constant->data(), c.weights.size());
  } else {
    const uint8_t* u = constant_data<uint8_t>(w);
    for (size_t i = 0; i < c.weights.size(); ++i) c.weights[i] = static_cast<int8_t>(int32_t{u[i]} - 128);
  }
  const TensorSlot& scale = slot(kWScale);
  for (int64_t i = 0; i < scale.elements(); ++i) c.scales.push_back(alpha * float_value(scale, i));
  if (has(kXScale)) {
    c.activation.dynamic = false;
    c.activation.scale = float_value(slot(kXScale), 0);
    // uint8 data throughout: an int8 zero point z quantizes to the same levels as uint8 with z + 128.
    if (has(kXZeroPoint)) {
      const TensorSlot& zp = slot(kXZeroPoint);
      c.activation.zero_point = zero_point_value(zp, 0) + (zp.dtype == DType::kInt8 ? 128 : 0);
    }
  }
  return c;
}

QuantizedWeightsS8 weights_view(const QuantizedConstants& c) {
  QuantizedWeightsS8 w;
  w.data = c.weights.data();
  w.scales = c.scales.data();
  w.scale_count = static_cast<int64_t>(c.scales.size());
  return w;
}

const float* bias_data(const Plan& plan, const Step& step) {
  return step.inputs[kBias] >= 0 ? constant_data<float>(plan.tensors[static_cast<size_t>(step.inputs[kBias])]) : nullptr;
}

// ------------------------------------------------------------------ QLinearMatMul: x [..., K] · w [K, N]
// ints = [act, w_axis] or [act, w_axis, onnx_range]; floats = [act params...]. onnx_range 1 (dynamic activations
// only): quantize them with DynamicQuantizeLinear's parameters, as the quantize_dynamic graph this came from.
bool onnx_range(const Step& step) { return step.ints.size() > 2 && step.ints[2] == 1; }

void qmatmul_validate(const StepView& v) {
  validate_common(v);
  validate_activation(v, 0, 0, true);
  if (v.step().ints.size() != 2 && v.step().ints.size() != 3) v.fail("ints must be [act, w_axis] or [act, w_axis, onnx_range]");
  if (v.step().ints.size() == 3 && v.step().ints[2] != 0 && v.step().ints[2] != 1) v.fail("onnx_range must be 0 or 1");
  if (onnx_range(v.step()) && v.has_in(kXScale)) v.fail("onnx_range applies to dynamic activations (no x_scale)");
  const auto& x = v.in(kX).dims;
  const auto& w = v.in(kW).dims;
  if (x.empty()) v.fail("x must have rank >= 1");
  if (w.size() != 2) v.fail("the weights must be 2-D, got " + dims_string(w));
  if (x.back() != w[0]) v.fail("inner dimensions differ: x " + dims_string(x) + ", w " + dims_string(w));
  std::vector<int64_t> out(x.begin(), x.end() - 1);
  out.push_back(w[1]);
  v.dims_equal(v.out(0).dims, out, "output");
  validate_quantization(v, 1, w[1], v.step().ints[1], false);
}

struct QGemmState : OpState {
  std::unique_ptr<GemmF32> gemm;
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false;
  size_t transpose_bytes = 0;  // scratch for x^T ahead of the kernel's own (Gemm transA)
};

std::unique_ptr<OpState> qmatmul_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& w = ctx.plan.tensors[static_cast<size_t>(step.inputs[kW])];
  auto s = std::make_unique<QGemmState>();
  s->k = w.dims[0];
  s->n = w.dims[1];
  s->m = ctx.plan.tensors[static_cast<size_t>(step.inputs[kX])].elements() / s->k;
  QuantizedConstants c = read_constants(ctx.plan, step, 1.0f);
  c.activation.onnx_range = onnx_range(step);
  s->gemm = GemmF32::create_quantized(weights_view(c), s->k, s->n, false, bias_data(ctx.plan, step), c.activation,
                                      activation_params(step, 0, 0));
  ctx.scratch_bytes = s->gemm->scratch_bytes(s->m);
  ctx.weight_bytes = static_cast<int64_t>(s->gemm->weight_bytes());
  ctx.kernel = s->gemm->kernel_name();
  return s;
}

void qgemm_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const QGemmState*>(state);
  if (s.m == 0) return;
  const float* x = ctx.t<const float>(step.inputs[kX]);
  if (s.trans_a) {
    auto* t = reinterpret_cast<float*>(ctx.scratch);
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t kk = 0; kk < s.k; ++kk) t[i * s.k + kk] = x[kk * s.m + i];
    x = t;
  }
  s.gemm->run(s.m, x, s.k, ctx.t<float>(step.outputs[0]), s.n, ctx.scratch + s.transpose_bytes, ctx.pool);
}

// ------------------------------------------------------------------ QLinearGemm: alpha x·w + beta c
// ints = [trans_a, trans_b, act, w_axis]; floats = [alpha, beta, act params...]. alpha is folded into the
// weight scales (so it must be positive), beta into the bias.
void qgemm_validate(const StepView& v) {
  validate_common(v);
  validate_activation(v, 2, 2, true);
  v.ints(4);
  const int64_t trans_a = v.step().ints[0], trans_b = v.step().ints[1];
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) v.fail("trans_a / trans_b must be 0 or 1");
  const float alpha = v.step().floats[0], beta = v.step().floats[1];
  if (!(std::isfinite(alpha) && alpha > 0.0f)) v.fail("alpha must be finite and positive (it scales the weight scales)");
  if (!std::isfinite(beta)) v.fail("beta must be finite");
  const auto& x = v.in(kX).dims;
  const auto& w = v.in(kW).dims;
  if (x.size() != 2 || w.size() != 2) v.fail("Gemm inputs must be 2-D");
  const int64_t m = trans_a ? x[1] : x[0], k = trans_a ? x[0] : x[1];
  const int64_t kw = trans_b ? w[1] : w[0], n = trans_b ? w[0] : w[1];
  if (k != kw) v.fail("inner dimensions differ: x " + dims_string(x) + ", w " + dims_string(w));
  v.dims_equal(v.out(0).dims, {m, n}, "output");
  validate_quantization(v, trans_b ? 0 : 1, n, v.step().ints[3], true);
}

std::unique_ptr<OpState> qgemm_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& x = ctx.plan.tensors[static_cast<size_t>(step.inputs[kX])];
  const TensorSlot& w = ctx.plan.tensors[static_cast<size_t>(step.inputs[kW])];
  auto s = std::make_unique<QGemmState>();
  s->trans_a = step.ints[0] != 0;
  const bool trans_b = step.ints[1] != 0;
  s->m = s->trans_a ? x.dims[1] : x.dims[0];
  s->k = s->trans_a ? x.dims[0] : x.dims[1];
  s->n = trans_b ? w.dims[0] : w.dims[1];
  const QuantizedConstants c = read_constants(ctx.plan, step, step.floats[0]);
  std::vector<float> bias;
  if (const float* values = bias_data(ctx.plan, step)) {
    const int64_t count = ctx.plan.tensors[static_cast<size_t>(step.inputs[kBias])].elements();
    for (int64_t j = 0; j < s->n; ++j) bias.push_back(step.floats[1] * values[count == 1 ? 0 : j]);
  }
  s->gemm = GemmF32::create_quantized(weights_view(c), s->k, s->n, trans_b, bias.empty() ? nullptr : bias.data(),
                                      c.activation, activation_params(step, 2, 2));
  s->transpose_bytes = s->trans_a ? align_up(static_cast<size_t>(s->m * s->k) * sizeof(float)) : 0;
  ctx.scratch_bytes = s->transpose_bytes + s->gemm->scratch_bytes(s->m);
  ctx.weight_bytes = static_cast<int64_t>(s->gemm->weight_bytes());
  ctx.kernel = s->gemm->kernel_name();
  return s;
}

// ------------------------------------------------------------------ QLinearConv: NCHW / NCW, groups; QLinearConvNhwc: NHWC / NWC, group 1
// ints = [group, act, kernel[r], strides[r], pads_begin[r], pads_end[r], dilations[r], w_axis] and optionally
// onnx_range (as QLinearMatMul's: quantize_dynamic's ConvInteger graphs); floats = [act params...]
size_t conv_w_axis_index(int r) { return 2 + 5 * static_cast<size_t>(r); }
bool conv_onnx_range(const Step& step, int r) { return step.ints.size() > conv_w_axis_index(r) + 1 && step.ints[conv_w_axis_index(r) + 1] == 1; }

void qconv_validate(const StepView& v) {
  validate_common(v);
  const int r = spatial_rank(v);
  validate_activation(v, 1, 0, true);
  const size_t base = conv_w_axis_index(r) + 1;
  if (v.step().ints.size() != base && v.step().ints.size() != base + 1) v.ints(base);
  if (v.step().ints.size() == base + 1 && v.step().ints[base] != 0 && v.step().ints[base] != 1) v.fail("onnx_range must be 0 or 1");
  if (conv_onnx_range(v.step(), r) && v.has_in(kXScale)) v.fail("onnx_range applies to dynamic activations (no x_scale)");
  ConvShape shape;
  fill_conv_shape(v, kW, shape);
  validate_quantization(v, 0, shape.out_channels, v.step().ints[conv_w_axis_index(r)], false);
  // The fused output fake quantization: per tensor, constant, both given or neither (a zero point alone is no
  // quantization).
  if (v.has_in(kYZeroPoint) && !v.has_in(kYScale)) v.fail("an output zero point without a scale");
  if (v.has_in(kYScale)) {
    if (!v.is_constant(kYScale)) v.fail("the output scale must be a constant");
    v.dtype_in(kYScale, {DType::kFloat32});
    if (v.in(kYScale).elements() != 1) v.fail("the output scale must be one value (per tensor)");
    const float s = float_value(v.in(kYScale), 0);
    if (!(std::isfinite(s) && s > 0.0f)) v.fail("the output scale must be finite and positive");
  }
  if (v.has_in(kYZeroPoint)) {
    if (!v.is_constant(kYZeroPoint)) v.fail("the output zero point must be a constant");
    v.dtype_in(kYZeroPoint, {DType::kUint8, DType::kInt8});
    if (v.in(kYZeroPoint).elements() != 1) v.fail("the output zero point must be one value (per tensor)");
  }
  // Levels: uint8 x quantized with its own static uint8 parameters; uint8 y quantized with y's.
  const auto uint8_param = [&](size_t i) { return v.has_in(i) && v.in(i).dtype == DType::kUint8; };
  if (v.in(kX).dtype == DType::kUint8 && !(v.has_in(kXScale) && uint8_param(kXZeroPoint)))
    v.fail("uint8 level input needs a static scale and a uint8 zero point");
  if (v.out(0).dtype == DType::kUint8 && !(v.has_in(kYScale) && uint8_param(kYZeroPoint)))
    v.fail("uint8 level output needs an output scale and a uint8 zero point");
}

// The output's fused QuantizeLinear -> DequantizeLinear (QLinearConvNhwc inputs 7, 8), when present.
OutputQuantization output_quantization(const Plan& plan, const Step& step) {
  OutputQuantization q;
  const auto has = [&](size_t i) { return step.inputs.size() > i && step.inputs[i] >= 0; };
  if (!has(kYScale)) return q;
  q.enabled = true;
  q.scale = float_value(plan.tensors[static_cast<size_t>(step.inputs[kYScale])], 0);
  if (has(kYZeroPoint)) {
    const TensorSlot& zp = plan.tensors[static_cast<size_t>(step.inputs[kYZeroPoint])];
    q.zero_point = zero_point_value(zp, 0);
    q.is_signed = zp.dtype == DType::kInt8;
  }
  return q;
}

struct QConvState : OpState {
  std::unique_ptr<ConvF32> conv;
};

std::unique_ptr<OpState> qconv_prepare(PrepareContext& ctx, const Step& step) {
  StepView v(ctx.plan, step, step.name);
  ConvShape shape;
  fill_conv_shape(v, kW, shape);
  QuantizedConstants c = read_constants(ctx.plan, step, 1.0f);
  c.activation.onnx_range = conv_onnx_range(step, shape.rank);
  c.activation.levels = ctx.plan.tensors[static_cast<size_t>(step.inputs[kX])].dtype == DType::kUint8;
  OutputQuantization output = output_quantization(ctx.plan, step);
  output.levels = ctx.plan.tensors[static_cast<size_t>(step.outputs[0])].dtype == DType::kUint8;
  auto s = std::make_unique<QConvState>();
  s->conv = ConvF32::create_quantized(shape, weights_view(c), bias_data(ctx.plan, step), c.activation,
                                      activation_params(step, 1, 0), output);
  ctx.scratch_bytes = s->conv->scratch_bytes();
  ctx.weight_bytes = static_cast<int64_t>(s->conv->weight_bytes());
  ctx.kernel = s->conv->kernel_name();
  return s;
}

void qconv_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const QConvState*>(state);
  if (ctx.elements(step.outputs[0]) == 0) return;
  s.conv->run_quantized(ctx.t<const uint8_t>(step.inputs[kX]), ctx.t<uint8_t>(step.outputs[0]), ctx.scratch, ctx.pool);
}

}  // namespace

void register_qlinear_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"QLinearMatMul", &qmatmul_validate, &qmatmul_prepare, &qgemm_run});
  ops.push_back(OpDef{"QLinearGemm", &qgemm_validate, &qgemm_prepare, &qgemm_run});
  ops.push_back(OpDef{"QLinearConv", &qconv_validate, &qconv_prepare, &qconv_run});
  ops.push_back(OpDef{"QLinearConvNhwc", &qconv_validate, &qconv_prepare, &qconv_run});
}

}  // namespace edgeinfer::runtime
