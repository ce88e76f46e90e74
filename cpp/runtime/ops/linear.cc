// Gemm / MatMul / Conv glue: validation of shapes and attributes, weights prepared once through
// nn_kernels.h (GemmF32 / ConvF32, float or int8), and for a non-constant B (attention's Q·K^T, P·V) the
// batched matmul of matmul_f32.h, which packs nothing ahead and creates no kernel per call.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/matmul_f32.h"
#include "runtime/executor.h"
#include "runtime/ops/window.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::runtime {
namespace {

bool wants_int8(const PrepareContext& ctx, const Step& step) {
  return ctx.options.precision == Precision::kInt8 || step.op.ends_with("S8Dynamic");
}

// *F16 steps keep their weights as IEEE halves (precision 'fp16').
bool wants_f16(const Step& step) { return step.op.ends_with("F16"); }

// ------------------------------------------------------------------ MatMul
struct MatMulDims {
  int64_t m = 1, k = 1, n = 1;
  std::vector<int64_t> a_batch, b_batch, batch;  // batch: broadcast result
};

// b is [..., k, n], or [..., n, k] when trans_b (a transposed K or LM-head weight read in place).
MatMulDims matmul_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b, bool trans_b = false) {
  MatMulDims d;
  if (a.size() == 1) {
    d.k = a[0];
  } else {
    d.m = a[a.size() - 2];
    d.k = a[a.size() - 1];
    d.a_batch.assign(a.begin(), a.end() - 2);
  }
  if (b.size() == 1) {
    d.n = 1;
  } else {
    d.n = b[b.size() - (trans_b ? 2 : 1)];
    d.b_batch.assign(b.begin(), b.end() - 2);
  }
  return d;
}

// ints = [act] or [act, trans_b].
bool matmul_trans_b(const Step& step) { return step.ints.size() > 1 && step.ints[1] != 0; }

