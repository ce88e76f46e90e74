// The AArch64 INT8 GEMM driver shared by gemm_s8_neon.cc, gemm_s8_neondot.cc and gemm_s8_i8mm.cc (not a
// public header). Include it only from those files: everything is in an anonymous namespace (internal
// linkage), so a baseline caller can never be handed a copy compiled with +dotprod / +i8mm.
//
// All three variants use a 4 x 16 register tile (kMr rows x kNr columns) and the same blocking:
//   for each block of 4 rows of A:
//     pack the rows' K bytes once into a small stack buffer in the kernel's A layout (widened / flipped /
//     interleaved, zero-filled past K): the micro-kernel then only ever reads whole vectors from that
//     buffer, and A itself is read with 8/16-byte loads only while that many bytes remain in the row (the
//     last bytes are copied one by one), so a row ending at the end of its buffer is never over-read;
//     for each panel of 16 columns: micro-kernel over K -> int32 tile [4][16] (in L1) -> epilogue.
// K longer than one A buffer (Kernel::kKSeg) is done in segments; the int32 tiles of a group of panels
// are kept across segments (the micro-kernel then starts from the tile instead of zero).
//
// Epilogue (shared): acc -= zp_eff * column_sum[n] (int32, wrapping like the reference), then int32 store or
// y = act(fma(float(acc), a_scale * w_scale[n], bias[n])): the same operations in the same order as the
// reference, so kNone / kRelu are bit-exact; GELU uses vector_math_neon.h (< 1e-6 relative).
//
// A Kernel type provides:
//   kMr, kKSeg (k per A segment, a multiple of kAGroup), kAGroup, kABufBytes;
//   static int32_t zp_eff(const GemmS8Args&)         the zero point still to subtract via column sums;
//   static void pack_a(const uint8_t* const* rows, int nrows, int64_t k0, int64_t kc, const GemmS8Args&,
//                      void* buf)                    A[r][k0, k0 + kc) -> buf, zero-filled to kAGroup;
//   template <int ROWS> static void k_loop(const void* abuf, const int8_t* b, int64_t kc, bool accumulate,
//                                          int32_t* tile)        tile[kMr][kNr] (+)= A_seg x W_seg.
#pragma once

#if !defined(__aarch64__)
#error "gemm_s8_arm_common.h is for AArch64 only"
#endif

#include <arm_neon.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_neon.h"
#include "kernels/gemm_s8/gemm_s8_common.h"

