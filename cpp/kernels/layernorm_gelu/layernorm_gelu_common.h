// Argument checks shared by the LayerNorm / GELU variants (all ISAs).
#pragma once

#include <cmath>
#include <cstdint>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::layernorm_detail {

// The row mean from the variant's float sum. A row of huge finite values (|x| ~ 1e38) overflows that sum
// to +-inf (or NaN) although its mean is finite; ONNX Runtime's LayerNormalization (Welford) keeps it finite
// (measured: a row of 3.4e38 normalises to beta), so the sum is redone in double then (rare; one test per
// row otherwise). Rows holding inf or NaN stay non-finite: the double sum is inf / NaN too.
inline float row_mean(float sum, float inv_w, const float* x, int64_t w) {
  if (std::isfinite(sum)) [[likely]] return sum * inv_w;
  double s = 0.0;
  for (int64_t i = 0; i < w; ++i) s += x[i];
  return static_cast<float>(s / static_cast<double>(w));
}

inline void check_args(const LayerNormArgs& a) {
  require(a.rows >= 0 && a.width >= 0, ErrorCode::kInvalidArgument, "layer_norm: negative shape");
  require(a.activation == Activation::kNone || a.activation == Activation::kGeluErf ||
              a.activation == Activation::kGeluTanh,
          ErrorCode::kInvalidArgument, "layer_norm: unsupported activation");
  if (a.rows == 0 || a.width == 0) return;
  require(a.x != nullptr && a.y != nullptr, ErrorCode::kInvalidArgument, "layer_norm: null pointer");
}

inline void check_args(const GeluArgs& a) {
  require(a.n >= 0, ErrorCode::kInvalidArgument, "gelu: negative size");
  if (a.n == 0) return;
  require(a.x != nullptr && a.y != nullptr, ErrorCode::kInvalidArgument, "gelu: null pointer");
}

}  // namespace edgeinfer::layernorm_detail
