// ReduceMean / ReduceMax / ReduceMin / ReduceSum / ReduceProd / ReduceL2 over any set of axes. The input
// is walked once in memory order; each element folds into its output element (stride 0 along reduced
// axes), so reducing inner or outer axes are both single passes. ints = [keepdims, axis...]; no axes
// means all axes.
#include <cmath>
#include <limits>

#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

enum class Reduce { kMean, kMax, kMin, kSum, kProd, kL2 };

struct ReduceState : OpState {
  StridedLoop loop;  // operand 0: input (contiguous), operand 1: output (0 along reduced axes)
  int64_t count = 1;  // elements folded into each output
};

std::vector<char> reduced_axes(const Step& step, size_t rank) {
  std::vector<char> reduced(rank, step.ints.size() <= 1 ? 1 : 0);
  for (size_t i = 1; i < step.ints.size(); ++i) reduced[static_cast<size_t>(step.ints[i])] = 1;
  return reduced;
}

template <Reduce R>
void reduce_validate(const StepView& v) {
  v.inputs(1, 2);  // an ONNX axes input may ride along
  v.outputs(1, 1);
  v.ints_at_least(1);
  v.floats(0);
  const TensorSlot& in = v.in(0);
  if constexpr (R == Reduce::kMean || R == Reduce::kL2) {
    v.dtype_in(0, {DType::kFloat32, DType::kFloat64});
  } else {
    v.dtype_in(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64});
  }
  v.same_dtype(in, "input", v.out(0), "output");
  const int64_t keepdims = v.step().ints[0];
  if (keepdims != 0 && keepdims != 1) v.fail("keepdims must be 0 or 1");
  const size_t rank = in.dims.size();
  std::vector<char> seen(rank, 0);
  for (size_t i = 1; i < v.step().ints.size(); ++i) {
    const int64_t axis = v.axis(v.step().ints[i], rank, "axis");
    if (seen[static_cast<size_t>(axis)]) v.fail("axis " + std::to_string(axis) + " is repeated");
    seen[static_cast<size_t>(axis)] = 1;
  }
  const std::vector<char> reduced = reduced_axes(v.step(), rank);
  std::vector<int64_t> dims;
  for (size_t d = 0; d < rank; ++d) {
    if (!reduced[d]) dims.push_back(in.dims[d]);
    else if (keepdims) dims.push_back(1);
  }
  v.dims_equal(v.out(0).dims, dims, "output");
}

template <Reduce R>
std::unique_ptr<OpState> reduce_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& in = ctx.plan.tensors[step.inputs[0]];
  const int rank = static_cast<int>(in.dims.size());
  const std::vector<char> reduced = reduced_axes(step, static_cast<size_t>(rank));
  auto state = std::make_unique<ReduceState>();
  StridedLoop& loop = state->loop;
  loop.operands = 2;
  loop.rank = rank;
  int64_t s_in = 1, s_out = 1;
  for (int d = rank - 1; d >= 0; --d) {
    const int64_t dim = in.dims[static_cast<size_t>(d)];
    loop.dims[d] = dim;
    loop.strides[0][d] = s_in;
    loop.strides[1][d] = reduced[static_cast<size_t>(d)] ? 0 : s_out;
    s_in *= dim;
    if (!reduced[static_cast<size_t>(d)]) s_out *= dim;
    else state->count *= dim;
  }
  loop.merge();
  ctx.kernel = "reduce";
  return state;
}

template <Reduce R, typename T>
inline T reduce_identity() {
  if constexpr (R == Reduce::kMax) return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
  if constexpr (R == Reduce::kMin) return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  if constexpr (R == Reduce::kProd) return T(1);
  return T(0);
}

template <typename T>
constexpr bool is_nan(T a) {
  if constexpr (std::is_floating_point_v<T>) return a != a;
  else return false;
}

