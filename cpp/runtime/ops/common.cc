// Helpers shared by the op families: the op registry, strided/broadcast loops, fused activations, half
// floats.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "edgeinfer/kernels.h"
#include "edgeinfer/runtime.h"
#include "runtime/executor.h"

namespace edgeinfer::runtime {

namespace {
struct Registry {
  std::vector<OpDef> ops;
  std::unordered_map<std::string, size_t> index;
  Registry() {
    register_elementwise_ops(ops);
    register_reduce_ops(ops);
    register_softmax_ops(ops);
    register_normalize_ops(ops);
    register_shape_ops(ops);
    register_control_ops(ops);
    register_quantize_ops(ops);
    register_quantized_add_ops(ops);
    register_linear_ops(ops);
    register_qlinear_ops(ops);
    register_pool_ops(ops);
    register_normalization_ops(ops);
    register_indexing_ops(ops);
    register_integer_matmul_ops(ops);
    register_rnn_ops(ops);
    for (size_t i = 0; i < ops.size(); ++i) index.emplace(ops[i].name, i);
  }
};

const Registry& op_registry() {
  static const Registry instance;
  return instance;
}
}  // namespace

const OpDef* find_op(const std::string& name) {
  const Registry& registry = op_registry();
  auto it = registry.index.find(name);
  return it == registry.index.end() ? nullptr : &registry.ops[it->second];
}

}  // namespace edgeinfer::runtime

namespace edgeinfer {
std::vector<std::string> step_ops() {
  std::vector<std::string> names;
  for (const runtime::OpDef& op : runtime::op_registry().ops) names.emplace_back(op.name);
  return names;
}
}  // namespace edgeinfer

namespace edgeinfer::runtime {

// ------------------------------------------------------------------ StridedLoop
StridedLoop StridedLoop::broadcast(const std::vector<int64_t>& out_dims,
                                   std::initializer_list<const std::vector<int64_t>*> in_dims) {
  StridedLoop loop;
  loop.operands = 1 + static_cast<int>(in_dims.size());
  loop.rank = static_cast<int>(out_dims.size());
  const int rank = loop.rank;
  int64_t stride = 1;
  for (int d = rank - 1; d >= 0; --d) {
    loop.dims[d] = out_dims[static_cast<size_t>(d)];
    loop.strides[0][d] = stride;
    stride *= out_dims[static_cast<size_t>(d)];
  }
  int o = 1;
  for (const auto* dims : in_dims) {
    const int in_rank = static_cast<int>(dims->size());
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; --d) {
      const int id = d - (rank - in_rank);
      if (id < 0) {
        loop.strides[o][d] = 0;
        continue;
      }
      const int64_t dim = (*dims)[static_cast<size_t>(id)];
      loop.strides[o][d] = dim == 1 ? 0 : s;
      s *= dim;
    }
    ++o;
  }
  loop.merge();
  return loop;
}

void StridedLoop::merge() {
  total = 1;
  for (int d = 0; d < rank; ++d) total *= dims[d];
  // Drop size-1 dims.
  int r = 0;
  for (int d = 0; d < rank; ++d) {
    if (dims[d] == 1) continue;
    dims[r] = dims[d];
    for (int o = 0; o < kMaxOperands; ++o) strides[o][r] = strides[o][d];
    ++r;
  }
  rank = r;
  if (total == 0) return;
  // Merge d into d+1 when every operand steps contiguously across them.
  int w = 0;
  for (int d = 0; d < rank; ++d) {
    if (w > 0) {
      bool mergeable = true;
      for (int o = 0; o < operands; ++o)
        mergeable = mergeable && strides[o][w - 1] == strides[o][d] * dims[d];
      if (mergeable) {
        dims[w - 1] *= dims[d];
        for (int o = 0; o < operands; ++o) strides[o][w - 1] = strides[o][d];
        continue;
      }
    }
    dims[w] = dims[d];
    for (int o = 0; o < kMaxOperands; ++o) strides[o][w] = strides[o][d];
    ++w;
  }
  rank = w;
}

// ------------------------------------------------------------------ activations
namespace {
size_t activation_param_count(int64_t code) {
  switch (static_cast<FusedActivation>(code)) {
    case FusedActivation::kLeakyRelu: return 1;
    case FusedActivation::kClip:
    case FusedActivation::kHardSigmoid: return 2;
    default: return 0;
  }
}
}  // namespace

void validate_activation(const StepView& v, size_t code_index, size_t params_index, bool gelu_allowed) {
  v.ints_at_least(code_index + 1);
  const int64_t code = v.step().ints[code_index];
  if (code < 0 || code > static_cast<int64_t>(kLastFusedActivation)) v.fail("unknown activation " + std::to_string(code));
  (void)gelu_allowed;
  v.floats(params_index + activation_param_count(code));
}

ActivationParams activation_params(const Step& step, size_t code_index, size_t params_index) {
  ActivationParams act;
  act.kind = static_cast<FusedActivation>(step.ints[code_index]);
  if (act.kind == FusedActivation::kLeakyRelu) act.alpha = step.floats[params_index];
  if (act.kind == FusedActivation::kHardSigmoid) {
    act.alpha = step.floats[params_index];
    act.beta = step.floats[params_index + 1];
  }
  if (act.kind == FusedActivation::kClip) {
    // A NaN bound is no bound (ONNX Runtime's Clip: min(max(x, lo), hi) with x kept when a bound is NaN);
    // the kernels then never see a NaN bound (NEON's FMAX would return it).
    const float lo = step.floats[params_index], hi = step.floats[params_index + 1];
    act.alpha = lo == lo ? lo : -INFINITY;
    act.beta = hi == hi ? hi : INFINITY;
  }
  return act;
}

// The table's SIMD activation (the GEMM epilogues' numerics, gemm_f32_common.h's activate_scalar).
void apply_activation(float* y, int64_t n, const ActivationParams& act) {
  if (act.kind == FusedActivation::kNone || n <= 0) return;
  kernels().gemm_f32->activate(y, n, act.kind, act.alpha, act.beta);
}

}  // namespace edgeinfer::runtime
