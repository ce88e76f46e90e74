// INT8 GEMM with the armv8.6-a int8 matrix multiply (SMMLA: a 2 x 8 s8 block times a 2 x 8 s8 block
// transposed, accumulated into a 2 x 2 int32 block), exact.
//
// Activations go through the same u8 -> s8 flip as the dot-product variant (a ^ 0x80), so one SMMLA form
// serves both input types and the shared epilogue subtracts zp_eff * column_sum (zp_eff = zp - 128 for u8
// input, zp for s8). (USMMLA would take u8 directly, but then s8 input would need the opposite flip; the
// flip is free inside the A packing.) Each SMMLA lane sums 8 products of at most 2^14: exact in int32.
//
// Tile 4 x 16, kr = 8: a packed group holds, for 16 columns, 8 consecutive k each, i.e. 8 vectors of
// (2 columns x 8 k) = exactly SMMLA's right operand. A is packed by row pairs: [k / 8][2 pairs][row 2p: 8 k,
// row 2p + 1: 8 k] (zero past K and for a missing odd row). Accumulator acc[p][j] holds rows 2p, 2p + 1 x
// columns 2j, 2j + 1 as [r0c0 r0c1 r1c0 r1c1]; the tile store un-interleaves it with ZIP1/ZIP2 on 64-bit
// lanes. 16 accumulators, 2 A registers, 8 weight registers. Per 8 k: 8 x LD1 (128 B of weights) +
// 2 x LD1 (A) + 16 x SMMLA = 512 MACs.
#include <arm_neon.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_s8/gemm_s8_arm_common.h"

#if !defined(__ARM_FEATURE_MATMUL_INT8)
#error "gemm_s8_i8mm.cc needs -march=armv8.6-a+i8mm (cmake/isa_flags.cmake)"
#endif

namespace edgeinfer {
namespace {

using namespace gemm_s8_arm;

struct I8mm {
  static constexpr int kMr = 4;
  static constexpr int kPairs = kMr / 2;
  static constexpr int kKr = 8;
  static constexpr int kAGroup = 8;
  static constexpr int64_t kKSeg = 2048;
  static constexpr size_t kABufBytes = static_cast<size_t>(kKSeg) * kMr;  // 8 KB

  static int32_t zp_eff(const GemmS8Args& args) {
    return args.a_signed ? args.a_zero_point : args.a_zero_point - 128;
  }

  static void pack_a(const uint8_t* const* rows, int nrows, int64_t k0, int64_t kc, const GemmS8Args& args,
                     void* buf) {
    auto* out = static_cast<int8_t*>(buf);
    const bool flip = !args.a_signed;
    const uint8x16_t bias16 = vdupq_n_u8(flip ? 0x80 : 0x00);
    const uint8x8_t bias8 = vdup_n_u8(flip ? 0x80 : 0x00);
    const int64_t full = kc / kAGroup;
    const int64_t tail = kc % kAGroup;
    const int64_t groups = full + (tail != 0 ? 1 : 0);
    // The partner of the last row of an odd row count reads zeros (its results are never stored).
    const int fill_rows = (nrows + 1) / 2 * 2;
    for (int r = 0; r < fill_rows; ++r) {
      int8_t* dst = out + (r / 2) * 16 + (r % 2) * 8;  // group g at dst + g * kMr * 8
      if (r >= nrows) {
        for (int64_t g = 0; g < groups; ++g) vst1_s8(dst + g * kMr * 8, vdup_n_s8(0));
        continue;
      }
      const uint8_t* src = rows[r] + k0;
      int64_t g = 0;
      for (; g + 2 <= full; g += 2) {  // 16 bytes, both within the row
        const int8x16_t v = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(src + 8 * g), bias16));
        vst1_s8(dst + g * kMr * 8, vget_low_s8(v));
        vst1_s8(dst + (g + 1) * kMr * 8, vget_high_s8(v));
      }
      for (; g < full; ++g) vst1_s8(dst + g * kMr * 8, vreinterpret_s8_u8(veor_u8(vld1_u8(src + 8 * g), bias8)));
      if (tail != 0) {
        int8_t* d = dst + full * kMr * 8;
        vst1_s8(d, vdup_n_s8(0));
        copy_tail_bytes(d, src + 8 * full, tail, flip);
      }
    }
  }

  template <int ROWS>
  static void k_loop(const void* abuf, const int8_t* b, int64_t kc, bool accumulate, int32_t* tile) {
    constexpr int P = (ROWS + 1) / 2;
    const auto* a = static_cast<const int8_t*>(abuf);
    int32x4_t acc[P][8];
    if (accumulate) {
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          const int64x2_t r0 = vreinterpretq_s64_s32(vld1q_s32(tile + (2 * p) * kNr + 4 * q));
          const int64x2_t r1 = vreinterpretq_s64_s32(vld1q_s32(tile + (2 * p + 1) * kNr + 4 * q));
          acc[p][2 * q] = vreinterpretq_s32_s64(vzip1q_s64(r0, r1));
          acc[p][2 * q + 1] = vreinterpretq_s32_s64(vzip2q_s64(r0, r1));
        }
    } else {
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) acc[p][j] = vdupq_n_s32(0);
    }
    const int64_t groups = (kc + kKr - 1) / kKr;  // the packed weights are zero-padded to a multiple of 8
    for (int64_t g = 0; g < groups; ++g) {
      int8x16_t av[P];
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) av[p] = vld1q_s8(a + (g * kPairs + p) * 16);
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        const int8x16_t wv = vld1q_s8(b + 16 * j);
#pragma GCC unroll 2
        for (int p = 0; p < P; ++p) acc[p][j] = vmmlaq_s32(acc[p][j], av[p], wv);
      }
      b += kKr * kNr;
    }
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const int64x2_t x = vreinterpretq_s64_s32(acc[p][2 * q]);
        const int64x2_t y = vreinterpretq_s64_s32(acc[p][2 * q + 1]);
        vst1q_s32(tile + (2 * p) * kNr + 4 * q, vreinterpretq_s32_s64(vzip1q_s64(x, y)));
        vst1q_s32(tile + (2 * p + 1) * kNr + 4 * q, vreinterpretq_s32_s64(vzip2q_s64(x, y)));
      }
  }
};

void gemm_s8_i8mm_run(const GemmS8Args& args) { gemm_s8_arm::run<I8mm>(args); }

}  // namespace

extern const GemmS8Variant kGemmS8I8mm = {"qs8_gemm_4x16c8__neoni8mm", Isa::kI8mm, kNr, I8mm::kKr, gemm_s8_i8mm_run};

}  // namespace edgeinfer
