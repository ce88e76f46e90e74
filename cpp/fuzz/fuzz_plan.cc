// libFuzzer harness: bytes -> edgeinfer::Plan (plan_codec.h) -> validate_plan -> Model::create -> run(), the
// path of binding/model_wrap.cc's createModel() and NativeModel.run(). Any edgeinfer::Error is a correct
// answer; a crash, a sanitizer report, an exception of another type (the binding reports those as
// EDGEINFER_INTERNAL, "a bug"), or a hang is a bug.
//
// What the binding checks before the core (mirrored here, so no input the binding refuses is reported):
//   - every plan field's type and range (the codec only produces values inside those ranges);
//   - options.threads in [1, 256], precision float32 / int8 (the codec picks 1 or 2 threads);
//   - run(): one typed array per bound slot, of the slot's dtype and exactly slot.elements() elements
//     (buffers here are allocated to exactly that size, so ASan sees any access past them).
// Resource bounds (not bugs, so one input runs in milliseconds): an arena, input or output over 4 MiB, and
// steps whose rough work estimate exceeds 2^24 multiply-adds are validated but not created or run.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/runtime.h"
#include "fuzz/plan_codec.h"
#include "runtime/executor.h"

namespace {

using namespace edgeinfer;

constexpr int64_t kMaxBufferBytes = int64_t{1} << 22;
constexpr int64_t kMaxStepWork = int64_t{1} << 24;

// Every op name the runtime registers (the same lists find_op() is built from).
const std::vector<std::string>& op_names() {
  static const std::vector<std::string> names = [] {
    std::vector<runtime::OpDef> ops;
    runtime::register_elementwise_ops(ops);
    runtime::register_reduce_ops(ops);
    runtime::register_softmax_ops(ops);
    runtime::register_normalize_ops(ops);
    runtime::register_shape_ops(ops);
    runtime::register_control_ops(ops);
    runtime::register_quantize_ops(ops);
    runtime::register_quantized_add_ops(ops);
    runtime::register_linear_ops(ops);
    runtime::register_qlinear_ops(ops);
    runtime::register_pool_ops(ops);
    std::vector<std::string> out;
    for (const auto& op : ops) out.emplace_back(op.name);
    return out;
  }();
  return names;
}

int64_t saturating_mul(int64_t a, int64_t b) {
  if (a <= 0 || b <= 0) return 0;
  return a > INT64_MAX / b ? INT64_MAX : a * b;
}

// Output elements times the largest input (or, for pooling, the window): covers GEMM / conv (the weights or
// B are an input) and every element-wise or data-movement op, generously.
int64_t step_work(const Plan& plan, const Step& step) {
  int64_t out = 0, in = 1;
  for (int32_t o : step.outputs) out = std::max(out, plan.tensors[static_cast<size_t>(o)].elements());
  for (int32_t i : step.inputs)
    if (i >= 0) in = std::max(in, plan.tensors[static_cast<size_t>(i)].elements());
  if (step.op.find("Pool") != std::string::npos && step.op.find("Global") == std::string::npos) {
    int64_t window = 1;  // ints = [count_include_pad, kernel[r], ...]; r = (ints.size() - 1) / 5
    const size_t r = step.ints.size() >= 1 ? (step.ints.size() - 1) / 5 : 0;
    for (size_t d = 0; d < r; ++d) window = saturating_mul(window, std::max<int64_t>(1, step.ints[1 + d]));
    in = std::max(in, window);
  }
  return saturating_mul(std::max<int64_t>(out, 1), in);
}

bool within_bounds(const Plan& plan) {
  if (plan.arena_bytes > kMaxBufferBytes) return false;
  for (const TensorSlot& t : plan.tensors)
    if ((t.storage == Storage::kInput || t.storage == Storage::kOutput) && t.bytes() > kMaxBufferBytes) return false;
  for (const Step& s : plan.steps)
    if (step_work(plan, s) > kMaxStepWork) return false;
  for (const Plan& sub : plan.subplans)
    for (const Step& s : sub.steps)
      if (step_work(plan, s) > kMaxStepWork) return false;
  return true;
}

// One caller buffer, exactly `bytes` long (so ASan flags any access past its end), starting `shift` bytes
// into its allocation (a typed array's byteOffset: element-aligned only).
struct CallerBuffer {
  std::unique_ptr<uint8_t[]> storage;
  uint8_t* data = nullptr;
  CallerBuffer(size_t bytes, size_t shift) : storage(new uint8_t[bytes + shift]), data(storage.get() + shift) {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::FuzzInput in(data, size);
  fuzz::DecodedPlan decoded = fuzz::decode_plan(in, op_names());
  Plan& plan = decoded.plan;
  try {
    validate_plan(plan);
  } catch (const Error&) {
    return 0;
  }
  if (!within_bounds(plan)) return 0;

  // Caller buffers as NativeModel.run() would bind them (bind_buffers checks dtype and element count).
  const bool misalign = (decoded.flags & fuzz::kFlagMisalign) != 0;
  std::vector<CallerBuffer> inputs, outputs;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (int32_t slot : plan.inputs) {
    const TensorSlot& t = plan.tensors[static_cast<size_t>(slot)];
    inputs.emplace_back(static_cast<size_t>(t.bytes()), misalign ? dtype_size(t.dtype) : 0);
    in.fill(inputs.back().data, static_cast<size_t>(t.bytes()));
  }
  for (int32_t slot : plan.outputs) {
    const TensorSlot& t = plan.tensors[static_cast<size_t>(slot)];
    outputs.emplace_back(static_cast<size_t>(t.bytes()), misalign ? dtype_size(t.dtype) : 0);
    std::memset(outputs.back().data, 0xA5, static_cast<size_t>(t.bytes()));
  }
  for (auto& b : inputs) in_ptrs.push_back(b.data);
  for (auto& b : outputs) out_ptrs.push_back(b.data);

  std::unique_ptr<Model> model;
  try {
    model = Model::create(std::move(plan), decoded.options);
  } catch (const Error&) {
    return 0;
  }
  const int runs = (decoded.flags & fuzz::kFlagRunTwice) ? 2 : 1;
  for (int r = 0; r < runs; ++r) {
    try {
      model->run(in_ptrs.data(), out_ptrs.data());
    } catch (const Error&) {
      // Data-dependent failures (a Gather index out of range) are reported per run.
    }
  }
  (void)model->stats();
  return 0;
}
