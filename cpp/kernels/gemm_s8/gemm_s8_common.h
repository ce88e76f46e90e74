// Internal helpers shared by the INT8 GEMM variants (not a public header).
//
// Every variant computes, for the columns [n_begin, n_end) of an already-validated GemmS8Args:
//   acc[m, n] = sum_k (A[m, k] - zp) * W[k, n]     (int32, wrapping modulo 2^32 like the reference)
// The VNNI variants work on u8 activations: s8 activations are flipped on the fly (a ^ 0x80 == a + 128)
// and the zero point is raised by 128, so acc = sum_k a_u8 * W - zp_eff * column_sum[n].
// Float output: y = act(fma(float(acc), a_scale * w_scale[n], bias[n])); the reference uses the same
// operations in the same order, so for kNone / kRelu the SIMD variants match it bit for bit (x86: max(0, y),
// NaN in y stays; NEON: FMAX, also NaN-propagating, but +0 for y = -0).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"

namespace edgeinfer::gemm_s8_detail {

// The helpers below are included by files compiled with different ISA flags: internal linkage, so the
// linker can never hand a baseline caller a copy compiled for AVX-512.
namespace {

inline int32_t effective_zero_point(const GemmS8Args& args) {
  return args.a_signed ? args.a_zero_point + 128 : args.a_zero_point;
}

inline int64_t resolved_n_end(const GemmS8Args& args) { return args.n_end == 0 ? args.w->n : args.n_end; }

// Byte offset of A[i][kk] under GemmS8Args' row groups and segments (plain rows: i * lda + kk).
inline int64_t a_offset(const GemmS8Args& args, int64_t k, int64_t i, int64_t kk) {
  const int64_t group = args.row_group > 0 ? args.row_group : args.m;
  const int64_t segment_k = k / args.segments;
  return (i / group) * args.group_stride + (i % group) * args.lda + (kk / segment_k) * args.segment_stride + kk % segment_k;
}

// Scalar activations in float (the reference).
inline float gelu_erf_scalar(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }
inline float gelu_tanh_scalar(float x) {
  const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

inline float apply_activation_scalar(float x, Activation act) {
  switch (act) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x < 0.0f ? 0.0f : x;  // max(0, x) as maxps computes it: NaN stays NaN
    case Activation::kGeluErf: return gelu_erf_scalar(x);
    case Activation::kGeluTanh: return gelu_tanh_scalar(x);
  }
  return x;
}

// The last (k % 4) bytes of a row as one little-endian dword, zero-filled, flipped to u8 for s8 input.
// Reads exactly `bytes` bytes: never past the row end.
inline uint32_t tail_dword(const uint8_t* p, int bytes, bool flip) {
  uint32_t v = 0;
  std::memcpy(&v, p, static_cast<size_t>(bytes));
  if (flip) v ^= 0x80808080u;
  return v;
}

}  // namespace
}  // namespace edgeinfer::gemm_s8_detail
