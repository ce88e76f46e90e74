// INT8 GEMM for baseline AArch64 NEON (armv8.0-a: Cortex-A53/A72/A73 have no sdot), exact.
//
// Why not SMULL + SMLAL on int8 (two products per int16 lane, then SADALP)? s8 x s8 products lie in
// [-16256, 16384] and two of them reach 32768 = (-128)(-128) * 2, one past int16: that path is only exact
// when one operand avoids -128 (gemmlowp's "AccumTwoWithin16Bits" restriction), and our weights may be -128.
// Instead (as XNNPACK's neon-mlal-lane kernels): activations are widened once to int16 with the zero point
// already subtracted ((a - zp) is in [-255, 255]); weights are sign-extended to int16 in the loop (SXTL, 2
// per 16 columns, shared by the 4 rows); SMLAL / SMLAL2 by element multiply 4 int16 weights by one int16
// activation lane and accumulate straight into int32: every product (|.| <= 255 * 128) is exact and no
// column-sum correction is needed.
//
// Tile 4 x 16, kr = 1 (the packed panel is, per k, 16 consecutive column weights): 16 int32x4 accumulators,
// 4 int16x8 A registers (8 k of one row each, consumed by lane), 2 widened weight vectors.
// Per 8 k (one iteration of the inline-assembly loop): 4 x LDP q (128 B of weights) + 2 x LDP q (A) +
// 16 x SXTL(2) + 128 x SMLAL(2) = 512 MACs.
// The packed A buffer: [k / 8][4 rows][8 x int16], zero past K.
#include <arm_neon.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_arm_common.h"

namespace edgeinfer {
namespace {

using namespace gemm_s8_arm;

struct NeonMlal {
  static constexpr int kMr = 4;
  static constexpr int kAGroup = 8;
  static constexpr int64_t kKSeg = 1024;
  static constexpr size_t kABufBytes = static_cast<size_t>(kKSeg) * kMr * sizeof(int16_t);  // 8 KB

  static int32_t zp_eff(const GemmS8Args&) { return 0; }  // subtracted while widening

  static void pack_a(const uint8_t* const* rows, int nrows, int64_t k0, int64_t kc, const GemmS8Args& args,
                     void* buf) {
    auto* out = static_cast<int16_t*>(buf);
    const int32_t zp = args.a_zero_point;
    const int16x8_t zpv = vdupq_n_s16(static_cast<int16_t>(zp));
    const int64_t full = kc / kAGroup;
    const int64_t tail = kc % kAGroup;
    for (int r = 0; r < nrows; ++r) {
      const uint8_t* src = rows[r] + k0;
      int64_t g = 0;
      if (args.a_signed) {
        const auto* s = reinterpret_cast<const int8_t*>(src);
        for (; g + 2 <= full; g += 2) {  // 16 bytes, both within the row
          const int8x16_t v = vld1q_s8(s + 8 * g);
          vst1q_s16(out + (g * kMr + r) * 8, vsubq_s16(vmovl_s8(vget_low_s8(v)), zpv));
          vst1q_s16(out + ((g + 1) * kMr + r) * 8, vsubq_s16(vmovl_high_s8(v), zpv));
        }
        for (; g < full; ++g) vst1q_s16(out + (g * kMr + r) * 8, vsubq_s16(vmovl_s8(vld1_s8(s + 8 * g)), zpv));
      } else {
        for (; g + 2 <= full; g += 2) {
          const uint8x16_t v = vld1q_u8(src + 8 * g);
          vst1q_s16(out + (g * kMr + r) * 8, vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(v))), zpv));
          vst1q_s16(out + ((g + 1) * kMr + r) * 8, vsubq_s16(vreinterpretq_s16_u16(vmovl_high_u8(v)), zpv));
        }
        for (; g < full; ++g)
          vst1q_s16(out + (g * kMr + r) * 8, vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vld1_u8(src + 8 * g))), zpv));
      }
      if (tail != 0) {
        int16_t* dst = out + (full * kMr + r) * 8;
        const uint8_t* t = src + 8 * full;
        for (int64_t i = 0; i < kAGroup; ++i) {
          int32_t v = 0;
          if (i < tail) v = (args.a_signed ? int32_t{static_cast<int8_t>(t[i])} : int32_t{t[i]}) - zp;
          dst[i] = static_cast<int16_t>(v);
        }
      }
    }
  }

  // ---- the K loop in assembly (GCC 12 shuffles 16 tied accumulators with extra MOVs and spills) ----------
  // Fixed registers: A rows in v0..v3 (8 x int16 each; the .h[] index form needs v0..v15), accumulators
  // v4..v19 (row r, columns 4v..4v+3 -> v(4 + 4r + v)), raw weights of two k in v30/v31, widened weights
  // in v20/v21 (X) and v22/v23 (Y), double-buffered so the SXTL of the next k sits between the SMLALs of
  // the current one. The accumulators start from zero or from the tile and end in the tile.
