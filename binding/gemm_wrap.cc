// gemmS8(a, m, lda, aSigned, aZeroPoint, packed, out, ldc, aScale, activation, async)
#include "gemm_wrap.h"

#include <cmath>

#include "call_memory.h"
#include "edgeinfer/kernels.h"
#include "packed_weights_wrap.h"

namespace edgeinfer::binding {

Napi::Value gemm_s8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const bool a_signed = bool_arg(info, 3, "aSigned");
  const TypedArrayArg a = typed_array_arg(info, 0, {a_signed ? napi_int8_array : napi_uint8_array}, "a");
  const int64_t m = int_arg(info, 1, "m", 1, int64_t{1} << 31);
  const int64_t lda = int_arg(info, 2, "lda", 1, int64_t{1} << 31);
  const int64_t zero_point = int_arg(info, 4, "aZeroPoint", a_signed ? -128 : 0, a_signed ? 127 : 255);
  auto weights = PackedWeightsWrap::unwrap(env, info[5]);
  const TypedArrayArg out = typed_array_arg(info, 6, {napi_int32_array, napi_float32_array}, "out");
  const int64_t ldc = int_arg(info, 7, "ldc", 1, int64_t{1} << 31);
  const double a_scale = number_arg(info, 8, "aScale");
  const int64_t activation = int_arg(info, 9, "activation", 0, 3);
  const bool async = bool_arg(info, 10, "async");

  if (lda < weights->k) throw_invalid(env, "lda must be at least k = " + std::to_string(weights->k));
  if (ldc < weights->n) throw_invalid(env, "ldc must be at least n = " + std::to_string(weights->n));
  const double a_needed = static_cast<double>(m - 1) * static_cast<double>(lda) + static_cast<double>(weights->k);
  if (static_cast<double>(a.length) < a_needed)
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "a has " + std::to_string(a.length) + " elements, needs " +
                                                     std::to_string(static_cast<int64_t>(a_needed)) + " for m x k");
  const double out_needed = static_cast<double>(m - 1) * static_cast<double>(ldc) + static_cast<double>(weights->n);
  if (static_cast<double>(out.length) < out_needed)
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "out has " + std::to_string(out.length) + " elements, needs " +
                                                     std::to_string(static_cast<int64_t>(out_needed)) + " for m x n");
  const bool float_out = out.type == napi_float32_array;
  if (float_out && !(std::isfinite(a_scale) && a_scale > 0))
    throw_invalid(env, "aScale must be a finite number > 0");
  if (!float_out && activation != 0) throw_invalid(env, "an activation needs float32 output");

  // Async: A is copied now and C staged, so the caller may detach or resize either at once (see call_memory.h).
  auto memory = std::make_shared<CallMemory>(async);
  const size_t a_bytes = static_cast<size_t>(a_needed);
  const size_t out_bytes = static_cast<size_t>(out_needed) * 4;
  GemmS8Args args;
  args.m = m;
  args.a = memory->input(a, a_bytes);
  args.lda = lda;
  args.a_signed = a_signed;
  args.a_zero_point = static_cast<int32_t>(zero_point);
  args.w = weights.get();
  // Rows are ldc apart: with ldc > n the gaps are not written, so staging keeps the caller's bytes there.
  void* c = memory->output(env, out, out_bytes, "out", ldc > weights->n);
  args.c_i32 = float_out ? nullptr : static_cast<int32_t*>(c);
  args.c_f32 = float_out ? static_cast<float*>(c) : nullptr;
  args.ldc = ldc;
  args.a_scale = static_cast<float>(a_scale);
  args.activation = static_cast<Activation>(activation);
  // The lambda owns a reference to the packed weights, so dispose() during the call is safe.
  return run_kernel(env, std::move(memory), [args, weights] { edgeinfer::gemm_s8(args); }, {info[5]});
}

}  // namespace edgeinfer::binding
