// Data movement: Transpose, Concat, Split, Slice, Gather, Pad, Expand and the pure copies (Reshape,
// Flatten, Squeeze, Unsqueeze, Identity). Type-agnostic: elements are moved by size.
#include <algorithm>
#include <cstring>
#include <limits>

#include "runtime/executor.h"
#include "runtime/ops/dtype_dispatch.h"

namespace edgeinfer::runtime {
namespace {

void copy_bytes(void* dst, const void* src, int64_t bytes) {
  if (dst != src && bytes > 0) std::memmove(dst, src, static_cast<size_t>(bytes));
}

struct LoopState : OpState {
  StridedLoop loop;
  int64_t base = 0;  // element offset of the first input element (Slice)
};

// Strided gather-copy of an output through `loop` (operand 1 = input).
void strided_copy(const StridedLoop& loop, size_t esize, const uint8_t* src, uint8_t* dst) {
  dispatch_size(esize, [&](auto tag) {
    using T = decltype(tag);
    const T* in = reinterpret_cast<const T*>(src);
    T* out = reinterpret_cast<T*>(dst);
    loop.for_each_row([&](const int64_t* off, int64_t n, const int64_t* s) {
      T* o = out + off[0];
      const T* i = in + off[1];
      if (s[1] == 1) {
        std::memcpy(o, i, static_cast<size_t>(n) * sizeof(T));
      } else if (s[1] == 0) {
        const T v = *i;
        for (int64_t k = 0; k < n; ++k) o[k] = v;
      } else {
        const int64_t st = s[1];
        for (int64_t k = 0; k < n; ++k) o[k] = i[k * st];
      }
    });
  });
}

// ------------------------------------------------------------------ copies
void copy_validate(const StepView& v) {
  v.inputs(1, 2);  // an ONNX shape / axes input may ride along; only input 0 is read
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.same_dtype(v.in(0), "input", v.out(0), "output");
  if (v.in(0).elements() != v.out(0).elements())
    v.fail("input " + dims_string(v.in(0).dims) + " and output " + dims_string(v.out(0).dims) +
           " have different element counts");
}

std::unique_ptr<OpState> copy_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& in = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& out = ctx.plan.tensors[step.outputs[0]];
  ctx.kernel = in.storage == Storage::kArena && out.storage == Storage::kArena && in.offset == out.offset ? "skip" : "copy";
  return nullptr;
}

void copy_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& out = ctx.slot(step.outputs[0]);
  copy_bytes(ctx.ptr[step.outputs[0]], ctx.ptr[step.inputs[0]], out.bytes());
}

OpDef copy_op(const char* name) {
  OpDef def{name, &copy_validate, &copy_prepare, &copy_run};
  def.copy = true;
  return def;
}

// ------------------------------------------------------------------ Expand
void expand_validate(const StepView& v) {
  v.inputs(1, 2);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.same_dtype(v.in(0), "input", v.out(0), "output");
  std::vector<int64_t> dims;
  if (!broadcast_dims({&v.in(0).dims, &v.out(0).dims}, dims) || dims != v.out(0).dims)
    v.fail("input " + dims_string(v.in(0).dims) + " does not broadcast to output " + dims_string(v.out(0).dims));
}

std::unique_ptr<OpState> expand_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<LoopState>();
  state->loop = StridedLoop::broadcast(ctx.plan.tensors[step.outputs[0]].dims, {&ctx.plan.tensors[step.inputs[0]].dims});
  ctx.kernel = "broadcast_copy";
  return state;
}

void expand_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const LoopState*>(state);
  if (ctx.elements(step.inputs[0]) == ctx.elements(step.outputs[0])) {
    copy_bytes(ctx.ptr[step.outputs[0]], ctx.ptr[step.inputs[0]], ctx.slot(step.outputs[0]).bytes());
    return;
  }
  strided_copy(s->loop, dtype_size(ctx.slot(step.outputs[0]).dtype), ctx.ptr[step.inputs[0]], ctx.ptr[step.outputs[0]]);
}

// ------------------------------------------------------------------ Transpose
void transpose_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.floats(0);
  const TensorSlot& in = v.in(0);
  const size_t rank = in.dims.size();
  v.ints(rank);
  v.same_dtype(in, "input", v.out(0), "output");
  std::vector<char> seen(rank, 0);
  std::vector<int64_t> dims(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t p = v.step().ints[i];
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)]) v.fail("perm is not a permutation");
    seen[static_cast<size_t>(p)] = 1;
    dims[i] = in.dims[static_cast<size_t>(p)];
  }
  v.dims_equal(v.out(0).dims, dims, "output");
}