void matmul_validate(const StepView& v) {
  v.inputs(2, 2);
  v.outputs(1, 1);
  validate_activation(v, 0, 0, true);
  if (v.step().ints.size() != 1 && v.step().ints.size() != 2) v.fail("ints must be [act] or [act, trans_b]");
  const bool trans_b = matmul_trans_b(v.step());
  if (v.step().ints.size() == 2 && v.step().ints[1] != 0 && v.step().ints[1] != 1) v.fail("trans_b must be 0 or 1");
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_in(1, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  const auto& a = v.in(0).dims;
  const auto& b = v.in(1).dims;
  if (a.empty() || b.empty()) v.fail("MatMul inputs must have rank >= 1");
  if (trans_b && b.size() < 2) v.fail("trans_b needs a B of rank >= 2");
  const MatMulDims d = matmul_dims(a, b, trans_b);
  const int64_t kb = b.size() == 1 ? b[0] : b[b.size() - (trans_b ? 1 : 2)];
  if (kb != d.k) v.fail("inner dimensions differ: a " + dims_string(a) + ", b " + dims_string(b));
  std::vector<int64_t> batch;
  if (!broadcast_dims({&d.a_batch, &d.b_batch}, batch))
    v.fail("batch dims of " + dims_string(a) + " and " + dims_string(b) + " do not broadcast");
  std::vector<int64_t> out = batch;
  if (a.size() > 1) out.push_back(d.m);
  if (b.size() > 1) out.push_back(d.n);
  v.dims_equal(v.out(0).dims, out, "output");
  if (v.step().op != "MatMul" && !v.is_constant(1)) v.fail("the int8 / fp16 MatMul needs a constant B");
}

struct MatMulState : OpState {
  std::unique_ptr<GemmF32> gemm;  // constant B without batch: one GEMM over all rows
  int64_t rows = 0;               // gemm: rows of a
  MatMulDims dims;
  // Batched path: per output batch index, element offsets of a and b (broadcast).
  std::vector<int64_t> a_offsets, b_offsets;
  const MatMulF32Variant* matmul = nullptr;
  ActivationParams act;
  bool trans_b = false;
};

std::unique_ptr<OpState> matmul_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& a = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& b = ctx.plan.tensors[step.inputs[1]];
  auto state = std::make_unique<MatMulState>();
  state->trans_b = matmul_trans_b(step);
  state->dims = matmul_dims(a.dims, b.dims, state->trans_b);
  state->act = activation_params(step, 0, 0);
  const MatMulDims& d = state->dims;
  const bool b_batched = product(d.b_batch) != 1;
  if (b.storage == Storage::kConstant && !b_batched) {
    const float* w = reinterpret_cast<const float*>(b.constant->data());
    state->rows = a.elements() / std::max<int64_t>(1, d.k);
    if (d.k == 0) state->rows = product(ctx.plan.tensors[step.outputs[0]].dims) / std::max<int64_t>(1, d.n);
    const bool t = state->trans_b;
    state->gemm = wants_int8(ctx, step) ? GemmF32::create_int8(w, d.k, d.n, t, nullptr, 1.0f, 0.0f, state->act)
                  : wants_f16(step)     ? GemmF32::create_f16(w, d.k, d.n, t, nullptr, 1.0f, 0.0f, state->act)
                                        : GemmF32::create(w, d.k, d.n, t, nullptr, 1.0f, 0.0f, state->act);
    ctx.scratch_bytes = state->gemm->scratch_bytes(state->rows);
    ctx.weight_bytes = static_cast<int64_t>(state->gemm->weight_bytes());
    ctx.kernel = state->gemm->kernel_name();
    ctx.copied_constants.push_back(step.inputs[1]);
    return state;
  }
  std::vector<int64_t> batch;
  broadcast_dims({&d.a_batch, &d.b_batch}, batch);
  const int64_t count = product(batch);
  state->a_offsets.resize(static_cast<size_t>(count));
  state->b_offsets.resize(static_cast<size_t>(count));
  const size_t rank = batch.size();
  for (int64_t idx = 0; idx < count; ++idx) {
    int64_t rem = idx, a_off = 0, b_off = 0, a_stride = d.m * d.k, b_stride = d.k * d.n;
    for (size_t r = rank; r-- > 0;) {
      const int64_t coord = rem % batch[r];
      rem /= batch[r];
      const size_t back = rank - 1 - r;  // position from the right
      if (back < d.a_batch.size()) {
        const int64_t dim = d.a_batch[d.a_batch.size() - 1 - back];
        if (dim != 1) a_off += coord * a_stride;
        a_stride *= dim;
      }
      if (back < d.b_batch.size()) {
        const int64_t dim = d.b_batch[d.b_batch.size() - 1 - back];
        if (dim != 1) b_off += coord * b_stride;
        b_stride *= dim;
      }
    }
    state->a_offsets[static_cast<size_t>(idx)] = a_off;
    state->b_offsets[static_cast<size_t>(idx)] = b_off;
  }
  state->matmul = kernels().matmul_f32;
  ctx.scratch_bytes = batched_matmul_f32_scratch_bytes(state->matmul, d.k, ctx.options.threads);
  ctx.kernel = state->matmul->name;
  return state;
}

void matmul_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const MatMulState*>(state);
  const float* a = ctx.t<const float>(step.inputs[0]);
  float* y = ctx.t<float>(step.outputs[0]);
  const MatMulDims& d = s.dims;
  if (s.gemm) {
    if (s.rows > 0 && d.n > 0) s.gemm->run(s.rows, a, d.k, y, d.n, ctx.scratch, ctx.pool);
    return;
  }
  BatchedMatMulF32Args args;
  args.batches = static_cast<int64_t>(s.a_offsets.size());
  args.m = d.m;
  args.n = d.n;
  args.k = d.k;
  args.a = a;
  args.lda = d.k;
  args.a_offsets = s.a_offsets.data();
  args.b = ctx.t<const float>(step.inputs[1]);
  args.ldb = s.trans_b ? d.k : d.n;
  args.b_trans = s.trans_b;
  args.b_offsets = s.b_offsets.data();
  args.c = y;
  args.ldc = d.n;
  args.c_batch_stride = d.m * d.n;
  batched_matmul_f32(s.matmul, args, ctx.scratch, ctx.pool);
  apply_activation(y, args.batches * d.m * d.n, s.act);
}

