// Argument checks shared by the LayerNorm / GELU variants (all ISAs).
#pragma once

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::layernorm_detail {

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