std::unique_ptr<OpState> transpose_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& in = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& out = ctx.plan.tensors[step.outputs[0]];
  const int rank = static_cast<int>(in.dims.size());
  int64_t in_strides[kMaxRank];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    in_strides[d] = s;
    s *= in.dims[static_cast<size_t>(d)];
  }
  auto state = std::make_unique<LoopState>();
  StridedLoop& loop = state->loop;
  loop.operands = 2;
  loop.rank = rank;
  s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    loop.dims[d] = out.dims[static_cast<size_t>(d)];
    loop.strides[0][d] = s;
    loop.strides[1][d] = in_strides[step.ints[static_cast<size_t>(d)]];
    s *= out.dims[static_cast<size_t>(d)];
  }
  loop.merge();
  ctx.kernel = loop.rank <= 1 ? "copy" : "transpose";
  return state;
}

// A merged loop of rank 2 (or a batch of them) whose innermost input stride is not 1: the NCHW <-> NHWC
// transposes at the ends of a channels-last trunk. Tiles of kTile x kTile keep both the reads (columns of the
// input) and the writes within a few cache lines each, where the row walk above reads every element of an
// output row from a different input row (and, with 3 channels, pays its per-row overhead every 3 elements).
bool tiled_transpose_fits(const StridedLoop& loop) {
  return (loop.rank == 2 || loop.rank == 3) && loop.strides[1][loop.rank - 1] != 1;
}

// out[i][0..C) = in[0..C)[i]: a few planes interleaved into contiguous pixels (an RGB image into NHWC). With C a
// constant the compiler turns the inner loop into shuffles; the generic tile walk spent ~2 cycles an element
// on index arithmetic (a 224x224x3 image: 94 us -> ~25 us).
template <class T, int C>
void interleave_planes(const T* in, int64_t plane_stride, T* out, int64_t pixels) {
  const T* planes[C];
  for (int c = 0; c < C; ++c) planes[c] = in + c * plane_stride;
  for (int64_t i = 0; i < pixels; ++i)
    for (int c = 0; c < C; ++c) out[i * C + c] = planes[c][i];
}

template <class T>
bool interleave_small(int64_t rows, int64_t cols, int64_t out_row, int64_t out_col, int64_t in_row, int64_t in_col,
                      const T* in, T* out) {
  if (out_col != 1 || out_row != cols || in_row != 1) return false;
  switch (cols) {
    case 2: interleave_planes<T, 2>(in, in_col, out, rows); return true;
    case 3: interleave_planes<T, 3>(in, in_col, out, rows); return true;
    case 4: interleave_planes<T, 4>(in, in_col, out, rows); return true;
    default: return false;
  }
}

template <class T>
void tiled_transpose(const StridedLoop& loop, const T* in, T* out) {
  constexpr int64_t kTile = 32;
  const int r = loop.rank;
  const int64_t batches = r == 3 ? loop.dims[0] : 1;
  const int64_t out_batch = r == 3 ? loop.strides[0][0] : 0, in_batch = r == 3 ? loop.strides[1][0] : 0;
  const int64_t rows = loop.dims[r - 2], cols = loop.dims[r - 1];
  const int64_t out_row = loop.strides[0][r - 2], out_col = loop.strides[0][r - 1];
  const int64_t in_row = loop.strides[1][r - 2], in_col = loop.strides[1][r - 1];
  for (int64_t b = 0; b < batches; ++b) {
    const T* ib = in + b * in_batch;
    T* ob = out + b * out_batch;
    if (interleave_small(rows, cols, out_row, out_col, in_row, in_col, ib, ob)) continue;
    for (int64_t i0 = 0; i0 < rows; i0 += kTile) {
      const int64_t i1 = std::min(rows, i0 + kTile);
      for (int64_t j0 = 0; j0 < cols; j0 += kTile) {
        const int64_t j1 = std::min(cols, j0 + kTile);
        for (int64_t i = i0; i < i1; ++i)
          for (int64_t j = j0; j < j1; ++j) ob[i * out_row + j * out_col] = ib[i * in_row + j * in_col];
      }
    }
  }
}

