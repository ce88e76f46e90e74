// Index-driven ops: GatherElements, CumSum and Resize (nearest / linear / cubic, any rank, separable: one
// 1-D resampling pass per resized axis through scratch, with index and weight tables built at prepare).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <type_traits>

#include "runtime/executor.h"
#include "runtime/ops/dtype_dispatch.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::runtime {
namespace {

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

template <typename Body>
void parallel(RunContext& ctx, int64_t count, int64_t grain, const Body& body) {
  if (ctx.pool != nullptr && count > grain) {
    ctx.pool->parallel_for(count, grain, body);
  } else if (count > 0) {
    body(int64_t{0}, count);
  }
}

// ------------------------------------------------------------------ GatherElements
// inputs [data, indices (int32 / int64)]; ints [axis]. out[i...] = data[i with i[axis] = indices[i...]].
void gather_elements_validate(const StepView& v) {
  v.inputs(2, 2);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(0);
  const TensorSlot& data = v.in(0);
  const TensorSlot& idx = v.in(1);
  v.dtype_in(1, {DType::kInt32, DType::kInt64});
  v.same_dtype(data, "data", v.out(0), "output");
  if (data.dims.empty()) v.fail("data must have rank >= 1");
  if (idx.dims.size() != data.dims.size()) v.fail("indices and data must have the same rank");
  const size_t axis = static_cast<size_t>(v.axis(v.step().ints[0], data.dims.size(), "axis"));
  v.dims_equal(v.out(0).dims, idx.dims, "output");
  // Off the axis, an index coordinate addresses data directly: it must lie inside data's dim.
  for (size_t d = 0; d < data.dims.size(); ++d)
    if (d != axis && idx.dims[d] > data.dims[d])
      v.fail("indices dim " + std::to_string(d) + " (" + std::to_string(idx.dims[d]) + ") exceeds the data dim (" +
             std::to_string(data.dims[d]) + ")");
  if (idx.storage == Storage::kConstant) {
    const int64_t limit = data.dims[axis];
    for (int64_t i = 0, n = idx.elements(); i < n; ++i) {
      const int64_t k = load_index(idx.constant->data(), idx.dtype == DType::kInt32, i);
      if (k < -limit || k >= limit)
        v.fail("index " + std::to_string(k) + " is out of range for axis dim " + std::to_string(limit));
    }
  }
}

std::unique_ptr<OpState> gather_elements_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = "gather_elements";
  return nullptr;
}

void gather_elements_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& data = ctx.slot(step.inputs[0]);
  const TensorSlot& idx = ctx.slot(step.inputs[1]);
  const int rank = static_cast<int>(data.dims.size());
  const int axis = static_cast<int>(step.ints[0]);
  const int64_t n = idx.elements();
  const int64_t limit = data.dims[static_cast<size_t>(axis)];
  const uint8_t* ip = ctx.ptr[step.inputs[1]];
  const bool i32 = idx.dtype == DType::kInt32;
  if (idx.storage != Storage::kConstant) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t k = load_index(ip, i32, i);
      if (k < -limit || k >= limit)
        fail(ErrorCode::kInvalidArgument, "GatherElements '" + step.name + "': index " + std::to_string(k) +
                                              " is out of range for axis dim " + std::to_string(limit));
    }
  }
  if (n == 0) return;
  int64_t stride[kMaxRank];
  int64_t s = 1;
  for (int d = rank - 1; d >= 0; --d) {
    stride[d] = s;
    s *= data.dims[static_cast<size_t>(d)];
  }
  const int64_t axis_stride = stride[axis];
  dispatch_size(dtype_size(data.dtype), [&](auto tag) {
    using T = decltype(tag);
    const T* src = ctx.t<const T>(step.inputs[0]);
    T* dst = ctx.t<T>(step.outputs[0]);
    int64_t coord[kMaxRank] = {};
    int64_t base = 0;  // data offset of the current coordinate, axis excluded
    for (int64_t i = 0; i < n; ++i) {
      int64_t k = load_index(ip, i32, i);
      if (k < 0) k += limit;
      dst[i] = src[base + k * axis_stride];
      for (int d = rank - 1; d >= 0; --d) {
        const int64_t extent = idx.dims[static_cast<size_t>(d)];
        if (d != axis) base += stride[d];
        if (++coord[d] < extent) break;
        if (d != axis) base -= stride[d] * extent;
        coord[d] = 0;
      }
    }
  });
}

