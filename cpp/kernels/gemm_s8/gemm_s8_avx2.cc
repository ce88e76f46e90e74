// INT8 GEMM with AVX2, exact: activations and weights are widened to int16 and multiplied with vpmaddwd
// (pairs of k, kr = 2), so nothing saturates (vpmaddubsw would). The zero point is subtracted from the
// widened activations ((a - zp) fits int16), so no column-sum correction is needed.
// Register tile: 4 rows x 16 columns (8 ymm accumulators, each 8 columns of int32); the K loop is assembly.
//
// A block of 4 rows is widened once into a stack buffer of k-pairs, interleaved by row
// (aw[g][r] = (a[r][2g] - zp) | (a[r][2g + 1] - zp) << 16), so the K loop broadcasts one dword per row and
// pair. Rows are read 16 bytes at a time only while 16 bytes remain; the last bytes are copied one by one
// (never over-read). K longer than one buffer is done in segments, accumulating in per-panel int32 tiles.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/gemm_s8/gemm_s8_common.h"

namespace edgeinfer {
namespace {

using namespace gemm_s8_detail;

constexpr int kMr = 4;
constexpr int kNr = 16;
constexpr int kKr = 2;
constexpr int64_t kSegmentPairs = 1024;  // k-pairs widened at a time: 16 KB of stack
constexpr int64_t kPanelGroup = 32;      // panels whose tiles are kept while K is segmented: 8 KB

struct Context {
  int32_t zp;
  const float* scale;
  const float* bias;
  int32_t* c_i32;
  float* c_f32;
  int64_t ldc;
  float a_scale;
  Activation act;
};

// Widens k-pairs [g0, g0 + count) of `rows` rows (absent rows: zero) into aw[count][4].
template <bool SIGNED>
void widen_rows(const uint8_t* const* row_ptr, int rows, int64_t k, int32_t zp, int64_t g0, int64_t count,
                int32_t* aw) {
  const int64_t k0 = 2 * g0;
  int64_t g = 0;
  // 8 pairs (16 bytes) per row at a time, while 16 bytes remain in the row; 4 x 8 transpose to [g][r].
  const __m256i zpv = _mm256_set1_epi16(static_cast<int16_t>(zp));
  for (; g + 8 <= count && k0 + 2 * g + 16 <= k; g += 8) {
    __m256i r[4];
    for (int i = 0; i < 4; ++i) {
      if (i < rows) {
        const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row_ptr[i] + k0 + 2 * g));
        r[i] = _mm256_sub_epi16(SIGNED ? _mm256_cvtepi8_epi16(raw) : _mm256_cvtepu8_epi16(raw), zpv);
      } else {
        r[i] = _mm256_setzero_si256();
      }
    }
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
    const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
    auto* out = reinterpret_cast<__m256i*>(aw + 4 * g);
    _mm256_storeu_si256(out + 0, _mm256_permute2x128_si256(u0, u1, 0x20));
    _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(u2, u3, 0x20));
    _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(u0, u1, 0x31));
    _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(u2, u3, 0x31));
  }
  for (; g < count; ++g) {
    for (int i = 0; i < 4; ++i) {
      int32_t lo = 0, hi = 0;  // bytes past k pair with zero weights: any value works, 0 is tidy
      const int64_t kk = k0 + 2 * g;
      if (i < rows) {
        const uint8_t* a = row_ptr[i];
        if (kk < k) lo = (SIGNED ? int32_t{static_cast<int8_t>(a[kk])} : int32_t{a[kk]}) - zp;
        if (kk + 1 < k) hi = (SIGNED ? int32_t{static_cast<int8_t>(a[kk + 1])} : int32_t{a[kk + 1]}) - zp;
      }
      aw[4 * g + i] = static_cast<int32_t>((static_cast<uint32_t>(lo) & 0xffffu) | (static_cast<uint32_t>(hi) << 16));
    }
  }
}

// ---- the K loop in assembly (GCC spills the intrinsics version) ------------------------------------------
// Accumulators ymm0..7 (row r, columns 8v..8v+7 -> ymm(2r + v)), B (one k-pair of 16 columns widened to
// int16) in ymm8 / ymm9, the broadcast pair of row r in ymm(10 + r), products in ymm14 / ymm15.
// `accumulate` starts from the tile instead of zero; the result goes back to the tile [MR][16].
#define EI_Y(n) "%%ymm" #n
#define EI_ROW(r, q, c0, c1)                                       \
  "vpbroadcastd " #r "*4(%[aw]), " EI_Y(q) "\n\t"                  \
  "vpmaddwd %%ymm8, " EI_Y(q) ", %%ymm14\n\t"                      \
  "vpmaddwd %%ymm9, " EI_Y(q) ", %%ymm15\n\t"                      \
  "vpaddd %%ymm14, " EI_Y(c0) ", " EI_Y(c0) "\n\t"                 \
  "vpaddd %%ymm15, " EI_Y(c1) ", " EI_Y(c1) "\n\t"
