// Portable glue shared by the GemmF32 / ConvF32 implementations (not a public header): splitting a GEMM over
// the thread pool, and the per-tensor uint8 quantization of activations (dynamic or static) for the INT8 paths.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"

namespace edgeinfer::gemm_f32_detail {

// Below this many multiply-adds a call stays on the calling thread (waking workers costs more).
constexpr int64_t kParallelMacs = int64_t{1} << 16;
// Scratch slots for calls whose B panels are gathered (conv): at most this many concurrent chunks.
constexpr int kMaxSlots = 8;

// Runs args over [0, n) split in column-panel chunks across the pool. When the B mode gathers panels,
// `scratch` holds `slots` areas of `slot_floats` floats each (one per concurrent chunk).
void run_split_n(const GemmF32Variant* variant, const GemmF32Args& args, int64_t macs, ThreadPool* pool,
                 float* scratch = nullptr, size_t slot_floats = 0, int slots = 1 << 30);

struct QuantParams {
  float scale;
  int32_t zero_point;
  // false: dynamic quantization found NaN or +-inf among the activations, or a magnitude beyond
  // kMaxDynamicRange. No uint8 grid represents them; the caller writes NaN to every output instead (ONNX
  // Runtime's FP32 result is non-finite there too; a saturated INT8 result would look plausible).
  bool finite = true;
};
// Largest |activation| the dynamic uint8 path accepts (scale and products stay far from overflow).
constexpr float kMaxDynamicRange = 3.4028234663852886e38f / 512.0f;
// uint8 asymmetric parameters covering [min(lo, 0), max(hi, 0)] (clamped to +-kMaxDynamicRange).
QuantParams choose_u8_params(float lo, float hi);
// DynamicQuantizeLinear's uint8 parameters for the range [lo, hi] (widened to include 0).
QuantParams onnx_u8_params(float lo, float hi);
// The uint8 parameters of one run over m rows of k floats (row stride lda): the fixed ones for static
// quantization, else choose_u8_params of their min / max, or finite = false (see QuantParams).
QuantParams activation_params_u8(const GemmF32Variant* helper, const ActivationQuantization& quantization,
                                 const float* a, int64_t m, int64_t k, int64_t lda);
// Quantizes those rows into out (row stride ldo).
void quantize_rows_u8(QuantParams qp, const float* a, int64_t m, int64_t k, int64_t lda, uint8_t* out, int64_t ldo);
// Static parameters must be usable as they are (scale finite and > 0, zero point 0..255); throws kInvalidArgument.
void check_quantization(const ActivationQuantization& quantization, const char* what, bool levels_allowed = false);

// The gemm_s8 epilogue activation for a fused one, or kNone when it must run as a separate pass.
Activation s8_activation(FusedActivation act);

// gemm_s8 over the columns split across the pool, then the separate activation pass if needed.
void run_s8_split_n(const GemmS8Args& args, int64_t macs, ThreadPool* pool, const GemmF32Variant* helper,
                    ActivationParams act, Activation s8_act);

}  // namespace edgeinfer::gemm_f32_detail