// ------------------------------------------------------------------ CumSum
// inputs [x]; ints [axis, exclusive, reverse]. Integer sums wrap (two's complement), never overflow UB.
void cumsum_validate(const StepView& v) {
  v.inputs(1, 2);  // the ONNX axis input may ride along; only input 0 is read
  v.outputs(1, 1);
  v.ints(3);
  v.floats(0);
  const TensorSlot& x = v.in(0);
  v.dtype_in(0, {DType::kFloat32, DType::kFloat64, DType::kInt32, DType::kInt64, DType::kUint32, DType::kUint64});
  v.same_dtype(x, "input", v.out(0), "output");
  v.dims_equal(v.out(0).dims, x.dims, "output");
  if (x.dims.empty()) v.fail("input must have rank >= 1");
  v.axis(v.step().ints[0], x.dims.size(), "axis");
  for (size_t i = 1; i < 3; ++i)
    if (v.step().ints[i] != 0 && v.step().ints[i] != 1) v.fail("exclusive and reverse must be 0 or 1");
}

std::unique_ptr<OpState> cumsum_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = "cumsum";
  return nullptr;
}

template <typename T, bool = std::is_integral_v<T>> struct SumType { using type = T; };
template <typename T> struct SumType<T, true> { using type = std::make_unsigned_t<T>; };

template <typename T>
void cumsum_typed(RunContext& ctx, const Step& step) {
  using A = typename SumType<T>::type;
  const TensorSlot& xs = ctx.slot(step.inputs[0]);
  const size_t axis = static_cast<size_t>(step.ints[0]);
  const bool exclusive = step.ints[1] != 0, reverse = step.ints[2] != 0;
  const int64_t outer = product(xs.dims, 0, axis), len = xs.dims[axis], inner = product(xs.dims, axis + 1);
  const T* x = ctx.t<const T>(step.inputs[0]);
  T* y = ctx.t<T>(step.outputs[0]);
  if (outer == 0 || len == 0 || inner == 0) return;
  parallel(ctx, outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, len * inner)), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const T* xo = x + o * len * inner;
      T* yo = y + o * len * inner;
      // Position k of the scan (0 first) is row r(k) in memory; each row is a contiguous run of `inner`.
      const auto row = [&](int64_t k) { return (reverse ? len - 1 - k : k) * inner; };
      T* first = yo + row(0);
      if (exclusive) {
        for (int64_t i = 0; i < inner; ++i) first[i] = T{};
      } else {
        std::memcpy(first, xo + row(0), static_cast<size_t>(inner) * sizeof(T));
      }
      for (int64_t k = 1; k < len; ++k) {
        const T* prev = yo + row(k - 1);
        const T* add = xo + (exclusive ? row(k - 1) : row(k));
        T* cur = yo + row(k);
        for (int64_t i = 0; i < inner; ++i) cur[i] = static_cast<T>(static_cast<A>(prev[i]) + static_cast<A>(add[i]));
      }
    }
  });
}

void cumsum_run(RunContext& ctx, const Step& step, const OpState*) {
  switch (ctx.slot(step.inputs[0]).dtype) {
    case DType::kFloat32: cumsum_typed<float>(ctx, step); break;
    case DType::kFloat64: cumsum_typed<double>(ctx, step); break;
    case DType::kInt32: cumsum_typed<int32_t>(ctx, step); break;
    case DType::kInt64: cumsum_typed<int64_t>(ctx, step); break;
    case DType::kUint32: cumsum_typed<uint32_t>(ctx, step); break;
    case DType::kUint64: cumsum_typed<uint64_t>(ctx, step); break;
    default: break;  // validate admitted none other
  }
}