#define EI_ROWS_1 EI_ROW(0, 10, 0, 1)
#define EI_ROWS_2 EI_ROWS_1 EI_ROW(1, 11, 2, 3)
#define EI_ROWS_3 EI_ROWS_2 EI_ROW(2, 12, 4, 5)
#define EI_ROWS_4 EI_ROWS_3 EI_ROW(3, 13, 6, 7)
#define EI_Z2(c0, c1) "vpxor " EI_Y(c0) ", " EI_Y(c0) ", " EI_Y(c0) "\n\tvpxor " EI_Y(c1) ", " EI_Y(c1) ", " EI_Y(c1) "\n\t"
#define EI_ZERO_1 EI_Z2(0, 1)
#define EI_ZERO_2 EI_ZERO_1 EI_Z2(2, 3)
#define EI_ZERO_3 EI_ZERO_2 EI_Z2(4, 5)
#define EI_ZERO_4 EI_ZERO_3 EI_Z2(6, 7)
#define EI_L2(c0, c1) "vmovdqa " #c0 "*32(%[tile]), " EI_Y(c0) "\n\tvmovdqa " #c1 "*32(%[tile]), " EI_Y(c1) "\n\t"
#define EI_LOAD_1 EI_L2(0, 1)
#define EI_LOAD_2 EI_LOAD_1 EI_L2(2, 3)
#define EI_LOAD_3 EI_LOAD_2 EI_L2(4, 5)
#define EI_LOAD_4 EI_LOAD_3 EI_L2(6, 7)
#define EI_S2(c0, c1) "vmovdqa " EI_Y(c0) ", " #c0 "*32(%[tile])\n\tvmovdqa " EI_Y(c1) ", " #c1 "*32(%[tile])\n\t"
#define EI_STORE_1 EI_S2(0, 1)
#define EI_STORE_2 EI_STORE_1 EI_S2(2, 3)
#define EI_STORE_3 EI_STORE_2 EI_S2(4, 5)
#define EI_STORE_4 EI_STORE_3 EI_S2(6, 7)

template <int MR>
void k_loop(const int32_t* aw, const int8_t* b, int64_t count, bool accumulate, int32_t* tile) {
  const int64_t acc = accumulate ? 1 : 0;
#define EI_ASM(MR_)                                                                                        \
  asm volatile("test %[acc], %[acc]\n\t"                                                                   \
               "jz 4f\n\t" EI_LOAD_##MR_ "jmp 5f\n\t"                                                      \
               "4:\n\t" EI_ZERO_##MR_ "5:\n\t"                                                             \
               "test %[count], %[count]\n\t"                                                               \
               "jz 2f\n\t"                                                                                 \
               ".p2align 5\n\t"                                                                            \
               "1:\n\t"                                                                                    \
               "vpmovsxbw (%[b]), %%ymm8\n\t"                                                              \
               "vpmovsxbw 16(%[b]), %%ymm9\n\t"                                                            \
               "prefetcht0 512(%[b])\n\t" EI_ROWS_##MR_                                                    \
               "add $16, %[aw]\n\t"                                                                        \
               "add $32, %[b]\n\t"                                                                         \
               "dec %[count]\n\t"                                                                          \
               "jnz 1b\n\t"                                                                                \
               "2:\n\t" EI_STORE_##MR_ "vzeroupper\n\t"                                                    \
               : [aw] "+r"(aw), [b] "+r"(b), [count] "+r"(count)                                           \
               : [acc] "r"(acc), [tile] "r"(tile)                                                          \
               : "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",    \
                 "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15")
  if constexpr (MR == 1) EI_ASM(1);
  if constexpr (MR == 2) EI_ASM(2);
  if constexpr (MR == 3) EI_ASM(3);
  if constexpr (MR == 4) EI_ASM(4);
#undef EI_ASM
}

