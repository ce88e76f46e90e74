// INT8 GEMM with the armv8.2-a dot product (SDOT, s8 x s8 -> s32 in groups of 4), exact.
//
// u8 activations are flipped to s8 while A is packed (a ^ 0x80 == a - 128), so
//   sum_k (a - zp) w = sum_k a_s8 w - (zp - 128) colsum      (s8 input: sum_k a w - zp colsum)
// and the shared epilogue subtracts zp_eff * column_sum. SDOT sums 4 products of at most 2^14 into int32:
// exact, wrapping like the reference only when the total does.
//
// Tile 4 x 16, kr = 4: a packed group holds, for 16 columns, 4 consecutive k each (4 vectors of
// 4 columns x 4 k). 16 int32x4 accumulators, 4 A registers (16 k of one row each, used by 4-byte lane:
// SDOT by element), 4 weight registers. Per 4 k: 4 x LD1 (64 B of weights) + 16 x SDOT = 256 MACs;
// per 16 k also 4 x LD1 of A. The packed A buffer: [k / 16][4 rows][16 x int8], zero past K.
#include <arm_neon.h>

#include <cstdint>
#include <utility>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_arm_common.h"

#if !defined(__ARM_FEATURE_DOTPROD)
#error "gemm_s8_neondot.cc needs -march=armv8.2-a+dotprod (cmake/isa_flags.cmake)"
#endif

namespace edgeinfer {
namespace {

using namespace gemm_s8_arm;

struct NeonDot {
  static constexpr int kMr = 4;
  static constexpr int kKr = 4;
  static constexpr int kAGroup = 16;
  static constexpr int64_t kKSeg = 2048;
  static constexpr size_t kABufBytes = static_cast<size_t>(kKSeg) * kMr;  // 8 KB

  static int32_t zp_eff(const GemmS8Args& args) {
    return args.a_signed ? args.a_zero_point : args.a_zero_point - 128;
  }

  static void pack_a(const uint8_t* const* rows, int nrows, int64_t k0, int64_t kc, const GemmS8Args& args,
                     void* buf) {
    auto* out = static_cast<int8_t*>(buf);
    const bool flip = !args.a_signed;
    const uint8x16_t bias = vdupq_n_u8(flip ? 0x80 : 0x00);
    const int64_t full = kc / kAGroup;
    const int64_t tail = kc % kAGroup;
    for (int r = 0; r < nrows; ++r) {
      const uint8_t* src = rows[r] + k0;
      for (int64_t g = 0; g < full; ++g)
        vst1q_s8(out + (g * kMr + r) * 16, vreinterpretq_s8_u8(veorq_u8(vld1q_u8(src + 16 * g), bias)));
      if (tail != 0) {
        int8_t* dst = out + (full * kMr + r) * 16;
        vst1q_s8(dst, vdupq_n_s8(0));
        copy_tail_bytes(dst, src + 16 * full, tail, flip);
      }
    }
  }

  // 4 k (lane L of each row's A register) for 16 columns; used for the last 1..3 groups of 4 k.
  template <int ROWS, int L>
  static inline __attribute__((always_inline)) void step(int32x4_t (&acc)[ROWS][4], const int8x16_t (&a)[ROWS],
                                                         const int8_t* b) {
    const int8x16_t w0 = vld1q_s8(b + 64 * L + 0);
    const int8x16_t w1 = vld1q_s8(b + 64 * L + 16);
    const int8x16_t w2 = vld1q_s8(b + 64 * L + 32);
    const int8x16_t w3 = vld1q_s8(b + 64 * L + 48);
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r) {
      acc[r][0] = vdotq_laneq_s32(acc[r][0], w0, a[r], L);
      acc[r][1] = vdotq_laneq_s32(acc[r][1], w1, a[r], L);
      acc[r][2] = vdotq_laneq_s32(acc[r][2], w2, a[r], L);
      acc[r][3] = vdotq_laneq_s32(acc[r][3], w3, a[r], L);
    }
  }

