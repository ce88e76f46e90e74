// The VNNI (vpdpbusd, u8 x s8 -> s32 in groups of 4) GEMM driver and micro-kernel, written once over a
// vector "traits" type so the AVX-512 (zmm) and AVX-VNNI (ymm) files share it. Include this only from a
// file compiled with the matching ISA flags; the traits type lives in that file's anonymous namespace, so
// every instantiation has internal linkage.
//
// Packing: kr = 4, nr = Traits::kLanes * NV. For each panel and each group of 4 k, the panel holds NV
// vectors of (kLanes columns x 4 bytes), exactly the vpdpbusd operand layout.
//
// Blocking: N is cut into chunks of panels that fit a budget of L2; inside a chunk every block of MR rows
// of A runs over all panels of the chunk, so the A block stays in L1 and the chunk in L2. The micro-kernel
// (the traits' assembly K loop) keeps MR x NV accumulators in registers over the whole K (no partial sums
// in memory); the epilogue here applies the zero-point correction and the float epilogue (scale, bias,
// ReLU / GELU from vector_math_*.h).
//
// Traits provide: V / F vector types, kLanes, kChunkBytes, has_asm_kernel<MR, NV>(), asm_kernel<MR, FLIP>()
// (see AsmParams) and the epilogue operations (set1, load, store_aligned, sub, mullo, mask, store_i32,
// *_ps, gelu_*_ps).
//
// K tail: k % 4 bytes per row are assembled once per row block (tail_dword), never loaded as a dword, so a
// row that ends at the end of its buffer is never over-read. The packed k padding is zero.
//
// Implicit rows (GemmS8Args row_group / segments, a convolution over its padded input): a tile never
// crosses a row group, so its rows stay evenly spaced by lda; the assembly runs its K loop once per
// segment (EI_SEGMENT_BEGIN / END) and moves every row pointer by AsmParams::segment_jump in between.
// Segments hold whole groups of 4 (no tail). A one-row tile runs as two rows on the same pointer (the
// one-row GEMV loops have no segments) and the epilogue writes only the rows that exist.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/gemm_s8/gemm_s8_common.h"