// ------------------------------------------------------------------ Gemm
void gemm_validate(const StepView& v) {
  v.inputs(2, 3);
  v.outputs(1, 1);
  validate_activation(v, 2, 2, true);
  v.ints(3);
  const int64_t trans_a = v.step().ints[0], trans_b = v.step().ints[1];
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) v.fail("trans_a / trans_b must be 0 or 1");
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_in(1, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  const auto& a = v.in(0).dims;
  const auto& b = v.in(1).dims;
  if (a.size() != 2 || b.size() != 2) v.fail("Gemm inputs must be 2-D");
  const int64_t m = trans_a ? a[1] : a[0], k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0], n = trans_b ? b[0] : b[1];
  if (k != kb) v.fail("inner dimensions differ: a " + dims_string(a) + ", b " + dims_string(b));
  v.dims_equal(v.out(0).dims, {m, n}, "output");
  if (v.has_in(2)) {
    v.dtype_in(2, {DType::kFloat32});
    std::vector<int64_t> dims;
    const std::vector<int64_t> mn = {m, n};
    if (v.in(2).dims.size() > 2 || !broadcast_dims({&v.in(2).dims, &mn}, dims) || dims != mn)
      v.fail("c " + dims_string(v.in(2).dims) + " does not broadcast to " + dims_string(mn));
  }
  if (v.step().op != "Gemm" && !v.is_constant(1)) v.fail("the int8 / fp16 Gemm needs a constant B");
}

struct GemmState : OpState {
  std::unique_ptr<GemmF32> gemm;
  int64_t m = 0, k = 0, n = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;
  bool c_after = false;  // c added after the product (not a per-column bias), then the activation
  StridedLoop c_loop;    // c broadcast to [m, n]
  ActivationParams act;
  std::vector<float> bias;  // expanded constant bias (scalar c)
  size_t transpose_bytes = 0;  // scratch for a^T ahead of the kernel's own scratch
  const MatMulF32Variant* matmul = nullptr;  // non-constant B
};

std::unique_ptr<OpState> gemm_prepare(PrepareContext& ctx, const Step& step) {
  const TensorSlot& a = ctx.plan.tensors[step.inputs[0]];
  const TensorSlot& b = ctx.plan.tensors[step.inputs[1]];
  auto s = std::make_unique<GemmState>();
  s->trans_a = step.ints[0] != 0;
  s->trans_b = step.ints[1] != 0;
  s->m = s->trans_a ? a.dims[1] : a.dims[0];
  s->k = s->trans_a ? a.dims[0] : a.dims[1];
  s->n = s->trans_b ? b.dims[0] : b.dims[1];
  s->alpha = step.floats[0];
  s->beta = step.floats[1];
  s->act = activation_params(step, 2, 2);
  const bool has_c = step.inputs.size() > 2 && step.inputs[2] >= 0;
  const float* bias = nullptr;
  if (has_c) {
    const TensorSlot& c = ctx.plan.tensors[step.inputs[2]];
    const bool row_vector = c.elements() == s->n && (c.dims.size() < 2 || c.dims[0] == 1);
    if (c.storage == Storage::kConstant && b.storage == Storage::kConstant && row_vector) {
      bias = reinterpret_cast<const float*>(c.constant->data());
    } else if (c.storage == Storage::kConstant && b.storage == Storage::kConstant && c.elements() == 1) {
      float value;
      std::memcpy(&value, c.constant->data(), 4);
      s->bias.assign(static_cast<size_t>(s->n), value);
      bias = s->bias.data();
    } else {
      s->c_after = true;
      const std::vector<int64_t> mn = {s->m, s->n};
      s->c_loop = StridedLoop::broadcast(mn, {&c.dims});
    }
  }
  if (b.storage == Storage::kConstant) {
    const float* w = reinterpret_cast<const float*>(b.constant->data());
    const ActivationParams kernel_act = s->c_after ? ActivationParams{} : s->act;
    s->gemm = wants_int8(ctx, step) ? GemmF32::create_int8(w, s->k, s->n, s->trans_b, bias, s->alpha, s->beta, kernel_act)
              : wants_f16(step)     ? GemmF32::create_f16(w, s->k, s->n, s->trans_b, bias, s->alpha, s->beta, kernel_act)
                                    : GemmF32::create(w, s->k, s->n, s->trans_b, bias, s->alpha, s->beta, kernel_act);
    s->transpose_bytes = s->trans_a ? align_up(static_cast<size_t>(s->m * s->k) * sizeof(float)) : 0;
    ctx.scratch_bytes = s->transpose_bytes + s->gemm->scratch_bytes(s->m);
    ctx.weight_bytes = static_cast<int64_t>(s->gemm->weight_bytes());
    ctx.kernel = s->gemm->kernel_name();
    ctx.copied_constants.push_back(step.inputs[1]);
    if (has_c && !s->c_after) ctx.copied_constants.push_back(step.inputs[2]);  // folded into the packed bias
  } else {
    s->matmul = kernels().matmul_f32;
    s->transpose_bytes = s->trans_a ? align_up(static_cast<size_t>(s->m * s->k) * sizeof(float)) : 0;
    ctx.scratch_bytes = s->transpose_bytes + batched_matmul_f32_scratch_bytes(s->matmul, s->k, ctx.options.threads);
    ctx.kernel = s->matmul->name;
  }
  return s;
}

