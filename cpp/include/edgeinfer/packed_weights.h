// INT8 weights packed once for one GEMM variant: symmetric int8, per-output-channel float scales, an
// optional float bias, and per-column sums of the weights (for activation zero-point correction).
//
// Layout (generic in nr / kr): panels of nr output columns; inside a panel, k is split in groups of kr;
// a group stores, for each of the nr columns, its kr consecutive int8 weights:
//   data[((panel * k_groups + g) * nr + j) * kr + r] = W[g * kr + r, panel * nr + j]
// Padding columns and padding k are zero, so kernels may run whole panels and whole groups.
#pragma once

#include <cstdint>

#include "edgeinfer/aligned_buffer.h"

namespace edgeinfer {

struct GemmS8Variant;

struct PackedWeightsS8 {
  const GemmS8Variant* variant = nullptr;  // the kernel this layout was packed for
  int64_t k = 0, n = 0;                    // logical sizes
  int64_t k_padded = 0, n_padded = 0;      // multiples of kr and nr
  AlignedBuffer data;                      // int8, k_padded * n_padded
  AlignedBuffer column_sums;               // int32 [n_padded]: sum_k W[k, n]
  AlignedBuffer scales;                    // float [n_padded]: per-channel scale (padding: 0)
  AlignedBuffer bias;                      // float [n_padded] (zeros when no bias was given)
  bool has_bias = false;

  const int8_t* weights() const { return data.as<int8_t>(); }
  const int32_t* sums() const { return column_sums.as<int32_t>(); }
  const float* scale() const { return scales.as<float>(); }
  const float* bias_values() const { return bias.as<float>(); }
  size_t bytes() const { return data.size() + column_sums.size() + scales.size() + bias.size(); }
};

enum class WeightLayout { kKN, kNK };  // kKN: W[k][n] (ONNX MatMul); kNK: W[n][k] (Gemm transB, Linear)

struct PackWeightsArgs {
  const int8_t* weights = nullptr;
  int64_t k = 0, n = 0;
  WeightLayout layout = WeightLayout::kKN;
  const float* scales = nullptr;  // [n], or a single value when scale_count == 1
  int64_t scale_count = 0;        // 1 or n (0: all ones)
  const float* bias = nullptr;    // [n] or null
};

// Packs for `variant` (the table's choice when null). Validates sizes and scales; throws edgeinfer::Error.
PackedWeightsS8 pack_weights_s8(const PackWeightsArgs& args, const GemmS8Variant* variant = nullptr);

// Runs the GEMM with the variant the weights were packed for, after checking the arguments.
struct GemmS8Args;
void gemm_s8(const GemmS8Args& args);

}  // namespace edgeinfer
