// Executor internals shared by plan validation (plan.cc), the Model (executor.cc) and the op families
// (ops/*.cc): the op registry {validate, prepare, run}, the per-step validation view, and the contexts
// prepare and run receive.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/half.h"
#include "edgeinfer/nn_kernels.h"
#include "edgeinfer/plan.h"
#include "edgeinfer/runtime.h"

namespace edgeinfer {
class ThreadPool;
}

namespace edgeinfer::runtime {

inline constexpr int kMaxRank = 8;                        // every tensor's rank is at most this
inline constexpr int64_t kMaxDim = int64_t{1} << 40;      // per dimension
inline constexpr int64_t kMaxElements = int64_t{1} << 48;  // per tensor
inline constexpr int64_t kMaxArenaBytes = int64_t{1} << 44;

const char* dtype_name(DType dtype);

// ------------------------------------------------------------------ validation view of one step
class StepView {
 public:
  StepView(const Plan& root, const Step& step, std::string where) : root_(root), step_(step), where_(std::move(where)) {}

  const Plan& root() const { return root_; }
  const Step& step() const { return step_; }
  const std::string& where() const { return where_; }
  [[noreturn]] void fail(const std::string& problem) const;

  // Counts (inclusive ranges).
  void inputs(size_t min, size_t max) const;
  void outputs(size_t min, size_t max) const;
  void ints(size_t count) const;
  void ints_at_least(size_t count) const;
  void floats(size_t count) const;
  size_t n_in() const { return step_.inputs.size(); }
  size_t n_out() const { return step_.outputs.size(); }

  bool has_in(size_t i) const { return i < step_.inputs.size() && step_.inputs[i] >= 0; }
  const TensorSlot& in(size_t i) const;   // required input
  const TensorSlot& out(size_t i) const;  // required output
  bool is_constant(size_t i) const { return has_in(i) && in(i).storage == Storage::kConstant; }

  void dtype_in(size_t i, std::initializer_list<DType> allowed) const;
  void dtype_out(size_t i, std::initializer_list<DType> allowed) const;
  void same_dtype(const TensorSlot& a, const char* a_name, const TensorSlot& b, const char* b_name) const;
  void dims_equal(const std::vector<int64_t>& got, const std::vector<int64_t>& expected, const char* what) const;
  int64_t axis(int64_t value, size_t rank, const char* what) const;  // 0 <= value < rank

 private:
  const Plan& root_;
  const Step& step_;
  std::string where_;
};

std::string dims_string(const std::vector<int64_t>& dims);
int64_t product(const std::vector<int64_t>& dims, size_t begin = 0, size_t end = SIZE_MAX);
// numpy broadcasting of several shapes; false when they are incompatible.
bool broadcast_dims(std::initializer_list<const std::vector<int64_t>*> shapes, std::vector<int64_t>& result);

// Fused activation parameters from the attribute vectors: ints[code_index], floats[params_index...].
// validate_activation checks the code and that floats has exactly params_index + parameter count values.
void validate_activation(const StepView& v, size_t code_index, size_t params_index, bool gelu_allowed);
ActivationParams activation_params(const Step& step, size_t code_index, size_t params_index);
void apply_activation(float* y, int64_t n, const ActivationParams& act);  // in place, reference loops

// ------------------------------------------------------------------ prepare / run
struct OpState {
  virtual ~OpState() = default;
};

struct PrepareContext {
  const Plan& plan;  // the root plan (tensor table)
  const ModelOptions& options;
  // Out: set by prepare.
  size_t scratch_bytes = 0;
  int64_t weight_bytes = 0;
  std::string kernel = "ref";
  // Constant inputs the prepared state copied (packed weights, bias) and run() never reads: once every
  // step reading a constant has copied it, the Model frees it, so only the packed form stays in memory.
  std::vector<int32_t> copied_constants;
};

struct RunContext {
  const Plan* plan = nullptr;           // the root plan
  const TensorSlot* tensors = nullptr;  // the root plan's tensor table
  uint8_t* const* ptr = nullptr;  // per tensor slot: its bytes for this run
  uint8_t* scratch = nullptr;     // 64-byte aligned, max scratch_bytes of all steps
  ThreadPool* pool = nullptr;     // null: single-threaded
  void* executor = nullptr;       // for If
  void (*run_subplan)(RunContext& ctx, int64_t subplan) = nullptr;