// Tile [MR][16] -> C: int32 store, or dequantize + activation.
template <int MR>
void epilogue(const Context& ctx, const int32_t* tile, int64_t m0, int64_t n0, int ncols) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tile + r * kNr));
    acc[r][1] = _mm256_load_si256(reinterpret_cast<const __m256i*>(tile + r * kNr + 8));
  }
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
#pragma GCC unroll 2
  for (int v = 0; v < 2; ++v) {
    const int64_t col = n0 + v * 8;
    const int valid = std::clamp(ncols - v * 8, 0, 8);
    if (valid == 0) break;
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), iota);
    if (ctx.c_i32 != nullptr) {
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r)
        _mm256_maskstore_epi32(reinterpret_cast<int*>(ctx.c_i32 + (m0 + r) * ctx.ldc + col), mask, acc[r][v]);
    } else {
      const __m256 s = _mm256_mul_ps(_mm256_set1_ps(ctx.a_scale), _mm256_loadu_ps(ctx.scale + col));
      const __m256 bias = _mm256_loadu_ps(ctx.bias + col);
      const Activation act = ctx.act;
#pragma GCC unroll 8
      for (int r = 0; r < MR; ++r) {
        __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[r][v]), s, bias);
        if (act == Activation::kRelu) y = _mm256_max_ps(_mm256_setzero_ps(), y);  // NaN in y (second) stays
        else if (act == Activation::kGeluErf) y = vm256::gelu_erf_ps(y);
        else if (act == Activation::kGeluTanh) y = vm256::gelu_tanh_ps(y);
        _mm256_maskstore_ps(ctx.c_f32 + (m0 + r) * ctx.ldc + col, mask, y);
      }
    }
  }
}


template <int MR>
void run_rows(const Context& ctx, const GemmS8Args& args, const uint8_t* const* row_ptr, int64_t m0, int64_t n_end,
              int32_t* aw, int32_t* tiles) {
  const PackedWeightsS8& w = *args.w;
  const int64_t pairs = w.k_padded / 2;
  const int64_t segments = (pairs + kSegmentPairs - 1) / kSegmentPairs;
  const int64_t panel_bytes = w.k_padded * kNr;
  const int64_t p_begin = args.n_begin / kNr;
  const int64_t p_end = (n_end + kNr - 1) / kNr;
  const int8_t* packed = w.weights();
  auto widen = [&](int64_t g0, int64_t count) {
    if (args.a_signed) widen_rows<true>(row_ptr, MR, w.k, ctx.zp, g0, count, aw);
    else widen_rows<false>(row_ptr, MR, w.k, ctx.zp, g0, count, aw);
  };
  if (segments == 1) widen(0, pairs);
  for (int64_t pg = p_begin; pg < p_end; pg += kPanelGroup) {
    const int64_t pg_end = std::min(p_end, pg + kPanelGroup);
    for (int64_t s = 0; s < segments; ++s) {
      const int64_t g0 = s * kSegmentPairs;
      const int64_t count = std::min(kSegmentPairs, pairs - g0);
      if (segments > 1) widen(g0, count);
      for (int64_t p = pg; p < pg_end; ++p)
        k_loop<MR>(aw, packed + p * panel_bytes + g0 * kNr * kKr, count, s > 0, tiles + (p - pg) * kMr * kNr);
    }
    for (int64_t p = pg; p < pg_end; ++p) {
      const int64_t n0 = p * kNr;
      epilogue<MR>(ctx, tiles + (p - pg) * kMr * kNr, m0, n0, static_cast<int>(std::min<int64_t>(kNr, n_end - n0)));
    }
  }
}

void gemm_s8_avx2_run(const GemmS8Args& args) {
  Context ctx;
  ctx.zp = args.a_zero_point;
  ctx.scale = args.w->scale();
  ctx.bias = args.w->bias_values();
  ctx.c_i32 = args.c_i32;
  ctx.c_f32 = args.c_f32;
  ctx.ldc = args.ldc;
  ctx.a_scale = args.a_scale;
  ctx.act = args.activation;
  const int64_t n_end = resolved_n_end(args);
  alignas(64) int32_t aw[kSegmentPairs * kMr];
  alignas(64) int32_t tiles[kPanelGroup * kMr * kNr];
  const auto* a_base = static_cast<const uint8_t*>(args.a);
  for (int64_t m0 = 0; m0 < args.m; m0 += kMr) {
    const int rows = static_cast<int>(std::min<int64_t>(kMr, args.m - m0));
    const uint8_t* row_ptr[kMr];
    for (int r = 0; r < kMr; ++r) row_ptr[r] = a_base + (m0 + std::min(r, rows - 1)) * args.lda;
    switch (rows) {
      case 1: run_rows<1>(ctx, args, row_ptr, m0, n_end, aw, tiles); break;
      case 2: run_rows<2>(ctx, args, row_ptr, m0, n_end, aw, tiles); break;
      case 3: run_rows<3>(ctx, args, row_ptr, m0, n_end, aw, tiles); break;
      default: run_rows<4>(ctx, args, row_ptr, m0, n_end, aw, tiles); break;
    }
  }
}

}  // namespace

extern const GemmS8Variant kGemmS8Avx2 = {"qs8_gemm_4x16c2__avx2", Isa::kAvx2, kNr, kKr, gemm_s8_avx2_run};

}  // namespace edgeinfer