#define EI_ML_ROW(r, l, lo, hi, c0, c1, c2, c3)                  \
  "smlal  v" #c0 ".4s, " lo ".4h, v" #r ".h[" #l "]\n\t"         \
  "smlal2 v" #c1 ".4s, " lo ".8h, v" #r ".h[" #l "]\n\t"         \
  "smlal  v" #c2 ".4s, " hi ".4h, v" #r ".h[" #l "]\n\t"         \
  "smlal2 v" #c3 ".4s, " hi ".8h, v" #r ".h[" #l "]\n\t"
#define EI_ML_R0(l, lo, hi) EI_ML_ROW(0, l, lo, hi, 4, 5, 6, 7)
#define EI_ML_R1(l, lo, hi) EI_ML_ROW(1, l, lo, hi, 8, 9, 10, 11)
#define EI_ML_R2(l, lo, hi) EI_ML_ROW(2, l, lo, hi, 12, 13, 14, 15)
#define EI_ML_R3(l, lo, hi) EI_ML_ROW(3, l, lo, hi, 16, 17, 18, 19)
#define EI_ML_STEP_1(l, lo, hi, mid) EI_ML_R0(l, lo, hi) mid
#define EI_ML_STEP_2(l, lo, hi, mid) EI_ML_R0(l, lo, hi) mid EI_ML_R1(l, lo, hi)
#define EI_ML_STEP_3(l, lo, hi, mid) EI_ML_R0(l, lo, hi) EI_ML_R1(l, lo, hi) mid EI_ML_R2(l, lo, hi)
#define EI_ML_STEP_4(l, lo, hi, mid) EI_ML_R0(l, lo, hi) EI_ML_R1(l, lo, hi) mid EI_ML_R2(l, lo, hi) EI_ML_R3(l, lo, hi)
#define EI_ML_LDA_1 "ldr q0, [%[pa]]\n\t"
#define EI_ML_LDA_2 "ldp q0, q1, [%[pa]]\n\t"
#define EI_ML_LDA_3 EI_ML_LDA_2 "ldr q2, [%[pa], #32]\n\t"
#define EI_ML_LDA_4 EI_ML_LDA_2 "ldp q2, q3, [%[pa], #32]\n\t"
// Tile rows are 64 bytes: row r <-> v(4 + 4r) .. v(7 + 4r).
#define EI_ML_TROW(op, r, c0, c1, c2, c3) \
  op " q" #c0 ", q" #c1 ", [%[tile], #" #r "*64]\n\t" op " q" #c2 ", q" #c3 ", [%[tile], #" #r "*64+32]\n\t"
