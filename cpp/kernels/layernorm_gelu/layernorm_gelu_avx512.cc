// LayerNorm (+ fused GELU) and GELU on AVX-512F. One row at a time: pass 1 sums the row (from memory),
// pass 2 sums squared deviations from the mean (row now in L1/L2: two-pass, no cancellation), pass 3
// normalizes, applies gamma/beta and the activation in registers and stores the row once.
// GCC 12 reports its own _mm512_undefined_ps() self-initialisation as uninitialised once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx512.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"


namespace edgeinfer {
namespace {

inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

template <Activation A>
inline __m512 activate(__m512 v) {
  if constexpr (A == Activation::kGeluErf) return vm512::gelu_erf_ps(v);
  else if constexpr (A == Activation::kGeluTanh) return vm512::gelu_tanh_ps(v);
  else return v;
}

float row_sum(const float* x, int64_t w) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= w; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(x + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(x + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i + 16 <= w; i += 16) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(x + i));
  if (i < w) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(tail_mask(w - i), x + i));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

float row_sq_dev(const float* x, int64_t w, float mean) {
  const __m512 m = _mm512_set1_ps(mean);
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= w; i += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m);
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 32), m);
    const __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 48), m);
    a0 = _mm512_fmadd_ps(d0, d0, a0);
    a1 = _mm512_fmadd_ps(d1, d1, a1);
    a2 = _mm512_fmadd_ps(d2, d2, a2);
    a3 = _mm512_fmadd_ps(d3, d3, a3);
  }
  for (; i + 16 <= w; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
    a0 = _mm512_fmadd_ps(d, d, a0);
  }
  if (i < w) {
    const __mmask16 k = tail_mask(w - i);
    const __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), m);
    a1 = _mm512_fmadd_ps(d, d, a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

template <Activation A, bool kGamma, bool kBeta>
inline __m512 normalize(__m512 v, __m512 mean, __m512 rstd, const float* gamma, const float* beta, int64_t i,
                        __mmask16 k) {
  __m512 n = _mm512_mul_ps(_mm512_sub_ps(v, mean), rstd);
  if constexpr (kGamma && kBeta)
    n = _mm512_fmadd_ps(n, _mm512_maskz_loadu_ps(k, gamma + i), _mm512_maskz_loadu_ps(k, beta + i));
  else if constexpr (kGamma)
    n = _mm512_mul_ps(n, _mm512_maskz_loadu_ps(k, gamma + i));
  else if constexpr (kBeta)
    n = _mm512_add_ps(n, _mm512_maskz_loadu_ps(k, beta + i));
  return activate<A>(n);
}

// The GELU loop, shared by gelu() and the fused LayerNorm + GELU (which runs it in place over an
// L1-resident block of normalized rows): same instructions either way.
template <Activation A>
__attribute__((noinline)) void gelu_run(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 o0 = activate<A>(_mm512_loadu_ps(x + i));
    const __m512 o1 = activate<A>(_mm512_loadu_ps(x + i + 16));
    _mm512_storeu_ps(y + i, o0);
    _mm512_storeu_ps(y + i + 16, o1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, k, activate<A>(_mm512_maskz_loadu_ps(k, x + i)));
  }
}

// y[0, n) = (x[0, n) - mean) * rstd * gamma + beta (gamma / beta already offset to this span).
template <bool kGamma, bool kBeta>
void normalize_span(const float* x, float* y, int64_t n, __m512 vmean, __m512 vrstd, const float* gamma,
                    const float* beta) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 o0 =
        normalize<Activation::kNone, kGamma, kBeta>(_mm512_loadu_ps(x + i), vmean, vrstd, gamma, beta, i, 0xFFFF);
    const __m512 o1 = normalize<Activation::kNone, kGamma, kBeta>(_mm512_loadu_ps(x + i + 16), vmean, vrstd, gamma,
                                                                  beta, i + 16, 0xFFFF);
    _mm512_storeu_ps(y + i, o0);
    _mm512_storeu_ps(y + i + 16, o1);
  }
  for (; i < n; i += 16) {
    const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask(n - i);
    const __m512 o =
        normalize<Activation::kNone, kGamma, kBeta>(_mm512_maskz_loadu_ps(k, x + i), vmean, vrstd, gamma, beta, i, k);
    _mm512_mask_storeu_ps(y + i, k, o);
  }
}