void transpose_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const LoopState*>(state);
  const size_t esize = dtype_size(ctx.slot(step.outputs[0]).dtype);
  if (tiled_transpose_fits(s->loop)) {
    dispatch_size(esize, [&](auto tag) {
      using T = decltype(tag);
      tiled_transpose(s->loop, reinterpret_cast<const T*>(ctx.ptr[step.inputs[0]]), reinterpret_cast<T*>(ctx.ptr[step.outputs[0]]));
    });
    return;
  }
  strided_copy(s->loop, esize, ctx.ptr[step.inputs[0]], ctx.ptr[step.outputs[0]]);
}

// ------------------------------------------------------------------ Slice
void slice_validate(const StepView& v) {
  v.inputs(1, 1);
  v.outputs(1, 1);
  v.floats(0);
  const TensorSlot& in = v.in(0);
  const TensorSlot& out = v.out(0);
  const size_t rank = in.dims.size();
  v.ints(2 * rank);
  v.same_dtype(in, "input", out, "output");
  if (out.dims.size() != rank) v.fail("output rank differs from the input rank");
  for (size_t d = 0; d < rank; ++d) {
    const int64_t start = v.step().ints[d], step = v.step().ints[rank + d];
    const int64_t count = out.dims[d], dim = in.dims[d];
    if (step == 0) v.fail("axis " + std::to_string(d) + ": step is 0");
    if (count == 0) continue;
    const __int128 last = static_cast<__int128>(start) + static_cast<__int128>(count - 1) * step;
    if (start < 0 || start >= dim || last < 0 || last >= dim)
      v.fail("axis " + std::to_string(d) + ": start " + std::to_string(start) + ", step " + std::to_string(step) +
             ", count " + std::to_string(count) + " leave the input dim " + std::to_string(dim));
  }
}

std::unique_ptr<OpState> slice_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& in = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& out = ctx.plan.tensors[step.outputs[0]];
  const int rank = static_cast<int>(in.dims.size());
  auto state = std::make_unique<LoopState>();
  StridedLoop& loop = state->loop;
  loop.operands = 2;
  loop.rank = rank;
  int64_t s_in = 1, s_out = 1;
  for (int d = rank - 1; d >= 0; --d) {
    loop.dims[d] = out.dims[static_cast<size_t>(d)];
    loop.strides[0][d] = s_out;
    loop.strides[1][d] = s_in * step.ints[static_cast<size_t>(rank + d)];
    state->base += s_in * step.ints[static_cast<size_t>(d)];
    s_out *= out.dims[static_cast<size_t>(d)];
    s_in *= in.dims[static_cast<size_t>(d)];
  }
  loop.merge();
  ctx.kernel = "slice";
  return state;
}

void slice_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const LoopState*>(state);
  const size_t esize = dtype_size(ctx.slot(step.outputs[0]).dtype);
  if (s->loop.total == 0) return;
  strided_copy(s->loop, esize, ctx.ptr[step.inputs[0]] + s->base * static_cast<int64_t>(esize), ctx.ptr[step.outputs[0]]);
}

// ------------------------------------------------------------------ Concat / Split
void concat_validate(const StepView& v) {
  v.inputs(1, 4096);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  const TensorSlot& out = v.out(0);
  const int64_t axis = v.axis(v.step().ints[0], out.dims.size(), "axis");
  int64_t sum = 0;
  for (size_t i = 0; i < v.n_in(); ++i) {
    const TensorSlot& in = v.in(i);
    v.same_dtype(in, "input", out, "output");
    if (in.dims.size() != out.dims.size()) v.fail("input " + std::to_string(i) + " has a different rank");
    for (size_t d = 0; d < out.dims.size(); ++d)
      if (static_cast<int64_t>(d) != axis && in.dims[d] != out.dims[d])
        v.fail("input " + std::to_string(i) + " " + dims_string(in.dims) + " does not match output " + dims_string(out.dims) +
               " outside the axis");
    sum += in.dims[static_cast<size_t>(axis)];
  }
  if (sum != out.dims[static_cast<size_t>(axis)])
    v.fail("inputs sum to " + std::to_string(sum) + " along the axis, output has " + std::to_string(out.dims[static_cast<size_t>(axis)]));
}