#define EI_ML_TILE_1(op) EI_ML_TROW(op, 0, 4, 5, 6, 7)
#define EI_ML_TILE_2(op) EI_ML_TILE_1(op) EI_ML_TROW(op, 1, 8, 9, 10, 11)
#define EI_ML_TILE_3(op) EI_ML_TILE_2(op) EI_ML_TROW(op, 2, 12, 13, 14, 15)
#define EI_ML_TILE_4(op) EI_ML_TILE_3(op) EI_ML_TROW(op, 3, 16, 17, 18, 19)
#define EI_ML_W "ldp q30, q31, [%[pb]], #32\n\t"
#define EI_ML_X "sxtl v20.8h, v30.8b\n\tsxtl2 v21.8h, v30.16b\n\t"
#define EI_ML_Y "sxtl v22.8h, v31.8b\n\tsxtl2 v23.8h, v31.16b\n\t"
#define EI_ML_ASM(R)                                                                                        \
  asm volatile(                                                                                             \
      "cbz %[accum], 3f\n\t" EI_ML_TILE_##R("ldp") "b 4f\n\t"                                               \
      "3:\n\t"                                                                                              \
      "movi v4.4s, #0\n\tmovi v5.4s, #0\n\tmovi v6.4s, #0\n\tmovi v7.4s, #0\n\t"                            \
      "movi v8.4s, #0\n\tmovi v9.4s, #0\n\tmovi v10.4s, #0\n\tmovi v11.4s, #0\n\t"                          \
      "movi v12.4s, #0\n\tmovi v13.4s, #0\n\tmovi v14.4s, #0\n\tmovi v15.4s, #0\n\t"                        \
      "movi v16.4s, #0\n\tmovi v17.4s, #0\n\tmovi v18.4s, #0\n\tmovi v19.4s, #0\n\t"                        \
      "4:\n\t"                                                                                              \
      "cbz %[n], 2f\n\t"                                                                                    \
      ".p2align 4\n\t"                                                                                      \
      "1:\n\t" EI_ML_W EI_ML_LDA_##R EI_ML_X                                                                \
      EI_ML_STEP_##R(0, "v20", "v21", EI_ML_Y EI_ML_W)                                                      \
      EI_ML_STEP_##R(1, "v22", "v23", EI_ML_X)                                                              \
      EI_ML_STEP_##R(2, "v20", "v21", EI_ML_Y EI_ML_W)                                                      \
      EI_ML_STEP_##R(3, "v22", "v23", EI_ML_X)                                                              \
      EI_ML_STEP_##R(4, "v20", "v21", EI_ML_Y EI_ML_W)                                                      \
      EI_ML_STEP_##R(5, "v22", "v23", EI_ML_X)                                                              \
      EI_ML_STEP_##R(6, "v20", "v21", EI_ML_Y)                                                              \
      EI_ML_STEP_##R(7, "v22", "v23", "")                                                                   \
      "add %[pa], %[pa], #64\n\t"                                                                           \
      "subs %[n], %[n], #1\n\t"                                                                             \
      "b.ne 1b\n\t"                                                                                         \
      "2:\n\t" EI_ML_TILE_##R("stp")                                                                        \
      : [pa] "+r"(pa), [pb] "+r"(pb), [n] "+r"(groups)                                                      \
      : [tile] "r"(tile), [accum] "r"(accum)                                                                \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",    \
        "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v30", "v31")

  // tile[ROWS][16] (+)= A x W over `groups` (>= 0) groups of 8 k: A from the packed buffer (64 bytes per
  // group), weights 128 bytes per group. Leaves pa / pb after the last group.
  template <int ROWS>
  static void main_loop(const int16_t*& pa, const int8_t*& pb, int64_t groups, bool accumulate, int32_t* tile) {
    const int64_t accum = accumulate ? 1 : 0;
    if constexpr (ROWS == 1) EI_ML_ASM(1);
    if constexpr (ROWS == 2) EI_ML_ASM(2);
    if constexpr (ROWS == 3) EI_ML_ASM(3);
    if constexpr (ROWS == 4) EI_ML_ASM(4);
  }

  template <int ROWS>
  static void k_loop(const void* abuf, const int8_t* b, int64_t kc, bool accumulate, int32_t* tile) {
    const auto* a = static_cast<const int16_t*>(abuf);
    main_loop<ROWS>(a, b, kc / kAGroup, accumulate, tile);
    // The last k % 8 values, on the tile: one weight row (16 bytes) per k (kr = 1: the packed weights end
    // at k, never read past it); A from the zero-filled last group of the buffer.
    const int tail = static_cast<int>(kc % kAGroup);
    if (tail == 0) return;
    int32x4_t acc[ROWS][4];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[r][v] = vld1q_s32(tile + r * kNr + 4 * v);
    for (int i = 0; i < tail; ++i) {
      const int8x16_t wb = vld1q_s8(b + 16 * i);
      const int16x8_t w0 = vmovl_s8(vget_low_s8(wb));
      const int16x8_t w1 = vmovl_high_s8(wb);
#pragma GCC unroll 4
      for (int r = 0; r < ROWS; ++r) {
        const int16_t s = a[r * 8 + i];
        acc[r][0] = vmlal_n_s16(acc[r][0], vget_low_s16(w0), s);
        acc[r][1] = vmlal_high_n_s16(acc[r][1], w0, s);
        acc[r][2] = vmlal_n_s16(acc[r][2], vget_low_s16(w1), s);
        acc[r][3] = vmlal_high_n_s16(acc[r][3], w1, s);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) vst1q_s32(tile + r * kNr + 4 * v, acc[r][v]);
  }
};

void gemm_s8_neon_run(const GemmS8Args& args) { gemm_s8_arm::run<NeonMlal>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8Neon = {"qs8_gemm_4x16__neon_mlal_lane", Isa::kNeon, kNr, 1, gemm_s8_neon_run};

}  // namespace edgeinfer