  // ---- the K loop in assembly (GCC 12 adds MOVs and a spill around 16 tied accumulators) ---------------
  // Fixed registers: accumulators v0..v15 (row r, columns 4j..4j+3 -> v(4r + j)), A rows in v16..v19 (16 k
  // each, one 4-byte lane per SDOT), weights of one group of 4 k (16 columns) in v20..v23 (P) and v24..v27
  // (Q), double-buffered: the next group loads while the current one multiplies.
#define EI_DOT_ROW(ar, l, w0, w1, w2, w3, c0, c1, c2, c3) \
  "sdot " c0 ".4s, " w0 ".16b, " ar ".4b[" #l "]\n\t"       \
  "sdot " c1 ".4s, " w1 ".16b, " ar ".4b[" #l "]\n\t"       \
  "sdot " c2 ".4s, " w2 ".16b, " ar ".4b[" #l "]\n\t"       \
  "sdot " c3 ".4s, " w3 ".16b, " ar ".4b[" #l "]\n\t"
#define EI_DOT_P0 "v20"
#define EI_DOT_P1 "v21"
#define EI_DOT_P2 "v22"
#define EI_DOT_P3 "v23"
#define EI_DOT_Q0 "v24"
#define EI_DOT_Q1 "v25"
#define EI_DOT_Q2 "v26"
#define EI_DOT_Q3 "v27"
#define EI_DOT_RW(ar, l, S, c0, c1, c2, c3) \
  EI_DOT_ROW(ar, l, EI_DOT_##S##0, EI_DOT_##S##1, EI_DOT_##S##2, EI_DOT_##S##3, c0, c1, c2, c3)
#define EI_DOT_R0(l, S) EI_DOT_RW("v16", l, S, "v0", "v1", "v2", "v3")
#define EI_DOT_R1(l, S) EI_DOT_RW("v17", l, S, "v4", "v5", "v6", "v7")
#define EI_DOT_R2(l, S) EI_DOT_RW("v18", l, S, "v8", "v9", "v10", "v11")
#define EI_DOT_R3(l, S) EI_DOT_RW("v19", l, S, "v12", "v13", "v14", "v15")
#define EI_DOT_STEP_1(l, W, mid) EI_DOT_R0(l, W) mid
#define EI_DOT_STEP_2(l, W, mid) EI_DOT_R0(l, W) mid EI_DOT_R1(l, W)
#define EI_DOT_STEP_3(l, W, mid) EI_DOT_R0(l, W) EI_DOT_R1(l, W) mid EI_DOT_R2(l, W)
#define EI_DOT_STEP_4(l, W, mid) EI_DOT_R0(l, W) EI_DOT_R1(l, W) mid EI_DOT_R2(l, W) EI_DOT_R3(l, W)
#define EI_DOT_LDW(a, b, c, d, off) \
  "ldp q" #a ", q" #b ", [%[pb], #" #off "]\n\tldp q" #c ", q" #d ", [%[pb], #" #off "+32]\n\t"
#define EI_DOT_LDA_1 "ldr q16, [%[pa]]\n\t"
#define EI_DOT_LDA_2 "ldp q16, q17, [%[pa]]\n\t"
#define EI_DOT_LDA_3 EI_DOT_LDA_2 "ldr q18, [%[pa], #32]\n\t"
#define EI_DOT_LDA_4 EI_DOT_LDA_2 "ldp q18, q19, [%[pa], #32]\n\t"
#define EI_DOT_TROW(op, r, c0, c1, c2, c3) \
  op " q" #c0 ", q" #c1 ", [%[tile], #" #r "*64]\n\t" op " q" #c2 ", q" #c3 ", [%[tile], #" #r "*64+32]\n\t"
#define EI_DOT_TILE_1(op) EI_DOT_TROW(op, 0, 0, 1, 2, 3)
#define EI_DOT_TILE_2(op) EI_DOT_TILE_1(op) EI_DOT_TROW(op, 1, 4, 5, 6, 7)
#define EI_DOT_TILE_3(op) EI_DOT_TILE_2(op) EI_DOT_TROW(op, 2, 8, 9, 10, 11)
#define EI_DOT_TILE_4(op) EI_DOT_TILE_3(op) EI_DOT_TROW(op, 3, 12, 13, 14, 15)
#define EI_DOT_ASM(R)                                                                                       \
  asm volatile(                                                                                             \
      "cbz %[accum], 3f\n\t" EI_DOT_TILE_##R("ldp") "b 4f\n\t"                                              \
      "3:\n\t"                                                                                              \
      "movi v0.4s, #0\n\tmovi v1.4s, #0\n\tmovi v2.4s, #0\n\tmovi v3.4s, #0\n\t"                            \
      "movi v4.4s, #0\n\tmovi v5.4s, #0\n\tmovi v6.4s, #0\n\tmovi v7.4s, #0\n\t"                            \
      "movi v8.4s, #0\n\tmovi v9.4s, #0\n\tmovi v10.4s, #0\n\tmovi v11.4s, #0\n\t"                          \
      "movi v12.4s, #0\n\tmovi v13.4s, #0\n\tmovi v14.4s, #0\n\tmovi v15.4s, #0\n\t"                        \
      "4:\n\t"                                                                                              \
      "cbz %[n], 2f\n\t"                                                                                    \
      ".p2align 4\n\t"                                                                                      \
      "1:\n\t" EI_DOT_LDW(20, 21, 22, 23, 0) EI_DOT_LDA_##R                                                 \
      EI_DOT_STEP_##R(0, P, EI_DOT_LDW(24, 25, 26, 27, 64))                                          \
      EI_DOT_STEP_##R(1, Q, EI_DOT_LDW(20, 21, 22, 23, 128))                                         \
      EI_DOT_STEP_##R(2, P, EI_DOT_LDW(24, 25, 26, 27, 192))                                         \
      EI_DOT_STEP_##R(3, Q, "")                                                                      \
      "add %[pb], %[pb], #256\n\t"                                                                          \
      "add %[pa], %[pa], #64\n\t"                                                                           \
      "subs %[n], %[n], #1\n\t"                                                                             \
      "b.ne 1b\n\t"                                                                                         \
      "2:\n\t" EI_DOT_TILE_##R("stp")                                                                       \
      : [pa] "+r"(pa), [pb] "+r"(pb), [n] "+r"(count)                                                       \
      : [tile] "r"(tile), [accum] "r"(accum)                                                                \
      : "cc", "memory", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",    \
        "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26",  \
        "v27")

  // tile[ROWS][16] (+)= A x W over `count` (>= 0) blocks of 16 k: A 64 bytes, weights 256 bytes per block.
  template <int ROWS>
  static void main_loop(const int8_t*& pa, const int8_t*& pb, int64_t count, bool accumulate, int32_t* tile) {
    const int64_t accum = accumulate ? 1 : 0;
    if constexpr (ROWS == 1) EI_DOT_ASM(1);
    if constexpr (ROWS == 2) EI_DOT_ASM(2);
    if constexpr (ROWS == 3) EI_DOT_ASM(3);
    if constexpr (ROWS == 4) EI_DOT_ASM(4);
  }

  template <int ROWS>
  static void k_loop(const void* abuf, const int8_t* b, int64_t kc, bool accumulate, int32_t* tile) {
    const auto* a = static_cast<const int8_t*>(abuf);
    const int64_t groups = (kc + kKr - 1) / kKr;  // the packed weights are zero-padded to a multiple of 4
    main_loop<ROWS>(a, b, groups / 4, accumulate, tile);
    const int rest = static_cast<int>(groups % 4);  // 1..3 groups of 4 k left, on the tile
    if (rest == 0) return;
    int32x4_t acc[ROWS][4];
    int8x16_t av[ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r) {
      av[r] = vld1q_s8(a + r * 16);
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) acc[r][v] = vld1q_s32(tile + r * kNr + 4 * v);
    }
    step<ROWS, 0>(acc, av, b);
    if (rest > 1) step<ROWS, 1>(acc, av, b);
    if (rest > 2) step<ROWS, 2>(acc, av, b);
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < 4; ++v) vst1q_s32(tile + r * kNr + 4 * v, acc[r][v]);
  }
};

void gemm_s8_neondot_run(const GemmS8Args& args) { gemm_s8_arm::run<NeonDot>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8NeonDot = {"qs8_gemm_4x16c4__neondot", Isa::kNeonDot, kNr, NeonDot::kKr,
                                             gemm_s8_neondot_run};

}  // namespace edgeinfer