void concat_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& out = ctx.slot(step.outputs[0]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  const int64_t esize = static_cast<int64_t>(dtype_size(out.dtype));
  const int64_t outer = product(out.dims, 0, axis);
  const int64_t inner = product(out.dims, axis + 1) * esize;
  const int64_t out_row = out.dims[axis] * inner;
  uint8_t* dst = ctx.ptr[step.outputs[0]];
  int64_t offset = 0;
  for (const int32_t slot : step.inputs) {
    const int64_t row = ctx.slot(slot).dims[axis] * inner;
    const uint8_t* src = ctx.ptr[slot];
    if (row > 0)
      for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * out_row + offset, src + o * row, static_cast<size_t>(row));
    offset += row;
  }
}

void split_validate(const StepView& v) {
  v.inputs(1, 2);  // an ONNX split-sizes input may ride along
  v.outputs(1, 4096);
  v.ints(1);
  v.floats(0);
  const TensorSlot& in = v.in(0);
  const int64_t axis = v.axis(v.step().ints[0], in.dims.size(), "axis");
  int64_t sum = 0;
  for (size_t i = 0; i < v.n_out(); ++i) {
    const TensorSlot& out = v.out(i);
    v.same_dtype(in, "input", out, "output");
    if (in.dims.size() != out.dims.size()) v.fail("output " + std::to_string(i) + " has a different rank");
    for (size_t d = 0; d < in.dims.size(); ++d)
      if (static_cast<int64_t>(d) != axis && in.dims[d] != out.dims[d])
        v.fail("output " + std::to_string(i) + " " + dims_string(out.dims) + " does not match input " + dims_string(in.dims) +
               " outside the axis");
    sum += out.dims[static_cast<size_t>(axis)];
  }
  if (sum != in.dims[static_cast<size_t>(axis)])
    v.fail("outputs sum to " + std::to_string(sum) + " along the axis, input has " + std::to_string(in.dims[static_cast<size_t>(axis)]));
}

void split_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& in = ctx.slot(step.inputs[0]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  const int64_t esize = static_cast<int64_t>(dtype_size(in.dtype));
  const int64_t outer = product(in.dims, 0, axis);
  const int64_t inner = product(in.dims, axis + 1) * esize;
  const int64_t in_row = in.dims[axis] * inner;
  const uint8_t* src = ctx.ptr[step.inputs[0]];
  int64_t offset = 0;
  for (const int32_t slot : step.outputs) {
    const int64_t row = ctx.slot(slot).dims[axis] * inner;
    uint8_t* dst = ctx.ptr[slot];
    if (row > 0)
      for (int64_t o = 0; o < outer; ++o) std::memcpy(dst + o * row, src + o * in_row + offset, static_cast<size_t>(row));
    offset += row;
  }
}

// ------------------------------------------------------------------ Gather
struct GatherState : OpState {
  std::vector<int64_t> table;  // normalised constant indices (empty: read per run)
};

void gather_validate(const StepView& v) {
  v.inputs(2, 2);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  const TensorSlot& data = v.in(0);
  const TensorSlot& idx = v.in(1);
  v.dtype_in(1, {DType::kInt32, DType::kInt64});
  v.same_dtype(data, "data", v.out(0), "output");
  if (data.dims.empty()) v.fail("data must have rank >= 1");
  const size_t axis = static_cast<size_t>(v.axis(v.step().ints[0], data.dims.size(), "axis"));
  std::vector<int64_t> dims(data.dims.begin(), data.dims.begin() + static_cast<std::ptrdiff_t>(axis));
  dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
  dims.insert(dims.end(), data.dims.begin() + static_cast<std::ptrdiff_t>(axis) + 1, data.dims.end());
  v.dims_equal(v.out(0).dims, dims, "output");
  if (dims.size() > static_cast<size_t>(kMaxRank)) v.fail("output rank exceeds " + std::to_string(kMaxRank));
  if (idx.storage == Storage::kConstant) {
    const int64_t limit = data.dims[axis];
    const int64_t n = idx.elements();
    for (int64_t i = 0; i < n; ++i) {
      int64_t k;
      if (idx.dtype == DType::kInt32) {
        int32_t k32;
        std::memcpy(&k32, idx.constant->data() + i * 4, 4);
        k = k32;
      } else {
        std::memcpy(&k, idx.constant->data() + i * 8, 8);
      }
      if (k < -limit || k >= limit)
        v.fail("index " + std::to_string(k) + " is out of range for axis dim " + std::to_string(limit));
    }
  }
}

int64_t load_index(const uint8_t* p, bool i32, int64_t i) {
  if (i32) {
    int32_t k;
    std::memcpy(&k, p + i * 4, 4);
    return k;
  }
  int64_t k;
  std::memcpy(&k, p + i * 8, 8);
  return k;
}

