// Plan basics (dtype sizes, slot sizes) and validate_plan: every slot, offset, size and binding, then the
// steps in execution order (per-op checks from the registry, If branches, use-before-def and clobbering).
#include <algorithm>
#include <set>
#include <string>

#include "runtime/executor.h"

namespace edgeinfer {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return 4;
    case DType::kUint8: return 1;
    case DType::kInt8: return 1;
    case DType::kUint16: return 2;
    case DType::kInt16: return 2;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kBool: return 1;
    case DType::kFloat16: return 2;
    case DType::kFloat64: return 8;
    case DType::kUint32: return 4;
    case DType::kUint64: return 8;
  }
  return 0;
}

// Saturates instead of overflowing; validate_plan rejects anything that large before it matters.
int64_t TensorSlot::elements() const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) return -1;
    if (d != 0 && n > INT64_MAX / d) return INT64_MAX;
    n *= d;
  }
  return n;
}

int64_t TensorSlot::bytes() const {
  const int64_t n = elements();
  const int64_t size = static_cast<int64_t>(dtype_size(dtype));
  if (n < 0) return -1;
  if (size != 0 && n > INT64_MAX / size) return INT64_MAX;
  return n * size;
}

namespace runtime {

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kUint8: return "uint8";
    case DType::kInt8: return "int8";
    case DType::kUint16: return "uint16";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kInt64: return "int64";
    case DType::kBool: return "bool";
    case DType::kFloat16: return "float16";
    case DType::kFloat64: return "float64";
    case DType::kUint32: return "uint32";
    case DType::kUint64: return "uint64";
  }
  return "unknown";
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < std::min(end, dims.size()); ++i) n *= dims[i];
  return n;
}

bool broadcast_dims(std::initializer_list<const std::vector<int64_t>*> shapes, std::vector<int64_t>& result) {
  size_t rank = 0;
  for (const auto* s : shapes) rank = std::max(rank, s->size());
  result.assign(rank, 1);
  for (size_t d = 0; d < rank; ++d) {
    bool any_set = false;
    int64_t value = 1;
    for (const auto* s : shapes) {
      if (d + s->size() < rank) continue;  // missing leading dim: 1
      const int64_t dim = (*s)[d + s->size() - rank];
      if (dim == 1) continue;
      if (any_set && dim != value) return false;
      any_set = true;
      value = dim;
    }
    result[d] = value;
  }
  return true;
}

// ------------------------------------------------------------------ StepView
void StepView::fail(const std::string& problem) const { edgeinfer::fail(ErrorCode::kModelInvalid, where_ + ": " + problem); }

void StepView::inputs(size_t min, size_t max) const {
  const size_t n = step_.inputs.size();
  if (n < min || n > max)
    fail("expects " + (min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max)) +
         " inputs, got " + std::to_string(n));
}

void StepView::outputs(size_t min, size_t max) const {
  const size_t n = step_.outputs.size();
  if (n < min || n > max)
    fail("expects " + (min == max ? std::to_string(min) : std::to_string(min) + ".." + std::to_string(max)) +
         " outputs, got " + std::to_string(n));
}

void StepView::ints(size_t count) const {
  if (step_.ints.size() != count)
    fail("expects " + std::to_string(count) + " ints, got " + std::to_string(step_.ints.size()));
}

void StepView::ints_at_least(size_t count) const {
  if (step_.ints.size() < count)
    fail("expects at least " + std::to_string(count) + " ints, got " + std::to_string(step_.ints.size()));
}

void StepView::floats(size_t count) const {
  if (step_.floats.size() != count)
    fail("expects " + std::to_string(count) + " floats, got " + std::to_string(step_.floats.size()));
}

const TensorSlot& StepView::in(size_t i) const {
  if (!has_in(i)) fail("input " + std::to_string(i) + " is required");
  return root_.tensors[static_cast<size_t>(step_.inputs[i])];
}

const TensorSlot& StepView::out(size_t i) const {
  if (i >= step_.outputs.size()) fail("output " + std::to_string(i) + " is required");
  return root_.tensors[static_cast<size_t>(step_.outputs[i])];
}

namespace {
void check_dtype(const StepView& v, const TensorSlot& t, const std::string& what, std::initializer_list<DType> allowed) {
  for (DType d : allowed)
    if (t.dtype == d) return;
  std::string names;
  for (DType d : allowed) names += std::string(names.empty() ? "" : "/") + dtype_name(d);
  v.fail(what + " has dtype " + dtype_name(t.dtype) + ", expected " + names);
}
}  // namespace

void StepView::dtype_in(size_t i, std::initializer_list<DType> allowed) const {
  check_dtype(*this, in(i), "input " + std::to_string(i), allowed);
}

