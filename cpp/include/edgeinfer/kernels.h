// Kernel interfaces and the dispatch table. Each operation has a list of variants (reference first); the
// table picks, once, the best variant that was compiled in and that the CPU supports, or the one forced by
// EDGEINFER_ISA. Tests and benchmarks iterate the same lists.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "edgeinfer/isa.h"
#include "edgeinfer/packed_weights.h"

namespace edgeinfer {

enum class Activation : uint8_t { kNone, kRelu, kGeluErf, kGeluTanh };

// ---------------------------------------------------------------- INT8 GEMM
// C[m, n] = sum_k (A[m, k] - a_zero_point) * W[k, n]          (int32 output)
// Y[m, n] = act(a_scale * w_scale[n] * C[m, n] + bias[n])      (float32 output)
// A is uint8 or int8 (a_signed), row-major with a row stride of lda bytes; W was packed for this variant.
struct GemmS8Args {
  int64_t m = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  bool a_signed = false;
  int32_t a_zero_point = 0;
  const PackedWeightsS8* w = nullptr;
  // Exactly one of c_i32 / c_f32 is set. ldc is in elements.
  int32_t* c_i32 = nullptr;
  float* c_f32 = nullptr;
  int64_t ldc = 0;
  float a_scale = 1.0f;          // float output only
  Activation activation = Activation::kNone;  // float output only
  // Column range to compute, so a thread pool can split N. n_begin is a multiple of the variant's nr.
  int64_t n_begin = 0;
  int64_t n_end = 0;  // 0 means w->n
};

struct GemmS8Variant {
  const char* name;  // XNNPACK style: data type, operation, tile, ISA
  Isa isa;
  int nr;  // columns per packed panel
  int kr;  // consecutive k values per column inside a panel
  void (*run)(const GemmS8Args& args);
};

// ---------------------------------------------------------------- quantize / dequantize
// The tensor is viewed as [outer, channels, inner]; per-tensor parameters mean channels == 1 (with the
// whole tensor in inner). y = saturate(round_half_even(x / scale[c]) + zero_point[c]); NaN maps to the
// zero point. Dequantize: x = (float(q) - float(zero_point[c])) * scale[c].
struct QuantizeArgs {
  const float* x = nullptr;
  void* y = nullptr;  // int8 or uint8
  bool y_signed = true;
  int64_t outer = 1, channels = 1, inner = 0;
  const float* scales = nullptr;       // [channels]
  const int32_t* zero_points = nullptr;  // [channels]
};

struct DequantizeArgs {
  const void* q = nullptr;  // int8 or uint8
  bool q_signed = true;
  float* x = nullptr;
  int64_t outer = 1, channels = 1, inner = 0;
  const float* scales = nullptr;
  const int32_t* zero_points = nullptr;
};

struct QuantizeVariant {
  const char* name;
  Isa isa;
  void (*quantize)(const QuantizeArgs& args);
  void (*dequantize)(const DequantizeArgs& args);
};

// ---------------------------------------------------------------- LayerNorm / GELU
// Per row of `width` contiguous floats: y = act((x - mean) / sqrt(var + epsilon) * gamma + beta), with
// the population variance. gamma / beta may be null (1 / 0). act is kNone, kGeluErf or kGeluTanh.
// y may alias x.
struct LayerNormArgs {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0, width = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float epsilon = 1e-5f;
  Activation activation = Activation::kNone;
};

// GELU over n floats; y may alias x. exact: 0.5 x (1 + erf(x / sqrt 2)); tanh form:
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
struct GeluArgs {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t n = 0;
  bool tanh_approximation = false;
};

struct LayerNormGeluVariant {
  const char* name;
  Isa isa;
  void (*layer_norm)(const LayerNormArgs& args);
  void (*gelu)(const GeluArgs& args);
};

// ---------------------------------------------------------------- the table
// Every variant that was compiled into this binary, reference first, ascending ISA rank.
std::span<const GemmS8Variant* const> gemm_s8_variants();
std::span<const QuantizeVariant* const> quantize_variants();
std::span<const LayerNormGeluVariant* const> layernorm_gelu_variants();

struct KernelTable {
  const GemmS8Variant* gemm_s8;
  const QuantizeVariant* quantize;
  const LayerNormGeluVariant* layernorm_gelu;
  Isa ceiling;          // the highest level allowed (EDGEINFER_ISA, or the CPU's best)
  bool forced;          // EDGEINFER_ISA was set
};

// Filled once on first use. EDGEINFER_ISA=<isa name> caps the level; an unknown or unsupported name throws.
const KernelTable& kernels();

// Best variant in `variants` that is supported by the CPU and not above `ceiling`.
template <typename Variant>
const Variant* select_variant(std::span<const Variant* const> variants, Isa ceiling);

}  // namespace edgeinfer