std::unique_ptr<OpState> gather_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<GatherState>();
  const TensorSlot& data = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& idx = ctx.plan.tensors[step.inputs[1]];
  if (idx.storage == Storage::kConstant) {
    const int64_t limit = data.dims[static_cast<size_t>(step.ints[0])];
    const int64_t n = idx.elements();
    state->table.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = load_index(idx.constant->data(), idx.dtype == DType::kInt32, i);
      state->table[static_cast<size_t>(i)] = k < 0 ? k + limit : k;
    }
  }
  ctx.kernel = "gather";
  return state;
}

void gather_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const GatherState*>(state);
  const TensorSlot& data = ctx.slot(step.inputs[0]);
  const TensorSlot& idx = ctx.slot(step.inputs[1]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  const int64_t esize = static_cast<int64_t>(dtype_size(data.dtype));
  const int64_t outer = product(data.dims, 0, axis);
  const int64_t limit = data.dims[axis];
  const int64_t inner = product(data.dims, axis + 1);
  const int64_t n = idx.elements();
  const bool constant = idx.storage == Storage::kConstant;
  const uint8_t* ip = ctx.ptr[step.inputs[1]];
  const bool i32 = idx.dtype == DType::kInt32;
  if (!constant) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = load_index(ip, i32, i);
      if (k < -limit || k >= limit)
        fail(ErrorCode::kInvalidArgument, "Gather '" + step.name + "': index " + std::to_string(k) +
                                              " is out of range for axis dim " + std::to_string(limit));
    }
  }
  const uint8_t* src = ctx.ptr[step.inputs[0]];
  uint8_t* dst = ctx.ptr[step.outputs[0]];
  const int64_t row = inner * esize;
  dispatch_size(static_cast<size_t>(esize), [&](auto tag) {
    using T = decltype(tag);
    for (int64_t o = 0; o < outer; ++o) {
      const uint8_t* base = src + o * limit * row;
      uint8_t* out = dst + o * n * row;
      for (int64_t i = 0; i < n; ++i) {
        int64_t k = constant ? s->table[static_cast<size_t>(i)] : load_index(ip, i32, i);
        if (k < 0) k += limit;
        if (inner == 1) {
          reinterpret_cast<T*>(out)[i] = reinterpret_cast<const T*>(base)[k];
        } else {
          std::memcpy(out + i * row, base + k * row, static_cast<size_t>(row));
        }
      }
    }
  });
}

// ------------------------------------------------------------------ Pad
struct PadState : OpState {
  uint64_t value = 0;  // the pad value in the tensor's dtype, as raw bytes
};

void pad_validate(const StepView& v) {
  v.inputs(1, 4);  // ONNX pads / value / axes inputs may ride along; only input 0 is read
  v.outputs(1, 1);
  v.floats(1);
  const TensorSlot& in = v.in(0);
  const TensorSlot& out = v.out(0);
  const size_t rank = in.dims.size();
  v.ints(1 + 2 * rank);
  v.same_dtype(in, "input", out, "output");
  const int64_t mode = v.step().ints[0];
  if (mode < 0 || mode > 2) v.fail("unknown pad mode " + std::to_string(mode));
  if (out.dims.size() != rank) v.fail("output rank differs from the input rank");
  for (size_t d = 0; d < rank; ++d) {
    const int64_t pb = v.step().ints[1 + d], pe = v.step().ints[1 + rank + d];
    if (pb < -kMaxDim || pb > kMaxDim || pe < -kMaxDim || pe > kMaxDim) v.fail("pad out of range");
    if (in.dims[d] + pb + pe != out.dims[d])
      v.fail("axis " + std::to_string(d) + ": input " + std::to_string(in.dims[d]) + " + pads " + std::to_string(pb) + ", " +
             std::to_string(pe) + " != output " + std::to_string(out.dims[d]));
    if (mode != 0 && in.dims[d] == 0 && out.dims[d] > 0) v.fail("reflect / edge padding of an empty axis");
  }
}