void StepView::dtype_out(size_t i, std::initializer_list<DType> allowed) const {
  check_dtype(*this, out(i), "output " + std::to_string(i), allowed);
}

void StepView::same_dtype(const TensorSlot& a, const char* a_name, const TensorSlot& b, const char* b_name) const {
  if (a.dtype != b.dtype)
    fail(std::string(a_name) + " (" + dtype_name(a.dtype) + ") and " + b_name + " (" + dtype_name(b.dtype) +
         ") must have the same dtype");
}

void StepView::dims_equal(const std::vector<int64_t>& got, const std::vector<int64_t>& expected, const char* what) const {
  if (got != expected) fail(std::string(what) + " has dims " + dims_string(got) + ", expected " + dims_string(expected));
}

int64_t StepView::axis(int64_t value, size_t rank, const char* what) const {
  if (value < 0 || value >= static_cast<int64_t>(rank))
    fail(std::string(what) + " " + std::to_string(value) + " is out of range for rank " + std::to_string(rank));
  return value;
}

// ------------------------------------------------------------------ validate_plan
namespace {

[[noreturn]] void plan_fail(const std::string& message) { edgeinfer::fail(ErrorCode::kModelInvalid, message); }

bool overlaps(const TensorSlot& a, const TensorSlot& b) {
  if (a.storage != Storage::kArena || b.storage != Storage::kArena) return false;
  const int64_t ab = a.bytes(), bb = b.bytes();
  if (ab == 0 || bb == 0) return false;
  return a.offset < b.offset + bb && b.offset < a.offset + ab;
}

bool same_bytes(const TensorSlot& a, const TensorSlot& b) {
  return a.storage == Storage::kArena && b.storage == Storage::kArena && a.offset == b.offset && a.bytes() == b.bytes();
}

class Validator {
 public:
  explicit Validator(const Plan& plan) : plan_(plan) {}

  void run() {
    check_tensors();
    check_bindings();
    for (size_t s = 0; s < plan_.subplans.size(); ++s) {
      const Plan& sub = plan_.subplans[s];
      const std::string where = "subplan " + std::to_string(s);
      if (!sub.tensors.empty() || !sub.inputs.empty() || !sub.subplans.empty())
        plan_fail(where + ": a subplan may hold only steps and outputs (its tensors live in the root plan)");
      for (size_t i = 0; i < sub.outputs.size(); ++i)
        if (sub.outputs[i] < 0 || static_cast<size_t>(sub.outputs[i]) >= plan_.tensors.size())
          plan_fail(where + ": output " + std::to_string(i) + " is slot " + std::to_string(sub.outputs[i]) +
                    ", out of range");
    }
    std::vector<char> valid(plan_.tensors.size(), 0);
    for (size_t i = 0; i < plan_.tensors.size(); ++i) {
      const Storage s = plan_.tensors[i].storage;
      valid[i] = s == Storage::kInput || s == Storage::kConstant;
    }
    std::vector<char> active(plan_.subplans.size(), 0);
    walked_.assign(plan_.subplans.size(), 0);
    walk(plan_.steps, "", valid, active);
    // A subplan is validated only when an If step walks it, but the Model prepares every subplan: one that no
    // If uses would be prepared unchecked (an unknown op or out-of-range slots: a crash at create).
    for (size_t s = 0; s < walked_.size(); ++s)
      if (!walked_[s]) plan_fail("subplan " + std::to_string(s) + " is not a branch of any If step");
    for (size_t i = 0; i < plan_.outputs.size(); ++i)
      if (!valid[static_cast<size_t>(plan_.outputs[i])])
        plan_fail("output " + std::to_string(i) + " (slot " + std::to_string(plan_.outputs[i]) +
                  ") is never written by any step");
  }