// ReduceMax / ReduceMin propagate NaN: a NaN anywhere in the reduced elements gives NaN (IEEE maximum /
// minimum, numpy, PyTorch). ONNX Runtime 1.30 on x86 keeps a NaN only when it is the first element folded
// (measured: as a fold acc = x > acc ? x : acc seeded with that element; Eigen's alignment can move which
// element that is), an artefact of its loop order that turns NaN into a finite maximum: not copied.
// +-inf are ordinary values for both.
template <Reduce R, typename T>
inline T fold(T acc, T x) {
  if constexpr (R == Reduce::kMax) return ((x > acc) | is_nan(x)) ? x : acc;  // |: branch-free
  if constexpr (R == Reduce::kMin) return ((x < acc) | is_nan(x)) ? x : acc;
  if constexpr (R == Reduce::kProd) {
    if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<std::make_unsigned_t<T>>(acc) * static_cast<std::make_unsigned_t<T>>(x));
    else return acc * x;
  }
  if constexpr (R == Reduce::kL2) return acc + x * x;
  if constexpr (std::is_integral_v<T>) return static_cast<T>(static_cast<std::make_unsigned_t<T>>(acc) + static_cast<std::make_unsigned_t<T>>(x));
  else return acc + x;
}

template <Reduce R, typename T>
void reduce_typed(const ReduceState& s, const T* x, T* y, int64_t out_count) {
  const T identity = reduce_identity<R, T>();
  for (int64_t i = 0; i < out_count; ++i) y[i] = identity;
  s.loop.for_each_row([&](const int64_t* off, int64_t n, const int64_t* st) {
    const T* xx = x + off[0];
    T* yy = y + off[1];
    if (st[1] == 0) {
      // Reduce the contiguous run into one output; 4 partial accumulators.
      T acc[4] = {identity, identity, identity, identity};
      int64_t i = 0;
      for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; ++k) acc[k] = fold<R, T>(acc[k], xx[i + k]);
      T total = *yy;
      for (int k = 0; k < 4; ++k) {
        if constexpr (R == Reduce::kL2) total = total + acc[k];
        else total = fold<R, T>(total, acc[k]);
      }
      for (; i < n; ++i) total = fold<R, T>(total, xx[i]);
      *yy = total;
    } else {
      for (int64_t i = 0; i < n; ++i) yy[i] = fold<R, T>(yy[i], xx[i]);
    }
  });
  if constexpr (R == Reduce::kMean) {
    const T scale = T(1) / static_cast<T>(s.count);
    for (int64_t i = 0; i < out_count; ++i) y[i] = s.count == 0 ? std::numeric_limits<T>::quiet_NaN() : y[i] * scale;
  }
  if constexpr (R == Reduce::kL2) {
    for (int64_t i = 0; i < out_count; ++i) y[i] = std::sqrt(y[i]);
  }
}

template <Reduce R>
void reduce_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const ReduceState*>(state);
  const int64_t out_count = ctx.elements(step.outputs[0]);
  const void* x = ctx.ptr[step.inputs[0]];
  void* y = ctx.ptr[step.outputs[0]];
  switch (ctx.slot(step.outputs[0]).dtype) {
    case DType::kFloat32: reduce_typed<R>(s, static_cast<const float*>(x), static_cast<float*>(y), out_count); return;
    case DType::kFloat64: reduce_typed<R>(s, static_cast<const double*>(x), static_cast<double*>(y), out_count); return;
    default: break;
  }
  if constexpr (R != Reduce::kMean && R != Reduce::kL2) {
    switch (ctx.slot(step.outputs[0]).dtype) {
      case DType::kInt32: reduce_typed<R>(s, static_cast<const int32_t*>(x), static_cast<int32_t*>(y), out_count); return;
      case DType::kInt64: reduce_typed<R>(s, static_cast<const int64_t*>(x), static_cast<int64_t*>(y), out_count); return;
      default: return;
    }
  }
}

template <Reduce R>
OpDef reduce_op(const char* name) {
  return OpDef{name, &reduce_validate<R>, &reduce_prepare<R>, &reduce_run<R>};
}

}  // namespace

void register_reduce_ops(std::vector<OpDef>& ops) {
  ops.push_back(reduce_op<Reduce::kMean>("ReduceMean"));
  ops.push_back(reduce_op<Reduce::kMax>("ReduceMax"));
  ops.push_back(reduce_op<Reduce::kMin>("ReduceMin"));
  ops.push_back(reduce_op<Reduce::kSum>("ReduceSum"));
  ops.push_back(reduce_op<Reduce::kProd>("ReduceProd"));
  ops.push_back(reduce_op<Reduce::kL2>("ReduceL2"));
}

}  // namespace edgeinfer::runtime