// ------------------------------------------------------------------ Resize
// inputs [x]; ints [mode, coordinate_mode, nearest_mode, exclude_outside]; floats [cubic_a,
// extrapolation_value, scales[r], roi_start[r], roi_end[r]]. Codes in plan.h. Coordinates are computed in
// float as ONNX Runtime does, so nearest picks the same element at ties.
enum ResizeMode : int64_t { kNearest = 0, kLinear = 1, kCubic = 2 };
enum CoordMode : int64_t {
  kHalfPixel = 0, kAsymmetric = 1, kPytorchHalfPixel = 2, kTfHalfPixelForNn = 3, kAlignCorners = 4,
  kTfCropAndResize = 5, kHalfPixelSymmetric = 6,
};
enum NearestMode : int64_t { kSimple = 0, kRoundPreferFloor = 1, kRoundPreferCeil = 2, kFloor = 3, kCeil = 4 };

void resize_validate(const StepView& v) {
  v.inputs(1, 4);  // ONNX roi / scales / sizes may ride along; only input 0 is read
  v.outputs(1, 1);
  v.ints(4);
  const TensorSlot& x = v.in(0);
  const TensorSlot& y = v.out(0);
  const size_t rank = x.dims.size();
  v.floats(2 + 3 * rank);
  v.same_dtype(x, "input", y, "output");
  if (rank == 0) v.fail("input must have rank >= 1");
  if (y.dims.size() != rank) v.fail("output rank differs from the input rank");
  const auto& ints = v.step().ints;
  if (ints[0] < kNearest || ints[0] > kCubic) v.fail("unknown mode " + std::to_string(ints[0]));
  if (ints[1] < kHalfPixel || ints[1] > kHalfPixelSymmetric) v.fail("unknown coordinate mode " + std::to_string(ints[1]));
  if (ints[2] < kSimple || ints[2] > kCeil) v.fail("unknown nearest mode " + std::to_string(ints[2]));
  if (ints[3] != 0 && ints[3] != 1) v.fail("exclude_outside must be 0 or 1");
  if (ints[0] != kNearest) v.dtype_in(0, {DType::kFloat32});
  const auto& floats = v.step().floats;
  for (size_t i = 0; i < floats.size(); ++i)
    if (!std::isfinite(floats[i])) v.fail("attribute float " + std::to_string(i) + " is not finite");
  for (size_t d = 0; d < rank; ++d) {
    if (!(floats[2 + d] > 0.0f)) v.fail("scale of axis " + std::to_string(d) + " must be > 0");
    if (x.dims[d] == 0 && y.dims[d] > 0 && y.elements() > 0)
      v.fail("axis " + std::to_string(d) + " resizes an empty input dim to " + std::to_string(y.dims[d]));
  }
}

struct AxisPass {
  size_t axis = 0;
  int taps = 1;
  int64_t in_len = 0, out_len = 0;
  int64_t outer = 0, inner = 0;     // of this pass's input (dims before / after the axis)
  std::vector<int64_t> index;       // out_len * taps input positions, clamped
  std::vector<float> weight;        // out_len * taps (float modes)
  std::vector<uint8_t> extrapolate; // out_len: the output position lies outside the crop (tf_crop_and_resize)
  bool identity = false;
};

struct ResizeState : OpState {
  std::vector<AxisPass> passes;
  size_t esize = 4;
  bool weighted = false;          // linear / cubic (float32)
  int64_t buffer_bytes[2] = {0, 0};
  uint64_t fill = 0;              // extrapolation value in the tensor's dtype (nearest), raw bytes
  float fill_f = 0.0f;
};

