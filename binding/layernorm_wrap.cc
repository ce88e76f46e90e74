// layerNorm(x, y, rows, width, gamma | null, beta | null, epsilon, activation, async)
// gelu(x, y, n, tanhApproximation, async)
#include "layernorm_wrap.h"

#include <cmath>

#include "call_memory.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::binding {

Napi::Value layer_norm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg x = typed_array_arg(info, 0, {napi_float32_array}, "x");
  const TypedArrayArg y = typed_array_arg(info, 1, {napi_float32_array}, "y");
  const int64_t rows = int_arg(info, 2, "rows", 1, int64_t{1} << 40);
  const int64_t width = int_arg(info, 3, "width", 1, int64_t{1} << 31);
  const TypedArrayArg gamma = optional_typed_array_arg(info, 4, {napi_float32_array}, "gamma");
  const TypedArrayArg beta = optional_typed_array_arg(info, 5, {napi_float32_array}, "beta");
  const double epsilon = number_arg(info, 6, "epsilon");
  const int64_t activation = int_arg(info, 7, "activation", 0, 3);
  const bool async = bool_arg(info, 8, "async");
  const double count = static_cast<double>(rows) * static_cast<double>(width);
  if (static_cast<double>(x.length) != count || static_cast<double>(y.length) != count)
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "x and y must have rows*width = " +
                                                     std::to_string(static_cast<int64_t>(count)) + " elements");
  if ((gamma.data && gamma.length != static_cast<size_t>(width)) || (beta.data && beta.length != static_cast<size_t>(width)))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "gamma and beta must have width = " + std::to_string(width) + " elements");
  if (!(std::isfinite(epsilon) && epsilon >= 0)) throw_invalid(env, "epsilon must be finite and >= 0");
  if (activation == static_cast<int64_t>(Activation::kRelu)) throw_invalid(env, "layerNorm supports GELU activations only");
  const size_t bytes = static_cast<size_t>(rows * width) * 4;
  auto memory = std::make_shared<CallMemory>(async);
  LayerNormArgs args;
  args.x = static_cast<const float*>(memory->input(x, bytes));
  args.y = static_cast<float*>(memory->output(env, y, bytes, "y"));
  args.rows = rows;
  args.width = width;
  args.gamma = static_cast<const float*>(memory->input(gamma, static_cast<size_t>(width) * 4));
  args.beta = static_cast<const float*>(memory->input(beta, static_cast<size_t>(width) * 4));
  args.epsilon = static_cast<float>(epsilon);
  args.activation = static_cast<Activation>(activation);
  return run_kernel(env, std::move(memory), [args] { kernels().layernorm_gelu->layer_norm(args); });
}

Napi::Value gelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg x = typed_array_arg(info, 0, {napi_float32_array}, "x");
  const TypedArrayArg y = typed_array_arg(info, 1, {napi_float32_array}, "y");
  const int64_t n = int_arg(info, 2, "n", 1, int64_t{1} << 40);
  const bool tanh_approximation = bool_arg(info, 3, "tanhApproximation");
  const bool async = bool_arg(info, 4, "async");
  if (x.length != static_cast<size_t>(n) || y.length != static_cast<size_t>(n))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "x and y must have n = " + std::to_string(n) + " elements");
  auto memory = std::make_shared<CallMemory>(async);
  GeluArgs args;
  args.x = static_cast<const float*>(memory->input(x, static_cast<size_t>(n) * 4));
  args.y = static_cast<float*>(memory->output(env, y, static_cast<size_t>(n) * 4, "y"));
  args.n = n;
  args.tanh_approximation = tanh_approximation;
  return run_kernel(env, std::move(memory), [args] { kernels().layernorm_gelu->gelu(args); });
}

}  // namespace edgeinfer::binding
