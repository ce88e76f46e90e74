// quantize(x, y, outer, channels, inner, scales, zeroPoints, async)
// dequantize(q, x, outer, channels, inner, scales, zeroPoints, async)
#include "quantize_wrap.h"

#include <cmath>

#include "call_memory.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::binding {

namespace {

struct QuantParams {
  int64_t outer, channels, inner;
  TypedArrayArg scales, zero_points;
};

// Checks shapes, scales and zero points against the integer type; `count` is the element count needed.
QuantParams quant_params(const Napi::CallbackInfo& info, bool is_signed, size_t float_length, size_t int_length) {
  Napi::Env env = info.Env();
  QuantParams p{int_arg(info, 2, "outer", 1, int64_t{1} << 40), int_arg(info, 3, "channels", 1, int64_t{1} << 40),
                int_arg(info, 4, "inner", 1, int64_t{1} << 40), typed_array_arg(info, 5, {napi_float32_array}, "scales"),
                typed_array_arg(info, 6, {napi_int32_array}, "zeroPoints")};
  const double count = static_cast<double>(p.outer) * static_cast<double>(p.channels) * static_cast<double>(p.inner);
  if (static_cast<double>(float_length) != count || static_cast<double>(int_length) != count)
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "input and output must both have outer*channels*inner = " +
                                                     std::to_string(static_cast<int64_t>(count)) + " elements");
  if (p.scales.length != static_cast<size_t>(p.channels) || p.zero_points.length != static_cast<size_t>(p.channels))
    throw_error(env, "EDGEINFER_SHAPE_MISMATCH", "scales and zeroPoints need one value per channel (" +
                                                     std::to_string(p.channels) + ")");
  const auto* scales = static_cast<const float*>(p.scales.data);
  const auto* zero_points = static_cast<const int32_t*>(p.zero_points.data);
  const int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  for (int64_t c = 0; c < p.channels; ++c) {
    if (!(std::isfinite(scales[c]) && scales[c] > 0))
      throw_invalid(env, "scale[" + std::to_string(c) + "] must be finite and > 0, got " + std::to_string(scales[c]));
    if (zero_points[c] < lo || zero_points[c] > hi)
      throw_invalid(env, "zeroPoint[" + std::to_string(c) + "] = " + std::to_string(zero_points[c]) +
                             " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return p;
}

}  // namespace

Napi::Value quantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg x = typed_array_arg(info, 0, {napi_float32_array}, "x");
  const TypedArrayArg y = typed_array_arg(info, 1, {napi_int8_array, napi_uint8_array}, "y");
  const bool is_signed = y.type == napi_int8_array;
  const QuantParams p = quant_params(info, is_signed, x.length, y.length);
  const bool async = bool_arg(info, 7, "async");
  const size_t count = static_cast<size_t>(p.outer * p.channels * p.inner);
  auto memory = std::make_shared<CallMemory>(async);
  QuantizeArgs args;
  args.x = static_cast<const float*>(memory->input(x, count * 4));
  args.y = memory->output(env, y, count, "y");
  args.y_signed = is_signed;
  args.outer = p.outer;
  args.channels = p.channels;
  args.inner = p.inner;
  args.scales = static_cast<const float*>(memory->input(p.scales, static_cast<size_t>(p.channels) * 4));
  args.zero_points = static_cast<const int32_t*>(memory->input(p.zero_points, static_cast<size_t>(p.channels) * 4));
  return run_kernel(env, std::move(memory), [args] { kernels().quantize->quantize(args); });
}

Napi::Value dequantize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TypedArrayArg q = typed_array_arg(info, 0, {napi_int8_array, napi_uint8_array}, "q");
  const TypedArrayArg x = typed_array_arg(info, 1, {napi_float32_array}, "x");
  const bool is_signed = q.type == napi_int8_array;
  const QuantParams p = quant_params(info, is_signed, x.length, q.length);
  const bool async = bool_arg(info, 7, "async");
  const size_t count = static_cast<size_t>(p.outer * p.channels * p.inner);
  auto memory = std::make_shared<CallMemory>(async);
  DequantizeArgs args;
  args.q = memory->input(q, count);
  args.q_signed = is_signed;
  args.x = static_cast<float*>(memory->output(env, x, count * 4, "x"));
  args.outer = p.outer;
  args.channels = p.channels;
  args.inner = p.inner;
  args.scales = static_cast<const float*>(memory->input(p.scales, static_cast<size_t>(p.channels) * 4));
  args.zero_points = static_cast<const int32_t*>(memory->input(p.zero_points, static_cast<size_t>(p.channels) * 4));
  return run_kernel(env, std::move(memory), [args] { kernels().quantize->dequantize(args); });
}

}  // namespace edgeinfer::binding