float original_coordinate(int64_t mode, float j, float scale, float out_len, float in_len, float roi_start, float roi_end) {
  switch (mode) {
    case kAsymmetric: return j / scale;
    case kPytorchHalfPixel: return out_len > 1 ? (j + 0.5f) / scale - 0.5f : 0.0f;
    case kTfHalfPixelForNn: return (j + 0.5f) / scale;
    case kAlignCorners: return out_len == 1 ? 0.0f : j * (in_len - 1) / (out_len - 1);
    case kTfCropAndResize:
      return out_len > 1 ? roi_start * (in_len - 1) + (j * (roi_end - roi_start) * (in_len - 1)) / (out_len - 1)
                         : static_cast<float>(0.5 * (roi_start + roi_end) * (in_len - 1));
    case kHalfPixelSymmetric: {
      const float adjustment = out_len / (scale * in_len);
      const float center = in_len / 2;
      const float offset = center * (1 - adjustment);
      return static_cast<float>(offset + (j + 0.5) / scale - 0.5);
    }
    default: return (j + 0.5f) / scale - 0.5f;  // half_pixel
  }
}

int64_t nearest_index(int64_t mode, float x, bool downsample) {
  switch (mode) {
    case kSimple: return downsample ? static_cast<int64_t>(std::ceil(x)) : static_cast<int64_t>(x);
    case kRoundPreferCeil: return static_cast<int64_t>(std::round(x));
    case kFloor: return static_cast<int64_t>(std::floor(x));
    case kCeil: return static_cast<int64_t>(std::ceil(x));
    default:
      if (x == static_cast<float>(static_cast<int64_t>(x)) + 0.5f) return static_cast<int64_t>(std::floor(x));
      return static_cast<int64_t>(std::round(x));
  }
}

void build_pass(AxisPass& p, const Step& step, size_t rank) {
  const int64_t mode = step.ints[0], coord = step.ints[1], nearest = step.ints[2];
  const bool exclude_outside = step.ints[3] != 0;
  const float cubic_a = step.floats[0];
  const float scale = step.floats[2 + p.axis];
  const float roi_start = step.floats[2 + rank + p.axis], roi_end = step.floats[2 + 2 * rank + p.axis];
  const int64_t L = p.in_len;
  const float lin = static_cast<float>(L), lout = static_cast<float>(p.out_len);
  p.taps = mode == kNearest ? 1 : mode == kLinear ? 2 : 4;
  p.index.assign(static_cast<size_t>(p.out_len * p.taps), 0);
  p.weight.assign(static_cast<size_t>(p.out_len * p.taps), 0.0f);
  p.extrapolate.assign(static_cast<size_t>(p.out_len), 0);
  const auto clamp = [L](int64_t i) { return std::min(std::max<int64_t>(i, 0), L - 1); };
  bool identity = p.out_len == L;
  for (int64_t j = 0; j < p.out_len; ++j) {
    const float fj = static_cast<float>(j);
    // ONNX Runtime takes the output position itself on an axis of scale 1 (nearest: except when cropping),
    // which matters where the formula is not the identity there (tf_half_pixel_for_nn, roi crops).
    const bool keep = scale == 1.0f && (mode != kNearest || coord != kTfCropAndResize);
    float x = keep ? fj : original_coordinate(coord, fj, scale, lout, lin, roi_start, roi_end);
    const size_t t0 = static_cast<size_t>(j * p.taps);
    if (coord == kTfCropAndResize && (x < 0.0f || x > lin - 1)) {
      p.extrapolate[static_cast<size_t>(j)] = 1;
      identity = false;
      continue;
    }
    if (mode == kNearest) {
      p.index[t0] = clamp(nearest_index(nearest, x, scale < 1.0f));
      p.weight[t0] = 1.0f;
    } else if (mode == kLinear) {
      x = std::max(0.0f, std::min(x, lin - 1));
      const int64_t i1 = std::min(static_cast<int64_t>(x), L - 1);
      const int64_t i2 = std::min(i1 + 1, L - 1);
      float d1 = std::fabs(x - static_cast<float>(i1)), d2 = std::fabs(x - static_cast<float>(i2));
      if (i1 == i2) d1 = d2 = 0.5f;
      p.index[t0] = i1;
      p.index[t0 + 1] = i2;
      p.weight[t0] = d2;
      p.weight[t0 + 1] = d1;
    } else {
      const float fx = std::floor(x);
      const int64_t xi = static_cast<int64_t>(fx);
      const float s = std::fabs(x - fx);
      const float A = cubic_a;
      float c[4] = {
          ((A * (s + 1) - 5 * A) * (s + 1) + 8 * A) * (s + 1) - 4 * A,
          ((A + 2) * s - (A + 3)) * s * s + 1,
          ((A + 2) * (1 - s) - (A + 3)) * (1 - s) * (1 - s) + 1,
          ((A * (2 - s) - 5 * A) * (2 - s) + 8 * A) * (2 - s) - 4 * A,
      };
      float sum = 0.0f;
      for (int t = 0; t < 4; ++t) {
        const int64_t at = xi - 1 + t;
        if (exclude_outside && (at < 0 || at >= L)) c[t] = 0.0f;
        sum += c[t];
      }
      for (int t = 0; t < 4; ++t) {
        p.index[t0 + static_cast<size_t>(t)] = clamp(xi - 1 + t);
        p.weight[t0 + static_cast<size_t>(t)] = exclude_outside && sum != 0.0f ? c[t] / sum : c[t];
      }
    }
    // Identity when every position reads itself with total weight 1 and nothing else.
    if (identity) {
      float self = 0.0f;
      bool others = false;
      for (int t = 0; t < p.taps; ++t) {
        const size_t k = t0 + static_cast<size_t>(t);
        if (p.index[k] == j) self += p.weight[k];
        else others = others || p.weight[k] != 0.0f;
      }
      identity = self == 1.0f && !others;
    }
  }
  p.identity = identity;
}

