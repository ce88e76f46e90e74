// If: the condition picks a subplan; its steps run in place (its tensors live in the root arena) and
// its outputs are copied into the If's outputs. Validation of the branches (indices, recursion, output
// dtypes and sizes, use-before-def inside them) happens in plan.cc, which walks them in execution order.
#include <cstring>

#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

void if_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(0, 64);
  v.ints(2);
  v.floats(0);
  const TensorSlot& cond = v.in(0);
  if (cond.dtype != DType::kBool || cond.elements() != 1) v.fail("the condition must be one bool");
}

std::unique_ptr<OpState> if_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = "if";
  return nullptr;
}

void if_run(RunContext& ctx, const Step& step, const OpState*) {
  const bool cond = ctx.t<const uint8_t>(step.inputs[0])[0] != 0;
  const int64_t index = step.ints[cond ? 0 : 1];
  ctx.run_subplan(ctx, index);
  const Plan& sub = ctx.plan->subplans[static_cast<size_t>(index)];
  for (size_t o = 0; o < step.outputs.size(); ++o) {
    const uint8_t* src = ctx.ptr[sub.outputs[o]];
    uint8_t* dst = ctx.ptr[step.outputs[o]];
    const int64_t bytes = ctx.slot(step.outputs[o]).bytes();
    if (src != dst && bytes > 0) std::memmove(dst, src, static_cast<size_t>(bytes));
  }
}

}  // namespace

void register_control_ops(std::vector<OpDef>& ops) { ops.push_back(OpDef{"If", &if_validate, &if_prepare, &if_run}); }

}  // namespace edgeinfer::runtime
