// MatMulInteger (ONNX Runtime's quantize_dynamic writes it with DynamicQuantizeLinear): y int32 =
// sum_k (a - a_zero_point) * (b - b_zero_point), numpy-batched like MatMul, a and b uint8 or int8, zero
// points per tensor, per row of a ([M]) or per column of b ([N]). The exact integer reference: quantize_dynamic
// graphs whose weights are constant fuse into the INT8 GEMM instead (lib/onnx/passes); this step runs the rest.
#include <algorithm>
#include <cstring>

#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

enum Input : size_t { kA = 0, kB, kAZeroPoint, kBZeroPoint };

struct IntMatMulDims {
  int64_t m = 1, k = 1, n = 1;
  std::vector<int64_t> a_batch, b_batch, batch;
};

// a [..., M, K] (1-D: [K]), b [..., K, N] (1-D: [K]); batch dims broadcast.
bool int_matmul_dims(const std::vector<int64_t>& a, const std::vector<int64_t>& b, IntMatMulDims& d) {
  if (a.empty() || b.empty()) return false;
  d.m = a.size() >= 2 ? a[a.size() - 2] : 1;
  d.k = a.back();
  const int64_t kb = b.size() >= 2 ? b[b.size() - 2] : b[0];
  d.n = b.size() >= 2 ? b.back() : 1;
  if (kb != d.k) return false;
  d.a_batch.assign(a.begin(), a.end() - std::min<size_t>(a.size(), 2));
  d.b_batch.assign(b.begin(), b.end() - std::min<size_t>(b.size(), 2));
  return broadcast_dims({&d.a_batch, &d.b_batch}, d.batch);
}

// Index of a broadcast batch's operand matrix, for batch index `i` of the result.
int64_t batch_offset(int64_t i, const std::vector<int64_t>& batch, const std::vector<int64_t>& operand) {
  int64_t offset = 0, stride = 1;
  for (size_t j = batch.size(); j-- > 0;) {
    const int64_t coordinate = i % batch[j];
    i /= batch[j];
    const size_t from_end = batch.size() - 1 - j;
    if (from_end < operand.size()) {
      const int64_t dim = operand[operand.size() - 1 - from_end];
      if (dim != 1) offset += coordinate * stride;
      stride *= dim;
    }
  }
  return offset;
}

void int_matmul_validate(const StepView& v) {
  v.inputs(2, 4);
  v.outputs(1, 1);
  v.ints(0);
  v.floats(0);
  v.dtype_in(kA, {DType::kUint8, DType::kInt8});
  v.dtype_in(kB, {DType::kUint8, DType::kInt8});
  v.dtype_out(0, {DType::kInt32});
  IntMatMulDims d;
  if (!int_matmul_dims(v.in(kA).dims, v.in(kB).dims, d))
    v.fail("inputs " + dims_string(v.in(kA).dims) + " and " + dims_string(v.in(kB).dims) + " cannot be multiplied");
  if (v.out(0).elements() != product(d.batch) * d.m * d.n) v.fail("output " + dims_string(v.out(0).dims) + " does not fit the product");
  if (v.has_in(kAZeroPoint)) {
    v.same_dtype(v.in(kAZeroPoint), "a_zero_point", v.in(kA), "a");
    const int64_t count = v.in(kAZeroPoint).elements();
    if (count != 1 && count != d.m) v.fail("a_zero_point must be one value or one per row of a");
  }
  if (v.has_in(kBZeroPoint)) {
    v.same_dtype(v.in(kBZeroPoint), "b_zero_point", v.in(kB), "b");
    const int64_t count = v.in(kBZeroPoint).elements();
    if (count != 1 && count != d.n) v.fail("b_zero_point must be one value or one per column of b");
  }
}

std::unique_ptr<OpState> int_matmul_prepare(PrepareContext& ctx, const Step& step) {
  IntMatMulDims d;
  int_matmul_dims(ctx.plan.tensors[step.inputs[kA]].dims, ctx.plan.tensors[step.inputs[kB]].dims, d);
  ctx.scratch_bytes = static_cast<size_t>(d.m + d.n) * sizeof(int32_t);  // the zero points, widened
  ctx.kernel = "ref";
  return nullptr;
}

template <typename TA, typename TB>
void int_matmul_typed(const IntMatMulDims& d, const TA* a, const TB* b, const int32_t* a_zp, const int32_t* b_zp, int32_t* y) {
  const int64_t batches = product(d.batch);
  for (int64_t i = 0; i < batches; ++i) {
    const TA* a_batch = a + batch_offset(i, d.batch, d.a_batch) * d.m * d.k;
    const TB* b_batch = b + batch_offset(i, d.batch, d.b_batch) * d.k * d.n;
    int32_t* y_batch = y + i * d.m * d.n;
    for (int64_t r = 0; r < d.m; ++r) {
      int32_t* __restrict row = y_batch + r * d.n;
      std::fill(row, row + d.n, 0);
      for (int64_t kk = 0; kk < d.k; ++kk) {
        const int32_t av = int32_t{a_batch[r * d.k + kk]} - a_zp[r];
        if (av == 0) continue;
        const TB* __restrict b_row = b_batch + kk * d.n;
        for (int64_t j = 0; j < d.n; ++j) row[j] += av * (int32_t{b_row[j]} - b_zp[j]);
      }
    }
  }
}

void int_matmul_run(RunContext& ctx, const Step& step, const OpState*) {
  const TensorSlot& a_slot = ctx.slot(step.inputs[kA]);
  const TensorSlot& b_slot = ctx.slot(step.inputs[kB]);
  IntMatMulDims d;
  int_matmul_dims(a_slot.dims, b_slot.dims, d);
  const bool a_signed = a_slot.dtype == DType::kInt8, b_signed = b_slot.dtype == DType::kInt8;
  auto* a_zp = reinterpret_cast<int32_t*>(ctx.scratch);
  int32_t* b_zp = a_zp + d.m;
  auto zero_points = [&](size_t input, bool is_signed, int64_t count, int32_t* out) {
    const bool has = step.inputs.size() > input && step.inputs[input] >= 0;
    const int64_t given = has ? ctx.elements(step.inputs[input]) : 0;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t at = given == 1 ? 0 : i;
      out[i] = !has ? 0 : is_signed ? int32_t{ctx.t<const int8_t>(step.inputs[input])[at]} : int32_t{ctx.t<const uint8_t>(step.inputs[input])[at]};
    }
  };
  zero_points(kAZeroPoint, a_signed, d.m, a_zp);
  zero_points(kBZeroPoint, b_signed, d.n, b_zp);
  int32_t* y = ctx.t<int32_t>(step.outputs[0]);
  const uint8_t* a = ctx.ptr[step.inputs[kA]];
  const uint8_t* b = ctx.ptr[step.inputs[kB]];
  const auto* a8 = reinterpret_cast<const int8_t*>(a);
  const auto* b8 = reinterpret_cast<const int8_t*>(b);
  if (a_signed && b_signed) int_matmul_typed(d, a8, b8, a_zp, b_zp, y);
  else if (a_signed) int_matmul_typed(d, a8, b, a_zp, b_zp, y);
  else if (b_signed) int_matmul_typed(d, a, b8, a_zp, b_zp, y);
  else int_matmul_typed(d, a, b, a_zp, b_zp, y);
}

}  // namespace

void register_integer_matmul_ops(std::vector<OpDef>& ops) {
  ops.push_back(OpDef{"MatMulInteger", &int_matmul_validate, &int_matmul_prepare, &int_matmul_run});
}

}  // namespace edgeinfer::runtime