std::unique_ptr<OpState> resize_prepare(PrepareContext& ctx, const Step& step) {
  auto state = std::make_unique<ResizeState>();
  const TensorSlot& x = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& y = ctx.plan.tensors[step.outputs[0]];
  const size_t rank = x.dims.size();
  state->esize = dtype_size(x.dtype);
  state->weighted = step.ints[0] != kNearest;
  state->fill_f = step.floats[1];
  if (!state->weighted) {
    const float ev = step.floats[1];
    dispatch_any(x.dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      T value;
      if constexpr (decltype(tag)::value == DType::kFloat16) value = float_to_half(ev);
      else if constexpr (decltype(tag)::value == DType::kBool) value = ev != 0.0f ? 1 : 0;
      else value = static_cast<T>(ev);
      std::memcpy(&state->fill, &value, sizeof(T));
    });
  }
  std::vector<int64_t> cur = x.dims;
  const bool empty = y.elements() == 0;
  // Innermost axis first: the outer passes then move whole contiguous rows.
  for (size_t a = rank; a-- > 0 && !empty;) {
    AxisPass p;
    p.axis = a;
    p.in_len = cur[a];
    p.out_len = y.dims[a];
    build_pass(p, step, rank);
    if (p.identity) continue;
    p.outer = product(cur, 0, a);
    p.inner = product(cur, a + 1);
    cur[a] = y.dims[a];
    state->passes.push_back(std::move(p));
  }
  // Intermediate results alternate between two scratch buffers; the last pass writes the output.
  for (size_t i = 0; i + 1 < state->passes.size(); ++i) {
    const AxisPass& p = state->passes[i];
    const int64_t bytes = p.outer * p.out_len * p.inner * static_cast<int64_t>(state->esize);
    state->buffer_bytes[i % 2] = std::max(state->buffer_bytes[i % 2], (bytes + 63) / 64 * 64);
  }
  ctx.scratch_bytes = static_cast<size_t>(state->buffer_bytes[0] + state->buffer_bytes[1]);
  ctx.kernel = state->passes.empty() ? "copy" : state->weighted ? "f32_resize_separable" : "resize_nearest";
  return state;
}