void gemm_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const GemmState*>(state);
  const float* a = ctx.t<const float>(step.inputs[0]);
  float* y = ctx.t<float>(step.outputs[0]);
  if (s.m == 0 || s.n == 0) return;
  const float* a_rows = a;
  if (s.trans_a) {
    auto* t = reinterpret_cast<float*>(ctx.scratch);
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t kk = 0; kk < s.k; ++kk) t[i * s.k + kk] = a[kk * s.m + i];
    a_rows = t;
  }
  if (s.gemm) {
    s.gemm->run(s.m, a_rows, s.k, y, s.n, ctx.scratch + s.transpose_bytes, ctx.pool);
  } else {
    const int64_t no_offset = 0;
    BatchedMatMulF32Args args;
    args.batches = 1;
    args.m = s.m;
    args.n = s.n;
    args.k = s.k;
    args.a = a_rows;
    args.lda = s.k;
    args.a_offsets = &no_offset;
    args.b = ctx.t<const float>(step.inputs[1]);
    args.ldb = s.trans_b ? s.k : s.n;
    args.b_trans = s.trans_b;
    args.b_offsets = &no_offset;
    args.c = y;
    args.ldc = s.n;
    args.alpha = s.alpha;
    batched_matmul_f32(s.matmul, args, ctx.scratch + s.transpose_bytes, ctx.pool);
  }
  if (s.c_after) {  // always the case for a non-constant B with c
    const float* c = ctx.t<const float>(step.inputs[2]);
    const float beta = s.beta;
    s.c_loop.for_each_row([&](const int64_t* off, int64_t n, const int64_t* st) {
      float* yy = y + off[0];
      const float* cc = c + off[1];
      if (st[1] == 1) {
        for (int64_t i = 0; i < n; ++i) yy[i] += beta * cc[i];
      } else {
        for (int64_t i = 0; i < n; ++i) yy[i] += beta * cc[i * st[1]];
      }
    });
  }
  if (!s.gemm || s.c_after) apply_activation(y, s.m * s.n, s.act);
}

// ------------------------------------------------------------------ Conv
// Channels-last convs carry floats [out_min, activation params...]: out_min clamps after the activation.
size_t conv_params_index(const Step& step) { return channels_last_conv(step) ? 1 : 0; }

