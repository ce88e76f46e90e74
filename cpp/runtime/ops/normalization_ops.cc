// BatchNormalization (inference form) and InstanceNormalization over NC[spatial...] float32 tensors. Both
// work plane by plane (one (n, c) pair = one contiguous run of the spatial dims), so the inner loops are
// plain contiguous float loops the compiler vectorises; planes are split over the thread pool.
#include <cmath>
#include <string>

#include "runtime/executor.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::runtime {
namespace {

template <typename Body>
void for_planes(RunContext& ctx, int64_t planes, int64_t plane, const Body& body) {
  // About 32 K elements per chunk: below that the pool's wake-up costs more than it saves.
  const int64_t grain = plane >= 32768 ? 1 : 32768 / (plane > 0 ? plane : 1);
  if (ctx.pool != nullptr && planes > grain) {
    ctx.pool->parallel_for(planes, grain, body);
  } else {
    body(int64_t{0}, planes);
  }
}

void affine(const float* x, float* y, int64_t n, float a, float b) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * a + b;
}

// ------------------------------------------------------------------ BatchNormalization
// ints [per_activation]: 0 = one parameter per channel (dims[1]); 1 = one per element of dims[1..] (the
// spatial=0 form of opsets 7-8). floats [epsilon].
void batchnorm_validate(const StepView& v) {
  v.inputs(5, 5);
  v.outputs(1, 1);
  v.ints(1);
  v.floats(1);
  const TensorSlot& x = v.in(0);
  for (size_t i = 0; i < 5; ++i) v.dtype_in(i, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  if (x.dims.size() < 2) v.fail("input must have rank >= 2 (N, C, ...)");
  v.dims_equal(v.out(0).dims, x.dims, "output");
  const int64_t per_activation = v.step().ints[0];
  if (per_activation != 0 && per_activation != 1) v.fail("per_activation must be 0 or 1");
  const int64_t channels = per_activation ? product(x.dims, 1) : x.dims[1];
  static const char* names[] = {"", "scale", "B", "mean", "var"};
  for (size_t i = 1; i < 5; ++i)
    if (v.in(i).elements() != channels)
      v.fail(std::string(names[i]) + " has " + std::to_string(v.in(i).elements()) + " elements, expected " +
             std::to_string(channels));
  if (!(v.step().floats[0] >= 0.0f) || !std::isfinite(v.step().floats[0])) v.fail("epsilon must be finite and >= 0");
}

std::unique_ptr<OpState> batchnorm_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = "f32_batchnorm";
  return nullptr;
}

void batchnorm_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& xs = ctx.slot(step.inputs[0]);
  const bool per_activation = step.ints[0] != 0;
  const int64_t channels = per_activation ? product(xs.dims, 1) : xs.dims[1];
  const int64_t plane = per_activation ? 1 : product(xs.dims, 2);
  const int64_t planes = xs.dims[0] * channels;
  const float* x = ctx.t<const float>(step.inputs[0]);
  float* y = ctx.t<float>(step.outputs[0]);
  const float* scale = ctx.t<const float>(step.inputs[1]);
  const float* bias = ctx.t<const float>(step.inputs[2]);
  const float* mean = ctx.t<const float>(step.inputs[3]);
  const float* var = ctx.t<const float>(step.inputs[4]);
  const float eps = step.floats[0];
  if (planes == 0 || plane == 0) return;
  // The parameters may be run-time values, so the per-channel affine form is computed here (one sqrt per plane).
  for_planes(ctx, planes, plane, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % channels;
      const float a = scale[c] / std::sqrt(var[c] + eps);
      const float b = bias[c] - mean[c] * a;
      affine(x + p * plane, y + p * plane, plane, a, b);
    }
  });
}

// ------------------------------------------------------------------ InstanceNormalization
// inputs [x, scale, B]; floats [epsilon]. Mean and (population) variance per (n, c) over the spatial dims.
void instancenorm_validate(const StepView& v) {
  v.inputs(3, 3);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(1);
  const TensorSlot& x = v.in(0);
  for (size_t i = 0; i < 3; ++i) v.dtype_in(i, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  if (x.dims.size() < 2) v.fail("input must have rank >= 2 (N, C, ...)");
  v.dims_equal(v.out(0).dims, x.dims, "output");
  for (size_t i = 1; i < 3; ++i)
    if (v.in(i).elements() != x.dims[1])
      v.fail(std::string(i == 1 ? "scale" : "B") + " has " + std::to_string(v.in(i).elements()) +
             " elements, expected " + std::to_string(x.dims[1]));
  if (!(v.step().floats[0] >= 0.0f) || !std::isfinite(v.step().floats[0])) v.fail("epsilon must be finite and >= 0");
}

std::unique_ptr<OpState> instancenorm_prepare(PrepareContext& ctx, const Step&) {
  ctx.kernel = "f32_instancenorm";
  return nullptr;
}

// Sum of f(x[i]) with 8 independent partial sums (vectorisable without reassociation flags), in double
// across blocks so long planes keep their precision.
template <typename F>
double plane_sum(const float* x, int64_t n, const F& f) {
  double total = 0.0;
  constexpr int64_t kBlock = 4096;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = start + kBlock < n ? start + kBlock : n;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = start;
    for (; i + 8 <= end; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += f(x[i + k]);
    float tail = 0.0f;
    for (; i < end; ++i) tail += f(x[i]);
    total += static_cast<double>((acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
  }
  return total;
}

void instancenorm_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& xs = ctx.slot(step.inputs[0]);
  const int64_t channels = xs.dims[1];
  const int64_t plane = product(xs.dims, 2);
  const int64_t planes = xs.dims[0] * channels;
  const float* x = ctx.t<const float>(step.inputs[0]);
  float* y = ctx.t<float>(step.outputs[0]);
  const float* scale = ctx.t<const float>(step.inputs[1]);
  const float* bias = ctx.t<const float>(step.inputs[2]);
  const float eps = step.floats[0];
  if (planes == 0 || plane == 0) return;
  for_planes(ctx, planes, plane, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t c = p % channels;
      const float* xp = x + p * plane;
      // Two passes (mean, then squared deviations) as ONNX Runtime does: no cancellation for large means.
      const float mean = static_cast<float>(plane_sum(xp, plane, [](float v) { return v; }) / static_cast<double>(plane));
      const double ss = plane_sum(xp, plane, [mean](float v) { return (v - mean) * (v - mean); });
      const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(plane)) + eps);
      const float a = scale[c] * inv;
      affine(xp, y + p * plane, plane, a, bias[c] - mean * a);
    }
  });
}

}  // namespace

void register_normalization_ops(std::vector<OpDef>& ops) {
  OpDef bn{"BatchNormalization", &batchnorm_validate, &batchnorm_prepare, &batchnorm_run};
  bn.in_place = true;
  ops.push_back(bn);
  // In place is safe: each plane's statistics are taken before that plane (and only it) is written.
  OpDef in{"InstanceNormalization", &instancenorm_validate, &instancenorm_prepare, &instancenorm_run};
  in.in_place = true;
  ops.push_back(in);
}

}  // namespace edgeinfer::runtime