std::unique_ptr<OpState> pad_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<PadState>();
  const DType d = ctx.plan.tensors[step.outputs[0]].dtype;
  const float value = step.floats[0];
  dispatch_any(d, [&](auto tag) {
    using T = typename decltype(tag)::type;
    T v;
    if constexpr (decltype(tag)::value == DType::kFloat16) v = float_to_half(value);
    else if constexpr (decltype(tag)::value == DType::kBool) v = value != 0.0f;
    else if constexpr (std::is_integral_v<T>) {
      // Saturate (a crafted value must not be UB).
      const double x = value;
      v = !(x == x) ? T(0)
          : x <= static_cast<double>(std::numeric_limits<T>::lowest()) ? std::numeric_limits<T>::lowest()
          : x >= static_cast<double>(std::numeric_limits<T>::max()) ? std::numeric_limits<T>::max()
                                                                     : static_cast<T>(x);
    } else v = static_cast<T>(value);
    std::memcpy(&state->value, &v, sizeof(T));
  });
  ctx.kernel = "pad";
  return state;
}

// Maps an output coordinate to an input coordinate, or -1 for the constant value.
inline int64_t pad_source(int64_t o, int64_t pad_begin, int64_t dim, int64_t mode) {
  int64_t i = o - pad_begin;
  if (i >= 0 && i < dim) return i;
  if (mode == 0) return -1;
  if (mode == 2) return i < 0 ? 0 : dim - 1;
  if (dim == 1) return 0;
  const int64_t period = 2 * (dim - 1);  // reflect without repeating the edge
  int64_t m = i % period;
  if (m < 0) m += period;
  return m < dim ? m : period - m;
}

void pad_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const PadState*>(state);
  const TensorSlot& in = ctx.slot(step.inputs[0]);
  const TensorSlot& out = ctx.slot(step.outputs[0]);
  const int rank = static_cast<int>(in.dims.size());
  const int64_t mode = step.ints[0];
  const int64_t total = out.elements();
  if (total == 0) return;
  dispatch_size(dtype_size(out.dtype), [&](auto tag) {
    using T = decltype(tag);
    T value;
    std::memcpy(&value, &s->value, sizeof(T));
    const T* src = ctx.t<const T>(step.inputs[0]);
    T* dst = ctx.t<T>(step.outputs[0]);
    if (rank == 0) {
      dst[0] = src[0];
      return;
    }
    int64_t in_strides[kMaxRank];
    int64_t st = 1;
    for (int d = rank - 1; d >= 0; --d) {
      in_strides[d] = st;
      st *= in.dims[static_cast<size_t>(d)];
    }
    const int last = rank - 1;
    const int64_t width = out.dims[static_cast<size_t>(last)];
    const int64_t in_width = in.dims[static_cast<size_t>(last)];
    const int64_t pb_last = step.ints[static_cast<size_t>(1 + last)];
    const int64_t rows = total / width;
    int64_t counter[kMaxRank] = {};
    for (int64_t r = 0; r < rows; ++r) {
      T* o = dst + r * width;
      // Source row for the outer coordinates.
      int64_t src_row = 0;
      bool constant_row = false;
      for (int d = 0; d < last; ++d) {
        const int64_t i = pad_source(counter[d], step.ints[static_cast<size_t>(1 + d)], in.dims[static_cast<size_t>(d)], mode);
        if (i < 0) {
          constant_row = true;
          break;
        }
        src_row += i * in_strides[d];
      }
      if (constant_row) {
        for (int64_t k = 0; k < width; ++k) o[k] = value;
      } else {
        const T* row = src + src_row;
        for (int64_t k = 0; k < width; ++k) {
          const int64_t i = pad_source(k, pb_last, in_width, mode);
          o[k] = i < 0 ? value : row[i];
        }
      }
      for (int d = last - 1; d >= 0; --d) {
        if (++counter[d] < out.dims[static_cast<size_t>(d)]) break;
        counter[d] = 0;
      }
    }
  });
}

}  // namespace

void register_shape_ops(std::vector<OpDef>& ops) {
  for (const char* name : {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}) ops.push_back(copy_op(name));
  ops.push_back(OpDef{"Expand", &expand_validate, &expand_prepare, &expand_run});
  ops.push_back(OpDef{"Transpose", &transpose_validate, &transpose_prepare, &transpose_run});
  ops.push_back(OpDef{"Slice", &slice_validate, &slice_prepare, &slice_run});
  ops.push_back(OpDef{"Concat", &concat_validate, nullptr, &concat_run});
  ops.push_back(OpDef{"Split", &split_validate, nullptr, &split_run});
  ops.push_back(OpDef{"Gather", &gather_validate, &gather_prepare, &gather_run});
  ops.push_back(OpDef{"Pad", &pad_validate, &pad_prepare, &pad_run});
}

}  // namespace edgeinfer::runtime