  template <typename T>
  T* t(int32_t slot) const { return reinterpret_cast<T*>(ptr[slot]); }
  const TensorSlot& slot(int32_t index) const { return tensors[index]; }
  int64_t elements(int32_t index) const { return tensors[index].elements(); }
};

struct OpDef {
  const char* name;
  void (*validate)(const StepView& v);
  // Null prepare: no state. Returns state for run (may be null).
  std::unique_ptr<OpState> (*prepare)(PrepareContext& ctx, const Step& step);
  void (*run)(RunContext& ctx, const Step& step, const OpState* state);
  // Output 0 may share the arena bytes of input 0 exactly (element-wise ops; copies skip then).
  bool in_place = false;
  // Pure copies: an exact alias of output 0 and input 0 leaves the input's value intact.
  bool copy = false;
};

// All ops, built once. nullptr for an unknown name.
const OpDef* find_op(const std::string& name);

// Registration per family (ops/*.cc).
void register_elementwise_ops(std::vector<OpDef>& ops);
void register_reduce_ops(std::vector<OpDef>& ops);
void register_softmax_ops(std::vector<OpDef>& ops);
void register_normalize_ops(std::vector<OpDef>& ops);
void register_shape_ops(std::vector<OpDef>& ops);
void register_control_ops(std::vector<OpDef>& ops);
void register_quantize_ops(std::vector<OpDef>& ops);
void register_quantized_add_ops(std::vector<OpDef>& ops);
void register_linear_ops(std::vector<OpDef>& ops);
void register_qlinear_ops(std::vector<OpDef>& ops);
void register_pool_ops(std::vector<OpDef>& ops);
void register_normalization_ops(std::vector<OpDef>& ops);  // BatchNormalization, InstanceNormalization
void register_indexing_ops(std::vector<OpDef>& ops);       // GatherElements, CumSum, Resize
void register_integer_matmul_ops(std::vector<OpDef>& ops);
void register_rnn_ops(std::vector<OpDef>& ops);

// ------------------------------------------------------------------ shared helpers for ops
// Strided iteration over an output of `rank` dims: operand 0 is the output (contiguous), operands 1..3
// inputs (element strides; 0 for a broadcast dim). Dims of size 1 are dropped and contiguous runs merged
// at prepare, so the innermost loop is as long as possible.
inline constexpr int kMaxOperands = 4;
struct StridedLoop {
  int rank = 0;  // after merging; 0 means a single element
  int operands = 0;
  int64_t dims[kMaxRank] = {};
  int64_t strides[kMaxOperands][kMaxRank] = {};
  int64_t total = 0;

  // Output dims plus inputs broadcast to them (right-aligned, contiguous).
  static StridedLoop broadcast(const std::vector<int64_t>& out_dims,
                               std::initializer_list<const std::vector<int64_t>*> in_dims);
  // Drops size-1 dims and merges dims that are contiguous for every operand; sets total.
  void merge();

  // body(offsets[kMaxOperands], inner_count, inner_strides[kMaxOperands]) for each innermost run.
  template <typename Body>
  void for_each_row(const Body& body) const {
    if (total == 0) return;
    int64_t off[kMaxOperands] = {0, 0, 0, 0};
    if (rank == 0) {
      const int64_t one[kMaxOperands] = {0, 0, 0, 0};
      body(off, int64_t{1}, one);
      return;
    }
    const int inner = rank - 1;
    const int64_t inner_count = dims[inner];
    const int64_t inner_strides[kMaxOperands] = {strides[0][inner], strides[1][inner], strides[2][inner],
                                                 strides[3][inner]};
    int64_t counter[kMaxRank] = {};
    const int64_t rows = total / inner_count;
    for (int64_t r = 0; r < rows; ++r) {
      body(off, inner_count, inner_strides);
      for (int d = inner - 1; d >= 0; --d) {
        if (++counter[d] < dims[d]) {
          for (int o = 0; o < operands; ++o) off[o] += strides[o][d];
          break;
        }
        counter[d] = 0;
        for (int o = 0; o < operands; ++o) off[o] -= strides[o][d] * (dims[d] - 1);
      }
    }
  }
};

// Half-precision conversions (Cast).
using edgeinfer::float_to_half;
using edgeinfer::half_to_float;

}  // namespace edgeinfer::runtime
