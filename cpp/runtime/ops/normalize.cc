// LayerNorm (optionally fused with GELU) through the kernel table: dims[axis..] form one row.
#include "edgeinfer/kernels.h"
#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

void layernorm_validate(const StepView& v) {
  v.inputs(2, 3);
  v.outputs(1, 1);
  v.ints(2);
  const TensorSlot& x = v.in(0);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_in(1, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  v.dims_equal(v.out(0).dims, x.dims, "output");
  const size_t axis = static_cast<size_t>(v.axis(v.step().ints[0], x.dims.size(), "axis"));
  const int64_t width = product(x.dims, axis);
  if (v.in(1).elements() != width)
    v.fail("scale has " + std::to_string(v.in(1).elements()) + " elements, the normalised row " + std::to_string(width));
  if (v.has_in(2)) {
    v.dtype_in(2, {DType::kFloat32});
    if (v.in(2).elements() != width)
      v.fail("bias has " + std::to_string(v.in(2).elements()) + " elements, the normalised row " + std::to_string(width));
  }
  const int64_t act = v.step().ints[1];
  if (act != static_cast<int64_t>(FusedActivation::kNone) && act != static_cast<int64_t>(FusedActivation::kGeluErf) &&
      act != static_cast<int64_t>(FusedActivation::kGeluTanh))
    v.fail("activation " + std::to_string(act) + " is not none / gelu erf / gelu tanh");
  v.floats(1);
  if (!(v.step().floats[0] >= 0.0f)) v.fail("epsilon must be >= 0");
}

std::unique_ptr<OpState> layernorm_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = kernels().layernorm_gelu->name;
  return nullptr;
}

void layernorm_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& x = ctx.slot(step.inputs[0]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  LayerNormArgs args;
  args.x = ctx.t<const float>(step.inputs[0]);
  args.y = ctx.t<float>(step.outputs[0]);
  args.width = product(x.dims, axis);
  args.rows = product(x.dims, 0, axis);
  args.gamma = ctx.t<const float>(step.inputs[1]);
  args.beta = step.inputs.size() > 2 && step.inputs[2] >= 0 ? ctx.t<const float>(step.inputs[2]) : nullptr;
  args.epsilon = step.floats[0];
  switch (static_cast<FusedActivation>(step.ints[1])) {
    case FusedActivation::kGeluErf: args.activation = Activation::kGeluErf; break;
    case FusedActivation::kGeluTanh: args.activation = Activation::kGeluTanh; break;
    default: args.activation = Activation::kNone; break;
  }
  if (args.rows > 0 && args.width > 0) kernels().layernorm_gelu->layer_norm(args);
}

}  // namespace

void register_normalize_ops(std::vector<OpDef>& ops) {
  OpDef def{"LayerNorm", &layernorm_validate, &layernorm_prepare, &layernorm_run};
  def.in_place = true;
  ops.push_back(def);
}

}  // namespace edgeinfer::runtime
