// Shared argument checks and scalar helpers for the quantize / dequantize variants (all ISAs).
// The scalar helpers are the definition the SIMD variants reproduce bit for bit:
//   v = x / scale (IEEE division); NaN -> 0; clamp to [lo - zp, hi - zp] (exact small integers in float);
//   round half to even (clamping first is equivalent: rounding is monotone and fixes integers); + zp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

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

// quantize_one with a multiply by 1 / scale instead of the division (the levels of fake-quantized values).
inline int32_t quantize_one_reciprocal(float x, float inverse, int32_t zp, int32_t lo, int32_t hi) {
  float v = x * inverse;
  if (std::isnan(v)) v = 0.0f;
  const float vlo = static_cast<float>(lo - zp), vhi = static_cast<float>(hi - zp);
  v = v < vlo ? vlo : v;
  v = v > vhi ? vhi : v;
  return static_cast<int32_t>(std::nearbyint(v)) + zp;
}

inline float dequantize_one(int32_t q, float scale, int32_t zp) {
  return (static_cast<float>(q) - static_cast<float>(zp)) * scale;
}

inline void check_args(const RequantizeArgs& a) {
  require(a.rows >= 0 && a.channels >= 1, ErrorCode::kInvalidArgument, "requantize: bad shape");
  if (a.rows == 0) return;
  require((a.acc_i32 != nullptr) != (a.acc_f32 != nullptr), ErrorCode::kInvalidArgument,
          "requantize: exactly one of acc_i32 / acc_f32 must be set");
  require(a.acc_f32 == nullptr || a.bias == nullptr, ErrorCode::kInvalidArgument,
          "requantize: float sums carry their bias already");
  require(a.multipliers != nullptr, ErrorCode::kInvalidArgument, "requantize: null multipliers");
  require(a.zero_point >= 0 && a.zero_point <= 255, ErrorCode::kInvalidArgument, "requantize: zero point out of range");
}

// Sum element i of a requantize block (int32: wrapping add of the bias; memcpy: y may alias the sums).
inline float requantize_sum(const RequantizeArgs& a, int64_t i, int64_t c) {
  if (a.acc_f32 != nullptr) {
    float v;
    std::memcpy(&v, a.acc_f32 + i, sizeof v);
    return v;
  }
  int32_t acc;
  std::memcpy(&acc, a.acc_i32 + i, sizeof acc);
  if (a.bias != nullptr) acc = static_cast<int32_t>(static_cast<uint32_t>(acc) + static_cast<uint32_t>(a.bias[c]));
  return static_cast<float>(acc);
}

// Element i (channel c) of a requantize block: the rounded value before the zero point (level - zero point).
inline int32_t requantize_one(const RequantizeArgs& a, int64_t i, int64_t c) {
  float v = requantize_sum(a, i, c) * a.multipliers[c];
  const float lo = static_cast<float>(-a.zero_point), hi = static_cast<float>(255 - a.zero_point);
  v = v < lo ? lo : v;
  v = v > hi ? hi : v;
  return static_cast<int32_t>(std::nearbyint(v));
}

inline void check_args(const QuantizedAddArgs& a) {
  require(a.n >= 0, ErrorCode::kInvalidArgument, "quantized add: bad size");
  if (a.n == 0) return;
  require(a.a != nullptr && a.b != nullptr, ErrorCode::kInvalidArgument, "quantized add: null input");
  for (int32_t zp : {a.a_zero_point, a.b_zero_point, a.c_zero_point})
    require(zp >= 0 && zp <= 255, ErrorCode::kInvalidArgument, "quantized add: zero point out of range");
}

// Element i of a quantized add: its level minus the output zero point (memcpy: y may alias a or b).
inline int32_t quantized_add_one(const QuantizedAddArgs& p, int64_t i) {
  float a, b;
  std::memcpy(&a, p.a + i, sizeof a);
  std::memcpy(&b, p.b + i, sizeof b);
  const auto qa = static_cast<float>(quantize_one_reciprocal(a, p.a_inverse, p.a_zero_point, 0, 255));
  const auto qb = static_cast<float>(quantize_one_reciprocal(b, p.b_inverse, p.b_zero_point, 0, 255));
  float v = std::fma(qa, p.ra, std::fma(qb, p.rb, p.fixed));  // the level, zero point included
  v = v < 0.0f ? 0.0f : v;
  v = v > 255.0f ? 255.0f : v;
  return static_cast<int32_t>(std::nearbyint(v)) - p.c_zero_point;
}

inline void quantized_add_run(const QuantizedAddArgs& p, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const int32_t r = quantized_add_one(p, i);
    if (p.levels != nullptr) p.levels[i] = static_cast<uint8_t>(r + p.c_zero_point);
    if (p.y != nullptr) {
      const float y = static_cast<float>(r) * p.c_scale;
      std::memcpy(p.y + i, &y, sizeof y);
    }
  }
}

// Elements [i0, i1) of a row (channels c0.. in order) through requantize_one: the SIMD variants' tails.
inline void requantize_run(const RequantizeArgs& a, int64_t i0, int64_t i1, int64_t c0) {
  for (int64_t i = i0, c = c0; i < i1; ++i, ++c) {
    const int32_t r = requantize_one(a, i, c);
    if (a.levels != nullptr) a.levels[i] = static_cast<uint8_t>(r + a.zero_point);
    if (a.y != nullptr) {
      const float y = static_cast<float>(r) * a.y_scale;
      std::memcpy(a.y + i, &y, sizeof y);
    }
  }
}

}  // namespace edgeinfer::quantize_detail