namespace vnni_impl {
namespace {

using edgeinfer::Activation;
using edgeinfer::GemmS8Args;

struct Context {
  int64_t full_groups;  // k / 4
  int64_t groups;       // k_padded / 4
  int tail_bytes;       // k % 4
  int32_t zp_eff;
  const int32_t* sums;
  const float* scale;
  const float* bias;
  int32_t* c_i32;
  float* c_f32;
  int64_t ldc;
  float a_scale;
  Activation act;
  int64_t segments;
  int64_t segment_jump;
};

// What an assembly K loop needs besides A and B (field offsets are part of its contract).
struct AsmParams {
  const int32_t* init;    // +0:  NV vectors the accumulators of every row start from (-zp_eff * colsum)
  int32_t* out;           // +8:  row 0 of the MR x nr int32 result
  int64_t ldo;            // +16: bytes between result rows
  const uint32_t* tails;  // +24: the pre-assembled, pre-flipped k-tail dword of each row
  int64_t has_tail;       // +32: k % 4 != 0
  int64_t segments;       // +40: K loop runs (1 for plain rows)
  int64_t segment_groups; // +48: groups of 4 k per run
  int64_t segment_jump;   // +56: bytes every row pointer moves between runs
};
static_assert(sizeof(void*) == 8 && offsetof(AsmParams, has_tail) == 32 && offsetof(AsmParams, segment_jump) == 56,
              "AsmParams layout");

// The segment loop around an assembly K loop (labels 2 and 6 are its; ADVANCE moves the row registers by
// the jump). The operands [segs] and [count] are scratch registers.
#define EI_SEGMENT_BEGIN                \
  "mov 40(%[p]), %[segs]\n\t"           \
  "6:\n\t"                              \
  "mov 48(%[p]), %[count]\n\t"          \
  "test %[count], %[count]\n\t"         \
  "jz 2f\n\t"
#define EI_SEGMENT_END(ADVANCE) "2:\n\t" ADVANCE "dec %[segs]\n\t" "jnz 6b\n\t"
#define EI_JUMP(reg) "add 56(%[p]), %[" #reg "]\n\t"

// Finished (zero-point corrected) accumulators -> int32 store or float dequantize (+ activation), masked
// to ncols.
template <typename T, int MR, int NV>
inline void epilogue(const Context& ctx, const typename T::V (&acc)[MR][NV], int64_t m0, int64_t n0, int ncols,
                     int rows) {
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    const int64_t col = n0 + v * T::kLanes;
    const int valid = std::clamp(ncols - v * T::kLanes, 0, T::kLanes);
    if (valid == 0) break;
    const auto mask = T::mask(valid);
    if (ctx.c_i32 != nullptr) {
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r)
        if (r < rows) T::store_i32(ctx.c_i32 + (m0 + r) * ctx.ldc + col, mask, acc[r][v]);
    } else {
      const auto s = T::mul_ps(T::set1_ps(ctx.a_scale), T::load_ps(ctx.scale + col));
      const auto bias = T::load_ps(ctx.bias + col);
      const Activation act = ctx.act;
#pragma GCC unroll 16
      for (int r = 0; r < MR; ++r) {
        if (r >= rows) break;
        auto y = T::fmadd_ps(T::cvt_ps(acc[r][v]), s, bias);
        if (act == Activation::kRelu) y = T::max0_ps(y);
        else if (act == Activation::kGeluErf) y = T::gelu_erf_ps(y);
        else if (act == Activation::kGeluTanh) y = T::gelu_tanh_ps(y);
        T::store_ps(ctx.c_f32 + (m0 + r) * ctx.ldc + col, mask, y);
      }
    }
  }
}

template <typename T, int MR, int NV, bool FLIP>
void micro_kernel(const Context& ctx, const uint8_t* const* rows, const uint32_t* tails, const int8_t* b,
                  int64_t m0, int64_t n0, int ncols, int valid_rows) {
  using V = typename T::V;
  // The K loop is hand-written assembly in the traits (GCC spills a 24-accumulator tile written with
  // intrinsics). The accumulators start from the zero-point correction, so they finish as the int32
  // result: a full-width int32 tile is stored straight to C, anything else goes through `tile` (in L1).
  static_assert(T::template has_asm_kernel<MR, NV>(), "no K loop for this tile");
  constexpr int kNr = NV * T::kLanes;
  alignas(64) int32_t tile[MR][kNr];
  alignas(64) int32_t init[kNr];
  const V zp = T::set1(ctx.zp_eff);
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v)
    T::store_aligned(init + v * T::kLanes, T::sub(T::set1(0), T::mullo(T::load(ctx.sums + n0 + v * T::kLanes), zp)));
  const bool direct = ctx.c_i32 != nullptr && ncols == kNr && valid_rows == MR;
  AsmParams params;
  params.init = init;
  params.out = direct ? ctx.c_i32 + m0 * ctx.ldc + n0 : &tile[0][0];
  params.ldo = direct ? ctx.ldc * 4 : int64_t{kNr} * 4;
  params.tails = tails;
  params.has_tail = ctx.tail_bytes != 0 ? 1 : 0;
  params.segments = ctx.segments;
  params.segment_groups = ctx.full_groups / ctx.segments;
  params.segment_jump = ctx.segment_jump;
  T::template asm_kernel<MR, FLIP>(rows, b, ctx.full_groups, &params);
  if (direct) return;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[r][v] = T::load(&tile[r][v * T::kLanes]);
  epilogue<T, MR, NV>(ctx, acc, m0, n0, ncols, valid_rows);
}

