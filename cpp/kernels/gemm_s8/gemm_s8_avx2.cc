// INT8 GEMM with AVX2, exact: activations and weights are widened to int16 and multiplied with vpmaddwd
// (pairs of k, kr = 2), so nothing saturates (vpmaddubsw would). The zero point is subtracted from the
// widened activations ((a - zp) fits int16), so no column-sum correction is needed.
// Register tile: 4 rows x 16 columns (8 ymm accumulators, each 8 columns of int32).
//
// A is read 8 bytes (4 k-pairs) at a time while 8 bytes remain in the row; the last k % 8 bytes of each
// row are copied once per row block into a zero-padded local (never over-read).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/gemm_s8/gemm_s8_common.h"

namespace edgeinfer {
namespace {

using namespace gemm_s8_detail;

constexpr int kMr = 4;
constexpr int kNr = 16;
constexpr int kKr = 2;
constexpr int64_t kChunkBytes = 256 * 1024;

struct Context {
  int64_t full_quads;  // k / 8: 8-byte chunks of A read in place
  int tail_pairs;      // pairs left after them: ceil((k % 8) / 2)
  int32_t zp;
  const float* scale;
  const float* bias;
  int32_t* c_i32;
  float* c_f32;
  int64_t ldc;
  float a_scale;
  Activation act;
};

template <bool SIGNED>
inline __m256i widen_quad(uint64_t bytes, __m128i zp16) {
  const __m128i raw = _mm_cvtsi64_si128(static_cast<long long>(bytes));
  const __m128i w = SIGNED ? _mm_cvtepi8_epi16(raw) : _mm_cvtepu8_epi16(raw);
  const __m128i centered = _mm_sub_epi16(w, zp16);  // 4 dwords, each one k-pair of (a - zp) int16
  return _mm256_broadcastsi128_si256(centered);
}

inline __m256i load_b(const int8_t* p) {
  return _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int MR, bool SIGNED>
void micro_kernel(const Context& ctx, const uint8_t* const* rows, const uint64_t* tails, const int8_t* b, int64_t m0,
                  int64_t n0, int ncols) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m128i zp16 = _mm_set1_epi16(static_cast<int16_t>(ctx.zp));
  const uint8_t* a[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) a[r] = rows[r];

  const int8_t* bp = b;
  auto step = [&](const __m256i (&aq)[MR], auto pair_const) {
    constexpr int kPair = decltype(pair_const)::value;
    const __m256i b0 = load_b(bp + kPair * kNr * kKr);
    const __m256i b1 = load_b(bp + kPair * kNr * kKr + 16);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256i av = _mm256_shuffle_epi32(aq[r], kPair * 0x55);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(av, b0));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(av, b1));
    }
  };
  for (int64_t q = 0; q < ctx.full_quads; ++q) {
    __m256i aq[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      uint64_t bytes;
      std::memcpy(&bytes, a[r] + 8 * q, 8);
      aq[r] = widen_quad<SIGNED>(bytes, zp16);
    }
    step(aq, std::integral_constant<int, 0>{});
    step(aq, std::integral_constant<int, 1>{});
    step(aq, std::integral_constant<int, 2>{});
    step(aq, std::integral_constant<int, 3>{});
    bp += 4 * kNr * kKr;
  }
  if (ctx.tail_pairs != 0) {
    __m256i aq[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) aq[r] = widen_quad<SIGNED>(tails[r], zp16);
    // Only the pairs that exist in the packed weights are read (k_padded is a multiple of 2, not 8).
    step(aq, std::integral_constant<int, 0>{});
    if (ctx.tail_pairs > 1) step(aq, std::integral_constant<int, 1>{});
    if (ctx.tail_pairs > 2) step(aq, std::integral_constant<int, 2>{});
    if (ctx.tail_pairs > 3) step(aq, std::integral_constant<int, 3>{});
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
        if (act == Activation::kRelu) y = _mm256_max_ps(y, _mm256_setzero_ps());
        else if (act == Activation::kGeluErf) y = vm256::gelu_erf_ps(y);
        else if (act == Activation::kGeluTanh) y = vm256::gelu_tanh_ps(y);
        _mm256_maskstore_ps(ctx.c_f32 + (m0 + r) * ctx.ldc + col, mask, y);
      }
    }
  }
}

using KernelFn = void (*)(const Context&, const uint8_t* const*, const uint64_t*, const int8_t*, int64_t, int64_t,
                          int);

template <bool SIGNED>
KernelFn kernel_for_rows(int rows) {
  switch (rows) {
    case 1: return &micro_kernel<1, SIGNED>;
    case 2: return &micro_kernel<2, SIGNED>;
    case 3: return &micro_kernel<3, SIGNED>;
    default: return &micro_kernel<4, SIGNED>;
  }
}

void gemm_s8_avx2_run(const GemmS8Args& args) {
  const PackedWeightsS8& w = *args.w;
  const int64_t n_end = resolved_n_end(args);
  Context ctx;
  ctx.full_quads = w.k / 8;
  const int tail_bytes = static_cast<int>(w.k % 8);
  ctx.tail_pairs = (tail_bytes + 1) / 2;
  ctx.zp = args.a_zero_point;
  ctx.scale = w.scale();
  ctx.bias = w.bias_values();
  ctx.c_i32 = args.c_i32;
  ctx.c_f32 = args.c_f32;
  ctx.ldc = args.ldc;
  ctx.a_scale = args.a_scale;
  ctx.act = args.activation;

  const int64_t panel_bytes = w.k_padded * kNr;
  const int64_t p_begin = args.n_begin / kNr;
  const int64_t p_end = (n_end + kNr - 1) / kNr;
  const int64_t chunk = std::max<int64_t>(1, kChunkBytes / panel_bytes);
  const int8_t* packed = w.weights();
  const auto* a_base = static_cast<const uint8_t*>(args.a);

  for (int64_t pc = p_begin; pc < p_end; pc += chunk) {
    const int64_t pc_end = std::min(p_end, pc + chunk);
    for (int64_t m0 = 0; m0 < args.m; m0 += kMr) {
      const int rows = static_cast<int>(std::min<int64_t>(kMr, args.m - m0));
      const uint8_t* row_ptr[kMr];
      uint64_t tails[kMr];
      for (int r = 0; r < kMr; ++r) {
        row_ptr[r] = a_base + (m0 + std::min(r, rows - 1)) * args.lda;
        tails[r] = 0;
        if (tail_bytes != 0) std::memcpy(&tails[r], row_ptr[r] + 8 * ctx.full_quads, static_cast<size_t>(tail_bytes));
      }
      const KernelFn kernel = args.a_signed ? kernel_for_rows<true>(rows) : kernel_for_rows<false>(rows);
      for (int64_t p = pc; p < pc_end; ++p) {
        const int64_t n0 = p * kNr;
        const int ncols = static_cast<int>(std::min<int64_t>(kNr, n_end - n0));
        kernel(ctx, row_ptr, tails, packed + p * panel_bytes, m0, n0, ncols);
      }
    }
  }
}

}  // namespace

extern const GemmS8Variant kGemmS8Avx2 = {"qs8_gemm_4x16c2__avx2", Isa::kAvx2, kNr, kKr, gemm_s8_avx2_run};

}  // namespace edgeinfer
