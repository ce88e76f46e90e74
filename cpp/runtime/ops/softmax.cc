// Softmax / LogSoftmax along one axis (opset >= 13 semantics), viewed as [outer, n, inner]: rows when
// inner == 1, otherwise column blocks with per-column max and sum in the scratch area.
#include <cmath>
#include <limits>

#include "edgeinfer/kernels.h"
#include "runtime/executor.h"
#include "runtime/ops/vector_math.h"

namespace edgeinfer::runtime {
namespace {

void softmax_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  v.dims_equal(v.out(0).dims, v.in(0).dims, "output");
  v.axis(v.step().ints[0], v.in(0).dims.size(), "axis");
}

std::unique_ptr<OpState> softmax_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& in = ctx.plan.tensors[step.inputs[0]];
  const int64_t inner = product(in.dims, static_cast<size_t>(step.ints[0]) + 1);
  if (inner > 1) ctx.scratch_bytes = static_cast<size_t>(2 * inner) * sizeof(float);
  ctx.kernel = inner > 1 ? "softmax_strided" : kernels().elementwise_f32->name;
  return nullptr;
}

template <bool kLog>
void softmax_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& in = ctx.slot(step.inputs[0]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  const int64_t outer = product(in.dims, 0, axis);
  const int64_t n = in.dims[axis];
  const int64_t inner = product(in.dims, axis + 1);
  const float* x = ctx.t<const float>(step.inputs[0]);
  float* y = ctx.t<float>(step.outputs[0]);
  if (n == 0 || outer == 0 || inner == 0) return;
  if (inner == 1) {
    kernels().elementwise_f32->softmax_rows(x, y, outer, n, kLog);
    return;
  }
  float* maxv = reinterpret_cast<float*>(ctx.scratch);
  float* sum = maxv + inner;
  for (int64_t o = 0; o < outer; ++o) {
    const float* xb = x + o * n * inner;
    float* yb = y + o * n * inner;
    for (int64_t j = 0; j < inner; ++j) {
      maxv[j] = -std::numeric_limits<float>::infinity();
      sum[j] = 0.0f;
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) maxv[j] = xb[i * inner + j] > maxv[j] ? xb[i * inner + j] : maxv[j];
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < inner; ++j) {
        const float e = exp_poly(xb[i * inner + j] - maxv[j]);
        sum[j] += e;
        if constexpr (!kLog) yb[i * inner + j] = e;
      }
    if constexpr (kLog) {
      for (int64_t j = 0; j < inner; ++j) maxv[j] += std::log(sum[j]);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) yb[i * inner + j] = xb[i * inner + j] - maxv[j];
    } else {
      for (int64_t j = 0; j < inner; ++j) sum[j] = 1.0f / sum[j];
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < inner; ++j) yb[i * inner + j] *= sum[j];
    }
  }
}

}  // namespace

void register_softmax_ops(std::vector<OpDef>& ops) {
  OpDef softmax{"Softmax", &softmax_validate, &softmax_prepare, &softmax_run<false>};
  softmax.in_place = true;
  ops.push_back(softmax);
  OpDef log_softmax{"LogSoftmax", &softmax_validate, &softmax_prepare, &softmax_run<true>};
  log_softmax.in_place = true;
  ops.push_back(log_softmax);
}

}  // namespace edgeinfer::runtime