template <typename T, int NV>
using KernelFn = void (*)(const Context&, const uint8_t* const*, const uint32_t*, const int8_t*, int64_t, int64_t,
                          int, int);

template <typename T, int MR, int NV, bool FLIP>
KernelFn<T, NV> kernel_for_rows(int rows) {
  if constexpr (MR == 0) {
    return nullptr;
  } else {
    if (rows == MR) return &micro_kernel<T, MR, NV, FLIP>;
    return kernel_for_rows<T, MR - 1, NV, FLIP>(rows);
  }
}

// Runs a validated GemmS8Args whose weights were packed with kr = 4, nr = T::kLanes * NV.
template <typename T, int MR, int NV>
void run(const GemmS8Args& args) {
  using namespace edgeinfer::gemm_s8_detail;
  constexpr int64_t kNr = int64_t{T::kLanes} * NV;
  const edgeinfer::PackedWeightsS8& w = *args.w;
  const int64_t n_end = resolved_n_end(args);
  const bool flip = args.a_signed;

  Context ctx;
  ctx.full_groups = w.k / 4;
  ctx.groups = w.k_padded / 4;
  ctx.tail_bytes = static_cast<int>(w.k % 4);
  ctx.zp_eff = effective_zero_point(args);
  ctx.sums = w.sums();
  ctx.scale = w.scale();
  ctx.bias = w.bias_values();
  ctx.c_i32 = args.c_i32;
  ctx.c_f32 = args.c_f32;
  ctx.ldc = args.ldc;
  ctx.a_scale = args.a_scale;
  ctx.act = args.activation;
  ctx.segments = args.segments;
  ctx.segment_jump = args.segments > 1 ? args.segment_stride - 4 * (ctx.full_groups / args.segments) : 0;

  const int64_t panel_bytes = ctx.groups * kNr * 4;
  const int64_t p_begin = args.n_begin / kNr;
  const int64_t p_end = (n_end + kNr - 1) / kNr;
  const int64_t chunk = std::max<int64_t>(1, T::kChunkBytes / panel_bytes);
  const int8_t* packed = w.weights();
  const auto* a_base = static_cast<const uint8_t*>(args.a);

  // Row groups (implicit rows): tiles stop at a group's end so their rows stay lda apart.
  const int64_t group = args.row_group > 0 ? args.row_group : args.m;
  for (int64_t pc = p_begin; pc < p_end; pc += chunk) {
    const int64_t pc_end = std::min(p_end, pc + chunk);
    for (int64_t g0 = 0; g0 < args.m; g0 += group) {
      const int64_t g_end = std::min(args.m, g0 + group);
      const uint8_t* g_base = a_base + (g0 / group) * args.group_stride;
      for (int64_t m0 = g0; m0 < g_end; m0 += MR) {
        const int rows = static_cast<int>(std::min<int64_t>(MR, g_end - m0));
        const uint8_t* row_ptr[MR];
        uint32_t tails[MR];
        for (int r = 0; r < MR; ++r) {
          row_ptr[r] = g_base + (m0 - g0 + std::min(r, rows - 1)) * args.lda;
          tails[r] = ctx.tail_bytes != 0 ? tail_dword(row_ptr[r] + 4 * ctx.full_groups, ctx.tail_bytes, flip) : 0;
        }
        const int kernel_rows = rows == 1 && ctx.segments > 1 ? 2 : rows;
        const KernelFn<T, NV> kernel =
            flip ? kernel_for_rows<T, MR, NV, true>(kernel_rows) : kernel_for_rows<T, MR, NV, false>(kernel_rows);
        for (int64_t p = pc; p < pc_end; ++p) {
          const int64_t n0 = p * kNr;
          const int ncols = static_cast<int>(std::min<int64_t>(kNr, n_end - n0));
          kernel(ctx, row_ptr, tails, packed + p * panel_bytes, m0, n0, ncols, rows);
        }
      }
    }
  }
}

}  // namespace
}  // namespace vnni_impl