namespace edgeinfer::gemm_s8_arm {
namespace {

constexpr int kNr = 16;                // columns per packed panel, every ARM variant
constexpr int64_t kPanelGroup = 32;    // panels whose tiles are kept while K is segmented (8 KB)

struct Epilogue {
  int32_t zp_eff;
  const int32_t* sums;
  const float* scale;
  const float* bias;
  int32_t* c_i32;
  float* c_f32;
  int64_t ldc;
  float a_scale;
  Activation act;
};

inline void store_partial_s32(int32_t* dst, int32x4_t v, int valid) {
  if (valid == 4) {
    vst1q_s32(dst, v);
  } else {
    int32_t tmp[4];
    vst1q_s32(tmp, v);
    std::memcpy(dst, tmp, static_cast<size_t>(valid) * sizeof(int32_t));
  }
}

inline void store_partial_f32(float* dst, float32x4_t v, int valid) {
  if (valid == 4) {
    vst1q_f32(dst, v);
  } else {
    float tmp[4];
    vst1q_f32(tmp, v);
    std::memcpy(dst, tmp, static_cast<size_t>(valid) * sizeof(float));
  }
}

// tile [MR][kNr] (rows < `rows` are valid) -> C rows m0.., columns n0 .. n0 + ncols.
template <int MR>
void epilogue(const Epilogue& e, const int32_t* tile, int rows, int64_t m0, int64_t n0, int ncols) {
  const int32x4_t zp = vdupq_n_s32(e.zp_eff);
  for (int v = 0; v < kNr / 4; ++v) {
    const int64_t col = n0 + 4 * v;
    const int valid = std::clamp(ncols - 4 * v, 0, 4);
    if (valid == 0) break;
    // Column sums, scales and bias are padded to a whole panel: full-vector loads stay inside.
    const int32x4_t corr = vmulq_s32(vld1q_s32(e.sums + col), zp);  // wraps like the reference
    if (e.c_i32 != nullptr) {
      for (int r = 0; r < rows; ++r) {
        const int32x4_t acc = vsubq_s32(vld1q_s32(tile + r * kNr + 4 * v), corr);
        store_partial_s32(e.c_i32 + (m0 + r) * e.ldc + col, acc, valid);
      }
    } else {
      const float32x4_t s = vmulq_f32(vdupq_n_f32(e.a_scale), vld1q_f32(e.scale + col));
      const float32x4_t bias = vld1q_f32(e.bias + col);
      const Activation act = e.act;
      for (int r = 0; r < rows; ++r) {
        const int32x4_t acc = vsubq_s32(vld1q_s32(tile + r * kNr + 4 * v), corr);
        float32x4_t y = vfmaq_f32(bias, vcvtq_f32_s32(acc), s);  // fma(float(acc), s, bias)
        if (act == Activation::kRelu) y = vmaxq_f32(y, vdupq_n_f32(0.0f));
        else if (act == Activation::kGeluErf) y = vmneon::gelu_erf_ps(y);
        else if (act == Activation::kGeluTanh) y = vmneon::gelu_tanh_ps(y);
        store_partial_f32(e.c_f32 + (m0 + r) * e.ldc + col, y, valid);
      }
    }
  }
}

// Copies `count` bytes of a row (any count, byte by byte: for the tails) into dst, flipping u8 -> s8.
inline void copy_tail_bytes(int8_t* dst, const uint8_t* src, int64_t count, bool flip) {
  for (int64_t i = 0; i < count; ++i) dst[i] = static_cast<int8_t>(flip ? src[i] ^ 0x80u : src[i]);
}

template <class K>
using LoopFn = void (*)(const void*, const int8_t*, int64_t, bool, int32_t*);

template <class K>
LoopFn<K> loop_for_rows(int rows) {
  static_assert(K::kMr == 4, "row dispatch is written for 4-row tiles");
  switch (rows) {
    case 1: return &K::template k_loop<1>;
    case 2: return &K::template k_loop<2>;
    case 3: return &K::template k_loop<3>;
    default: return &K::template k_loop<4>;
  }
}

// Runs a validated GemmS8Args whose weights were packed for this kernel (nr = 16, kr = K's).
template <class K>
void run(const GemmS8Args& args) {
  using namespace gemm_s8_detail;
  const PackedWeightsS8& w = *args.w;
  const int64_t k = w.k;
  const int64_t n_end = resolved_n_end(args);
  Epilogue e;
  e.zp_eff = K::zp_eff(args);
  e.sums = w.sums();
  e.scale = w.scale();
  e.bias = w.bias_values();
  e.c_i32 = args.c_i32;
  e.c_f32 = args.c_f32;
  e.ldc = args.ldc;
  e.a_scale = args.a_scale;
  e.act = args.activation;

  const int64_t panel_bytes = w.k_padded * kNr;
  const int64_t p_begin = args.n_begin / kNr;
  const int64_t p_end = (n_end + kNr - 1) / kNr;
  const int64_t segments = (k + K::kKSeg - 1) / K::kKSeg;
  const int8_t* packed = w.weights();
  const auto* a_base = static_cast<const uint8_t*>(args.a);

  alignas(64) uint8_t abuf[K::kABufBytes];
  alignas(64) int32_t tiles[kPanelGroup * K::kMr * kNr];

  for (int64_t m0 = 0; m0 < args.m; m0 += K::kMr) {
    const int rows = static_cast<int>(std::min<int64_t>(K::kMr, args.m - m0));
    const uint8_t* row_ptr[K::kMr];
    for (int r = 0; r < K::kMr; ++r) row_ptr[r] = a_base + (m0 + std::min(r, rows - 1)) * args.lda;
    const LoopFn<K> loop = loop_for_rows<K>(rows);
    if (segments == 1) K::pack_a(row_ptr, rows, 0, k, args, abuf);
    for (int64_t pg = p_begin; pg < p_end; pg += kPanelGroup) {
      const int64_t pg_end = std::min(p_end, pg + kPanelGroup);
      for (int64_t s = 0; s < segments; ++s) {
        const int64_t k0 = s * K::kKSeg;
        const int64_t kc = std::min<int64_t>(K::kKSeg, k - k0);
        if (segments > 1) K::pack_a(row_ptr, rows, k0, kc, args, abuf);
        // k0 is a multiple of kr: the segment's weights start k0 * nr bytes into the panel.
        for (int64_t p = pg; p < pg_end; ++p)
          loop(abuf, packed + p * panel_bytes + k0 * kNr, kc, s > 0, tiles + (p - pg) * K::kMr * kNr);
      }
      for (int64_t p = pg; p < pg_end; ++p) {
        const int64_t n0 = p * kNr;
        epilogue<K::kMr>(e, tiles + (p - pg) * K::kMr * kNr, rows, m0, n0,
                         static_cast<int>(std::min<int64_t>(kNr, n_end - n0)));
      }
    }
  }
}

}  // namespace
}  // namespace edgeinfer::gemm_s8_arm
