// The native executor's public surface: plan validation and the Model that runs a validated plan.
// A Model owns its plan (constants), prepared kernels (packed weights), one 64-byte aligned arena plus a
// scratch area, and a thread pool; run() binds the caller's input / output buffers and executes the
// steps without allocating.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/plan.h"

namespace edgeinfer {

// Checks every slot, offset, size, attribute and shape of `plan` and the order of its steps (no tensor
// is read before a step writes it, nor after another tensor sharing its arena bytes overwrote it).
// Throws Error(kModelInvalid, "step <i> '<name>' (<op>): <problem>") (kUnsupportedOp for an op name the
// runtime does not know). A plan that passes cannot make the executor read or write out of bounds.
void validate_plan(const Plan& plan);

// The step ops the runtime knows (plan.h's Step::op values), in registration order: the C++ side of the op
// registry, checked against lib/onnx/ops by a test.
std::vector<std::string> step_ops();

enum class Precision : uint8_t { kFloat32 = 0, kInt8 = 1 };

struct ModelOptions {
  int threads = 1;  // total threads including the caller
  // kInt8: Gemm, MatMul with a constant B and Conv run with int8 weights (per output channel) and
  // per-tensor dynamic activation quantization, as the *S8Dynamic ops always do.
  Precision precision = Precision::kFloat32;
  // Time every step (two clock reads per step and run); stats() then reports the accumulated times.
  bool profile = false;
};

struct StepStats {
  std::string op;
  std::string name;
  std::string kernel;  // the kernel the step runs (e.g. "f32_gemm_…", "ref", "copy", "skip")
  int64_t calls = 0;     // with ModelOptions::profile: how often the step ran
  int64_t total_ns = 0;  // and its accumulated wall time
};

struct ModelStats {
  int64_t arena_bytes = 0;
  int64_t scratch_bytes = 0;
  int64_t weight_bytes = 0;    // packed / quantized weights owned by prepared kernels
  int64_t constant_bytes = 0;  // constant tensors of the plan
  int64_t runs = 0;
  int threads = 1;
  std::vector<StepStats> steps;  // root plan steps, then each subplan's, in order
};

class Model {
 public:
  // Validates `plan` (validate_plan) and prepares every step.
  static std::unique_ptr<Model> create(Plan plan, const ModelOptions& options);
  virtual ~Model() = default;

  // inputs[i] / outputs[i] point at buffers of plan.inputs[i] / plan.outputs[i]'s dtype and element
  // count (the caller checks the sizes). Inputs are read in place, outputs written in place. Calls are
  // serialised per model; nothing is allocated. Throws Error(kInvalidArgument) for data-dependent
  // failures (a Gather index out of range).
  virtual void run(const void* const* inputs, void* const* outputs) = 0;

  virtual const Plan& plan() const = 0;
  virtual ModelStats stats() const = 0;
};

}  // namespace edgeinfer