void resize_pass(RunContext& ctx, const ResizeState& s, const AxisPass& p, const uint8_t* src, uint8_t* dst) {
  const int64_t rows = p.outer * p.out_len;
  const int64_t inner = p.inner;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, inner * p.taps));
  if (s.weighted) {
    const float* in = reinterpret_cast<const float*>(src);
    float* out = reinterpret_cast<float*>(dst);
    parallel(ctx, rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t o = r / p.out_len, j = r % p.out_len;
        float* d = out + r * inner;
        if (p.extrapolate[static_cast<size_t>(j)]) {
          std::fill(d, d + inner, s.fill_f);
          continue;
        }
        const int64_t* idx = p.index.data() + j * p.taps;
        const float* w = p.weight.data() + j * p.taps;
        const float* base = in + o * p.in_len * inner;
        if (p.taps == 2) {
          const float* a = base + idx[0] * inner;
          const float* b = base + idx[1] * inner;
          const float wa = w[0], wb = w[1];
          for (int64_t i = 0; i < inner; ++i) d[i] = wa * a[i] + wb * b[i];
        } else {
          const float* a = base + idx[0] * inner;
          const float* b = base + idx[1] * inner;
          const float* c = base + idx[2] * inner;
          const float* e = base + idx[3] * inner;
          const float wa = w[0], wb = w[1], wc = w[2], we = w[3];
          for (int64_t i = 0; i < inner; ++i) d[i] = wa * a[i] + wb * b[i] + wc * c[i] + we * e[i];
        }
      }
    });
    return;
  }
  dispatch_size(s.esize, [&](auto tag) {
    using T = decltype(tag);
    const T* in = reinterpret_cast<const T*>(src);
    T* out = reinterpret_cast<T*>(dst);
    T fill;
    std::memcpy(&fill, &s.fill, sizeof(T));
    parallel(ctx, rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t o = r / p.out_len, j = r % p.out_len;
        T* d = out + r * inner;
        if (p.extrapolate[static_cast<size_t>(j)]) {
          std::fill(d, d + inner, fill);
        } else if (inner == 1) {
          *d = in[o * p.in_len + p.index[static_cast<size_t>(j)]];
        } else {
          std::memcpy(d, in + (o * p.in_len + p.index[static_cast<size_t>(j)]) * inner, static_cast<size_t>(inner) * sizeof(T));
        }
      }
    });
  });
}

void resize_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto* s = static_cast<const ResizeState*>(state);
  const uint8_t* src = ctx.ptr[step.inputs[0]];
  uint8_t* out = ctx.ptr[step.outputs[0]];
  if (s->passes.empty()) {
    const int64_t bytes = ctx.slot(step.outputs[0]).bytes();
    if (bytes > 0 && src != out) std::memmove(out, src, static_cast<size_t>(bytes));
    return;
  }
  uint8_t* buffers[2] = {ctx.scratch, ctx.scratch + s->buffer_bytes[0]};
  for (size_t i = 0; i < s->passes.size(); ++i) {
    uint8_t* dst = i + 1 == s->passes.size() ? out : buffers[i % 2];
    resize_pass(ctx, *s, s->passes[i], src, dst);
    src = dst;
  }
}

}  // namespace

void register_indexing_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"GatherElements", &gather_elements_validate, &gather_elements_prepare, &gather_elements_run});
  ops.push_back(OpDef{"CumSum", &cumsum_validate, &cumsum_prepare, &cumsum_run});
  ops.push_back(OpDef{"Resize", &resize_validate, &resize_prepare, &resize_run});
}

}  // namespace edgeinfer::runtime
