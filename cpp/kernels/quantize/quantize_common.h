// Shared argument checks and scalar helpers for the quantize / dequantize variants (all ISAs).
// The scalar helpers are the definition the SIMD variants reproduce bit for bit:
//   v = x / scale (IEEE division); NaN -> 0; clamp to [lo - zp, hi - zp] (exact small integers in float);
//   round half to even (clamping first is equivalent: rounding is monotone and fixes integers); + zp.
#pragma once

#include <cmath>
#include <cstdint>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer::quantize_detail {

inline void check_args(const QuantizeArgs& a) {
  require(a.outer >= 0 && a.channels >= 1 && a.inner >= 0, ErrorCode::kInvalidArgument,
          "quantize: bad shape");
  if (a.outer == 0 || a.inner == 0) return;
  require(a.x != nullptr && a.y != nullptr && a.scales != nullptr && a.zero_points != nullptr,
          ErrorCode::kInvalidArgument, "quantize: null pointer");
  const int32_t lo = a.y_signed ? -128 : 0, hi = a.y_signed ? 127 : 255;
  for (int64_t c = 0; c < a.channels; ++c)
    require(a.zero_points[c] >= lo && a.zero_points[c] <= hi, ErrorCode::kInvalidArgument,
            "quantize: zero point out of range for the output type");
}

inline void check_args(const DequantizeArgs& a) {
  require(a.outer >= 0 && a.channels >= 1 && a.inner >= 0, ErrorCode::kInvalidArgument,
          "dequantize: bad shape");
  if (a.outer == 0 || a.inner == 0) return;
  require(a.q != nullptr && a.x != nullptr && a.scales != nullptr && a.zero_points != nullptr,
          ErrorCode::kInvalidArgument, "dequantize: null pointer");
  const int32_t lo = a.q_signed ? -128 : 0, hi = a.q_signed ? 127 : 255;
  for (int64_t c = 0; c < a.channels; ++c)
    require(a.zero_points[c] >= lo && a.zero_points[c] <= hi, ErrorCode::kInvalidArgument,
            "dequantize: zero point out of range for the input type");
}

// One element. lo/hi are the type's range; zp is already known to be inside it.
inline int32_t quantize_one(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  float v = x / scale;
  if (std::isnan(v)) v = 0.0f;
  const float vlo = static_cast<float>(lo - zp), vhi = static_cast<float>(hi - zp);
  v = v < vlo ? vlo : v;
  v = v > vhi ? vhi : v;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

inline float dequantize_one(int32_t q, float scale, int32_t zp) {
  return (static_cast<float>(q) - static_cast<float>(zp)) * scale;
}

}  // namespace edgeinfer::quantize_detail
