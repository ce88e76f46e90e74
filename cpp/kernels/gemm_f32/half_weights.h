// Packed float weights kept at rest as IEEE halves (precision 'fp16'): half the memory of FP32. A run
// expands them into the caller's scratch with the table's SIMD converter before the float kernels read
// them, so the math is FP32 on FP16-rounded weights.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/half.h"
#include "edgeinfer/kernels.h"

namespace edgeinfer {

class HalfWeights {
 public:
  HalfWeights() = default;
  // Rounds count floats to nearest-even halves.
  HalfWeights(const float* values, size_t count) : count_(count), halves_(sizeof(uint16_t) * count) {
    auto* h = halves_.as<uint16_t>();
    for (size_t i = 0; i < count; ++i) h[i] = float_to_half(values[i]);
  }
  bool empty() const { return count_ == 0; }
  size_t bytes() const { return halves_.size(); }
  // Scratch bytes expand() needs (64-byte aligned size).
  size_t float_bytes() const { return align_up(sizeof(float) * count_); }
  const float* expand(float* out) const { return expand(0, count_, out); }
  // Values [first, first + count) only (one packed panel).
  const float* expand(size_t first, size_t count, float* out) const {
    kernels().gemm_f32->half_to_float(halves_.as<uint16_t>() + first, out, static_cast<int64_t>(count));
    return out;
  }

 private:
  size_t count_ = 0;
  AlignedBuffer halves_;
};

}  // namespace edgeinfer