 private:
  void check_tensors() {
    if (plan_.arena_bytes < 0 || plan_.arena_bytes > kMaxArenaBytes)
      plan_fail("arena_bytes " + std::to_string(plan_.arena_bytes) + " is out of range");
    for (size_t i = 0; i < plan_.tensors.size(); ++i) {
      const TensorSlot& t = plan_.tensors[i];
      const std::string where = "tensor " + std::to_string(i);
      const size_t esize = dtype_size(t.dtype);
      if (esize == 0) plan_fail(where + ": unknown dtype " + std::to_string(static_cast<int>(t.dtype)));
      if (t.dims.size() > static_cast<size_t>(kMaxRank))
        plan_fail(where + ": rank " + std::to_string(t.dims.size()) + " exceeds " + std::to_string(kMaxRank));
      int64_t n = 1;
      for (int64_t d : t.dims) {
        if (d < 0 || d > kMaxDim) plan_fail(where + ": dimension " + std::to_string(d) + " is out of range");
        if (d != 0 && n > kMaxElements / d) plan_fail(where + ": element count " + dims_string(t.dims) + " overflows");
        n *= d;
      }
      const int64_t bytes = n * static_cast<int64_t>(esize);
      switch (t.storage) {
        case Storage::kArena:
          if (t.offset < 0 || t.offset % 64 != 0)
            plan_fail(where + ": arena offset " + std::to_string(t.offset) + " is not a non-negative multiple of 64");
          if (t.offset > plan_.arena_bytes || bytes > plan_.arena_bytes - t.offset)
            plan_fail(where + ": arena range [" + std::to_string(t.offset) + ", +" + std::to_string(bytes) +
                      ") exceeds the arena of " + std::to_string(plan_.arena_bytes) + " bytes");
          break;
        case Storage::kConstant:
          if (!t.constant) plan_fail(where + ": constant without data");
          if (static_cast<int64_t>(t.constant->size()) != bytes)
            plan_fail(where + ": constant holds " + std::to_string(t.constant->size()) + " bytes, " +
                      dtype_name(t.dtype) + dims_string(t.dims) + " needs " + std::to_string(bytes));
          break;
        case Storage::kInput:
          if (t.binding < 0 || static_cast<size_t>(t.binding) >= plan_.inputs.size() ||
              plan_.inputs[static_cast<size_t>(t.binding)] != static_cast<int32_t>(i))
            plan_fail(where + ": input binding " + std::to_string(t.binding) + " does not match the plan's inputs");
          break;
        case Storage::kOutput:
          if (t.binding < 0 || static_cast<size_t>(t.binding) >= plan_.outputs.size() ||
              plan_.outputs[static_cast<size_t>(t.binding)] != static_cast<int32_t>(i))
            plan_fail(where + ": output binding " + std::to_string(t.binding) + " does not match the plan's outputs");
          break;
        default:
          plan_fail(where + ": unknown storage " + std::to_string(static_cast<int>(t.storage)));
      }
    }
  }

  void check_bindings() {
    const auto check = [&](const std::vector<int32_t>& list, Storage storage, const char* what) {
      for (size_t i = 0; i < list.size(); ++i) {
        const std::string where = std::string(what) + " " + std::to_string(i);
        if (list[i] < 0 || static_cast<size_t>(list[i]) >= plan_.tensors.size())
          plan_fail(where + ": slot " + std::to_string(list[i]) + " is out of range");
        const TensorSlot& t = plan_.tensors[static_cast<size_t>(list[i])];
        if (t.storage != storage || t.binding != static_cast<int32_t>(i))
          plan_fail(where + ": slot " + std::to_string(list[i]) + " is not bound as " + what + " " + std::to_string(i));
      }
    };
    check(plan_.inputs, Storage::kInput, "input");
    check(plan_.outputs, Storage::kOutput, "output");
  }

  std::string step_where(const std::string& prefix, size_t i, const Step& step) const {
    return prefix + "step " + std::to_string(i) + " '" + step.name + "' (" + step.op + ")";
  }

  void mark_written(const Step& step, const OpDef* op, std::vector<char>& valid) const {
    for (int32_t o : step.outputs) {
      const TensorSlot& out = plan_.tensors[static_cast<size_t>(o)];
      if (out.storage == Storage::kArena) {
        for (size_t t = 0; t < plan_.tensors.size(); ++t) {
          if (t == static_cast<size_t>(o) || !valid[t] || !overlaps(out, plan_.tensors[t])) continue;
          // A copy into the very same bytes leaves its source intact.
          const bool copy_source = op != nullptr && op->copy && !step.inputs.empty() &&
                                   step.inputs[0] == static_cast<int32_t>(t) && same_bytes(out, plan_.tensors[t]);
          if (!copy_source) valid[t] = 0;
        }
      }
      valid[static_cast<size_t>(o)] = 1;
    }
  }