void conv_validate(const StepView& v) {
  v.inputs(2, 3);
  v.outputs(1, 1);
  const int r = spatial_rank(v);
  validate_activation(v, 1, conv_params_index(v.step()), true);
  if (channels_last_conv(v.step()) && std::isnan(v.step().floats[0])) v.fail("out_min is NaN");
  v.ints(2 + 5 * static_cast<size_t>(r));
  v.dtype_in(0, {DType::kFloat32});
  v.dtype_in(1, {DType::kFloat32});
  v.dtype_out(0, {DType::kFloat32});
  if (!v.is_constant(1)) v.fail("Conv weights must be a constant");
  ConvShape shape;
  fill_conv_shape(v, 1, shape);
  if (v.has_in(2)) {
    v.dtype_in(2, {DType::kFloat32});
    if (!v.is_constant(2)) v.fail("Conv bias must be a constant");
    if (v.in(2).elements() != shape.out_channels) v.fail("bias must have one value per output channel");
  }
}

struct ConvState : OpState {
  std::unique_ptr<ConvF32> conv;
};

std::unique_ptr<OpState> conv_prepare(PrepareContext& ctx, const Step& step) {
  StepView v(ctx.plan, step, step.name);
  ConvShape shape;
  fill_conv_shape(v, 1, shape);
  ActivationParams act = activation_params(step, 1, conv_params_index(step));
  if (channels_last_conv(step)) act.out_min = step.floats[0];
  const float* w = reinterpret_cast<const float*>(ctx.plan.tensors[step.inputs[1]].constant->data());
  const float* bias = step.inputs.size() > 2 && step.inputs[2] >= 0
                          ? reinterpret_cast<const float*>(ctx.plan.tensors[step.inputs[2]].constant->data())
                          : nullptr;
  auto s = std::make_unique<ConvState>();
  s->conv = wants_int8(ctx, step) ? ConvF32::create_int8(shape, w, bias, act)
            : wants_f16(step)     ? ConvF32::create_f16(shape, w, bias, act)
                                  : ConvF32::create(shape, w, bias, act);
  ctx.scratch_bytes = s->conv->scratch_bytes();
  ctx.weight_bytes = static_cast<int64_t>(s->conv->weight_bytes());
  ctx.kernel = s->conv->kernel_name();
  for (size_t i = 1; i < step.inputs.size(); ++i)
    if (step.inputs[i] >= 0) ctx.copied_constants.push_back(step.inputs[i]);  // weights and bias are copied
  return s;
}

void conv_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& s = *static_cast<const ConvState*>(state);
  if (ctx.elements(step.outputs[0]) == 0) return;
  s.conv->run(ctx.t<const float>(step.inputs[0]), ctx.t<float>(step.outputs[0]), ctx.scratch, ctx.pool);
}

}  // namespace

void register_linear_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"MatMul", &matmul_validate, &matmul_prepare, &matmul_run});
  ops.push_back(OpDef{"MatMulS8Dynamic", &matmul_validate, &matmul_prepare, &matmul_run});
  ops.push_back(OpDef{"Gemm", &gemm_validate, &gemm_prepare, &gemm_run});
  ops.push_back(OpDef{"GemmS8Dynamic", &gemm_validate, &gemm_prepare, &gemm_run});
  ops.push_back(OpDef{"Conv", &conv_validate, &conv_prepare, &conv_run});
  ops.push_back(OpDef{"ConvS8Dynamic", &conv_validate, &conv_prepare, &conv_run});
  ops.push_back(OpDef{"ConvNhwc", &conv_validate, &conv_prepare, &conv_run});
  ops.push_back(OpDef{"ConvNhwcS8Dynamic", &conv_validate, &conv_prepare, &conv_run});
  ops.push_back(OpDef{"MatMulF16", &matmul_validate, &matmul_prepare, &matmul_run});
  ops.push_back(OpDef{"GemmF16", &gemm_validate, &gemm_prepare, &gemm_run});
  ops.push_back(OpDef{"ConvF16", &conv_validate, &conv_prepare, &conv_run});
  ops.push_back(OpDef{"ConvNhwcF16", &conv_validate, &conv_prepare, &conv_run});
}

}  // namespace edgeinfer::runtime