// GELU in place over an L1-resident block y[0, len), in pieces of kPiece floats; after each piece, the
// matching piece of the next block's input (px) and output (py) lines is prefetched, so that the DRAM
// traffic of the next block overlaps this block's arithmetic (the hardware prefetcher alone would leave
// the statistics pass waiting on memory and the GELU pass with the memory idle).
template <Activation A>
void gelu_block(float* y, int64_t len, const float* px, float* py, int64_t plen) {
  if (plen == 0) return gelu_run<A>(y, y, len);
  constexpr int64_t kPiece = 256;
  for (int64_t i = 0; i < len; i += kPiece) {
    const int64_t n = len - i < kPiece ? len - i : kPiece;
    gelu_run<A>(y + i, y + i, n);
    const int64_t pend = i + kPiece < plen ? i + kPiece : plen;
    for (int64_t j = i; j < pend; j += 16) {
      __builtin_prefetch(px + j, 0, 3);
      __builtin_prefetch(py + j, 1, 3);  // prefetchw where available: the stores would miss too
    }
  }
}

// Rows are processed in blocks of at most kBlock floats (one or more whole rows, or a slice of one long
// row): statistics per row (pass 1 from memory, pass 2 from L1/L2), normalized values stored into y, then,
// with an activation, the standalone GELU loop runs in place over the block while it is in L1. The work is
// exactly that of LayerNorm followed by gelu(), but main memory is streamed once instead of twice.
// Non-temporal stores were measured at 2048x4096 (32 MB out) and did not help on Zen5: plain stores only.
constexpr int64_t kBlock = 4096;  // floats: a 16 KB block of x and one of y stay in the 32-48 KB L1
// Below this many floats (in + out <= 512 KB) the tensor is L2-resident and software prefetching only costs.
constexpr int64_t kPrefetchMin = int64_t{1} << 16;

template <Activation A, bool kGamma, bool kBeta>
void layer_norm_rows(const LayerNormArgs& a) {
  const int64_t w = a.width;
  const float inv_w = 1.0f / static_cast<float>(w);
  const int64_t rows_per_block = w >= kBlock ? 1 : kBlock / w;
  const bool prefetch = a.rows * w > kPrefetchMin;
  for (int64_t r0 = 0; r0 < a.rows; r0 += rows_per_block) {
    const int64_t r1 = r0 + rows_per_block < a.rows ? r0 + rows_per_block : a.rows;
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = a.x + r * w;
      float* y = a.y + r * w;
      const float mean = layernorm_detail::row_mean(row_sum(x, w), inv_w, x, w);
      const float var = row_sq_dev(x, w, mean) * inv_w;
      const __m512 vmean = _mm512_set1_ps(mean);
      const __m512 vrstd = _mm512_set1_ps(1.0f / __builtin_sqrtf(var + a.epsilon));
      // A long row goes in slices so that the GELU pass still finds its slice in L1.
      for (int64_t c = 0; c < w; c += kBlock) {
        const int64_t len = w - c < kBlock ? w - c : kBlock;
        normalize_span<kGamma, kBeta>(x + c, y + c, len, vmean, vrstd, kGamma ? a.gamma + c : nullptr,
                                      kBeta ? a.beta + c : nullptr);
        if constexpr (A != Activation::kNone) {
          if (w > kBlock) {  // prefetch the same slice of the next row
            const int64_t plen = prefetch && r + 1 < a.rows ? len : 0;
            gelu_block<A>(y + c, len, x + w + c, y + w + c, plen);
          }
        }
      }
    }
    if constexpr (A != Activation::kNone) {
      if (w <= kBlock) {  // prefetch the next block of rows
        const int64_t r2 = r1 + rows_per_block < a.rows ? r1 + rows_per_block : a.rows;
        gelu_block<A>(a.y + r0 * w, (r1 - r0) * w, a.x + r1 * w, a.y + r1 * w, prefetch ? (r2 - r1) * w : 0);
      }
    }
  }
}

template <Activation A>
void layer_norm_dispatch_affine(const LayerNormArgs& a) {
  if (a.gamma && a.beta) layer_norm_rows<A, true, true>(a);
  else if (a.gamma) layer_norm_rows<A, true, false>(a);
  else if (a.beta) layer_norm_rows<A, false, true>(a);
  else layer_norm_rows<A, false, false>(a);
}

void layer_norm_avx512(const LayerNormArgs& a) {
  layernorm_detail::check_args(a);
  if (a.rows == 0 || a.width == 0) return;
  switch (a.activation) {
    case Activation::kGeluErf: layer_norm_dispatch_affine<Activation::kGeluErf>(a); break;
    case Activation::kGeluTanh: layer_norm_dispatch_affine<Activation::kGeluTanh>(a); break;
    default: layer_norm_dispatch_affine<Activation::kNone>(a); break;
  }
}

void gelu_avx512(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  if (a.n == 0) return;
  if (a.tanh_approximation)
    gelu_run<Activation::kGeluTanh>(a.x, a.y, a.n);
  else
    gelu_run<Activation::kGeluErf>(a.x, a.y, a.n);
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluAvx512;
const LayerNormGeluVariant kLayerNormGeluAvx512 = {"f32_layernorm_gelu__avx512", Isa::kAvx512, layer_norm_avx512,
                                                   gelu_avx512};

}  // namespace edgeinfer