  void check_slots(const StepView& v, const OpDef* op, const std::vector<char>& valid) const {
    const Step& step = v.step();
    const int32_t count = static_cast<int32_t>(plan_.tensors.size());
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const int32_t s = step.inputs[i];
      if (s < -1 || s >= count) v.fail("input " + std::to_string(i) + " is slot " + std::to_string(s) + ", out of range");
      if (s >= 0 && !valid[static_cast<size_t>(s)])
        v.fail("input " + std::to_string(i) + " (slot " + std::to_string(s) +
               ") is read before any step writes it (or after its arena bytes were reused)");
    }
    for (size_t i = 0; i < step.outputs.size(); ++i) {
      const int32_t s = step.outputs[i];
      if (s < 0 || s >= count) v.fail("output " + std::to_string(i) + " is slot " + std::to_string(s) + ", out of range");
      const TensorSlot& out = plan_.tensors[static_cast<size_t>(s)];
      if (out.storage != Storage::kArena && out.storage != Storage::kOutput)
        v.fail("output " + std::to_string(i) + " (slot " + std::to_string(s) + ") is an input or a constant");
      for (size_t j = 0; j < i; ++j)
        if (step.outputs[j] == s || overlaps(out, plan_.tensors[static_cast<size_t>(step.outputs[j])]))
          v.fail("outputs " + std::to_string(j) + " and " + std::to_string(i) + " share memory");
      for (size_t j = 0; j < step.inputs.size(); ++j) {
        const int32_t in = step.inputs[j];
        if (in < 0) continue;
        const TensorSlot& t = plan_.tensors[static_cast<size_t>(in)];
        if (in == s) v.fail("output " + std::to_string(i) + " is also input " + std::to_string(j));
        if (!overlaps(out, t)) continue;
        const bool allowed = op != nullptr && (op->in_place || op->copy) && i == 0 && same_bytes(out, t) &&
                             out.dtype == t.dtype && (j == 0 || op->in_place);
        if (!allowed)
          v.fail("output " + std::to_string(i) + " overlaps input " + std::to_string(j) + " in the arena");
      }
    }
  }

  void walk(const std::vector<Step>& steps, const std::string& prefix, std::vector<char>& valid,
            std::vector<char>& active) {
    for (size_t i = 0; i < steps.size(); ++i) {
      const Step& step = steps[i];
      StepView v(plan_, step, step_where(prefix, i, step));
      const OpDef* op = find_op(step.op);
      if (op == nullptr) edgeinfer::fail(ErrorCode::kUnsupportedOp, v.where() + ": unsupported op");
      check_slots(v, op, valid);
      op->validate(v);
      if (step.op == "If") walk_if(v, valid, active);  // the branches run inside the step
      mark_written(step, op, valid);
    }
  }

  void walk_if(const StepView& v, std::vector<char>& valid, std::vector<char>& active) {
    v.inputs(1, 1);
    v.outputs(0, 64);
    const TensorSlot& cond = v.in(0);
    if (cond.dtype != DType::kBool || cond.elements() != 1) v.fail("the condition must be one bool");
    v.ints(2);
    std::vector<char> merged;
    for (int branch = 0; branch < 2; ++branch) {
      const int64_t index = v.step().ints[static_cast<size_t>(branch)];
      const char* name = branch == 0 ? "then" : "else";
      if (index < 0 || static_cast<size_t>(index) >= plan_.subplans.size())
        v.fail(std::string(name) + " subplan " + std::to_string(index) + " is out of range");
      if (active[static_cast<size_t>(index)])
        v.fail(std::string(name) + " subplan " + std::to_string(index) + " contains itself");
      const Plan& sub = plan_.subplans[static_cast<size_t>(index)];
      if (sub.outputs.size() != v.n_out())
        v.fail(std::string(name) + " subplan has " + std::to_string(sub.outputs.size()) + " outputs, the If has " +
               std::to_string(v.n_out()));
      std::vector<char> state = valid;
      active[static_cast<size_t>(index)] = 1;
      walk(sub.steps, v.where() + " " + name + " branch (subplan " + std::to_string(index) + "): ", state, active);
      active[static_cast<size_t>(index)] = 0;
      walked_[static_cast<size_t>(index)] = 1;
      for (size_t o = 0; o < sub.outputs.size(); ++o) {
        const int32_t slot = sub.outputs[o];
        const TensorSlot& src = plan_.tensors[static_cast<size_t>(slot)];
        const TensorSlot& dst = v.out(o);
        if (!state[static_cast<size_t>(slot)])
          v.fail(std::string(name) + " subplan output " + std::to_string(o) + " (slot " + std::to_string(slot) +
                 ") is not written by the branch");
        if (src.dtype != dst.dtype || src.elements() != dst.elements())
          v.fail(std::string(name) + " subplan output " + std::to_string(o) + " is " + dtype_name(src.dtype) +
                 dims_string(src.dims) + ", the If output is " + dtype_name(dst.dtype) + dims_string(dst.dims));
        if (slot != v.step().outputs[o] && overlaps(src, dst) && !same_bytes(src, dst))
          v.fail(std::string(name) + " subplan output " + std::to_string(o) + " partially overlaps the If output");
      }
      if (branch == 0) {
        merged = std::move(state);
      } else {
        for (size_t t = 0; t < merged.size(); ++t) merged[t] = merged[t] && state[t];
      }
    }
    valid = std::move(merged);
  }

  const Plan& plan_;
  std::vector<char> walked_;  // per subplan: validated as the branch of some If step
};

}  // namespace

}  // namespace runtime

void validate_plan(const Plan& plan) { runtime::Validator(plan).run(); }

}  // namespace edgeinfer
