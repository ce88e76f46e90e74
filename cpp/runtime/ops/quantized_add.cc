// QuantizedAdd: the sum of two fake-quantized float tensors of one shape, quantized to uint8 as ONNX Runtime's
// QLinearAdd computes it (kernels.h QuantizedAddArgs; lib/onnx/passes/fuse-quantized-add.ts makes it from a QDQ
// model's DequantizeLinear -> Add -> QuantizeLinear). Inputs a, a_scale, a_zero_point, b, b_scale, b_zero_point,
// c_scale, c_zero_point (constant per-tensor scales, uint8 zero points). Output 0: the dequantized levels
// (float32) or the levels (uint8); an optional output 1: the levels (uint8), beside the floats.
#include <cmath>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

enum Input : size_t { kA = 0, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint, kCScale, kCZeroPoint, kInputs };

void check_parameters(const StepView& v, size_t scale, const char* name) {
  if (!v.is_constant(scale) || !v.is_constant(scale + 1)) v.fail(std::string(name) + " scale and zero point must be constants");
  v.dtype_in(scale, {DType::kFloat32});
  v.dtype_in(scale + 1, {DType::kUint8});
  if (v.in(scale).elements() != 1 || v.in(scale + 1).elements() != 1) v.fail(std::string(name) + " scale and zero point must be one value each");
  float s;
  std::memcpy(&s, v.in(scale).constant->data(), sizeof s);
  if (!(std::isfinite(s) && s > 0.0f)) v.fail(std::string(name) + " scale must be finite and positive");
}

void qadd_validate(const StepView& v) {
  v.inputs(kInputs, kInputs);
  v.outputs(1, 2);
  v.ints(0);
  v.floats(0);
  v.dtype_in(kA, {DType::kFloat32});
  v.dtype_in(kB, {DType::kFloat32});
  v.dims_equal(v.in(kB).dims, v.in(kA).dims, "b");
  check_parameters(v, kAScale, "a");
  check_parameters(v, kBScale, "b");
  check_parameters(v, kCScale, "c");
  v.dtype_out(0, {DType::kFloat32, DType::kUint8});
  v.dims_equal(v.out(0).dims, v.in(kA).dims, "output");
  if (v.n_out() > 1) {
    if (v.out(0).dtype != DType::kFloat32) v.fail("a second (levels) output needs floats in the first");
    v.dtype_out(1, {DType::kUint8});
    v.dims_equal(v.out(1).dims, v.in(kA).dims, "levels output");
  }
}

struct QAddState : OpState {
  QuantizedAddArgs args;
};

std::unique_ptr<OpState> qadd_prepare(PrepareContext& ctx, const Step& step) {
  auto s = std::make_unique<QAddState>();
  const auto scale = [&](size_t i) {
    float value;
    std::memcpy(&value, ctx.plan.tensors[static_cast<size_t>(step.inputs[i])].constant->data(), sizeof value);
    return value;
  };
  const auto zero_point = [&](size_t i) { return int32_t{ctx.plan.tensors[static_cast<size_t>(step.inputs[i])].constant->data()[0]}; };
  QuantizedAddArgs& a = s->args;
  a.a_scale = scale(kAScale);
  a.b_scale = scale(kBScale);
  a.c_scale = scale(kCScale);
  a.a_zero_point = zero_point(kAZeroPoint);
  a.b_zero_point = zero_point(kBZeroPoint);
  a.c_zero_point = zero_point(kCZeroPoint);
  quantized_add_parameters(a);
  ctx.kernel = kernels().quantize->name;
  return s;
}

void qadd_run(RunContext& ctx, const Step& step, const OpState* state) {
  QuantizedAddArgs a = static_cast<const QAddState*>(state)->args;
  a.a = ctx.t<const float>(step.inputs[kA]);
  a.b = ctx.t<const float>(step.inputs[kB]);
  a.n = ctx.elements(step.inputs[kA]);
  if (ctx.slot(step.outputs[0]).dtype == DType::kUint8) {
    a.levels = ctx.t<uint8_t>(step.outputs[0]);
  } else {
    a.y = ctx.t<float>(step.outputs[0]);
    if (step.outputs.size() > 1) a.levels = ctx.t<uint8_t>(step.outputs[1]);
  }
  if (a.n > 0) kernels().quantize->add(a);
}

}  // namespace

void register_quantized_add_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"QuantizedAdd", &qadd_validate, &qadd_prepare, &qadd_run});
}

}  // namespace edgeinfer::runtime
