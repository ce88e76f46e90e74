// LayerNorm (+ fused GELU) and GELU on AVX2 + FMA. Same structure as the AVX-512 file: pass 1 sums the row,
// pass 2 sums squared deviations (row in L1/L2), pass 3 normalizes + gamma/beta + activation, one store.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/common/vector_math_avx2.h"
#include "kernels/layernorm_gelu/layernorm_gelu_common.h"


namespace edgeinfer {
namespace {

alignas(64) const int32_t kMaskTable[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// First n (0..8) lanes set.
inline __m256i tail_mask(int64_t n) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskTable + 8 - n));
}

template <Activation A>
inline __m256 activate(__m256 v) {
  if constexpr (A == Activation::kGeluErf) return vm256::gelu_erf_ps(v);
  else if constexpr (A == Activation::kGeluTanh) return vm256::gelu_tanh_ps(v);
  else return v;
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float row_sum(const float* x, int64_t w) {
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= w; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= w; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
  if (i < w) a1 = _mm256_add_ps(a1, _mm256_maskload_ps(x + i, tail_mask(w - i)));
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

float row_sq_dev(const float* x, int64_t w, float mean) {
  const __m256 m = _mm256_set1_ps(mean);
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= w; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m);
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m);
    const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m);
    a0 = _mm256_fmadd_ps(d0, d0, a0);
    a1 = _mm256_fmadd_ps(d1, d1, a1);
    a2 = _mm256_fmadd_ps(d2, d2, a2);
    a3 = _mm256_fmadd_ps(d3, d3, a3);
  }
  for (; i + 8 <= w; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(x + i), m);
    a0 = _mm256_fmadd_ps(d, d, a0);
  }
  if (i < w) {
    const __m256i k = tail_mask(w - i);
    const __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), _mm256_castsi256_ps(k));
    a1 = _mm256_fmadd_ps(d, d, a1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

template <bool kMasked>
inline __m256 load(const float* p, __m256i k) {
  if constexpr (kMasked) return _mm256_maskload_ps(p, k);
  else return _mm256_loadu_ps(p);
}

template <Activation A, bool kGamma, bool kBeta, bool kMasked>
inline __m256 normalize(__m256 v, __m256 mean, __m256 rstd, const float* gamma, const float* beta, int64_t i,
                        __m256i k) {
  __m256 n = _mm256_mul_ps(_mm256_sub_ps(v, mean), rstd);
  if constexpr (kGamma && kBeta)
    n = _mm256_fmadd_ps(n, load<kMasked>(gamma + i, k), load<kMasked>(beta + i, k));
  else if constexpr (kGamma)
    n = _mm256_mul_ps(n, load<kMasked>(gamma + i, k));
  else if constexpr (kBeta)
    n = _mm256_add_ps(n, load<kMasked>(beta + i, k));
  return activate<A>(n);
}

// The GELU loop, shared by gelu() and the fused LayerNorm + GELU (which runs it in place over an
// L1-resident block of normalized rows): same instructions either way.
template <Activation A>
__attribute__((noinline)) void gelu_run(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 o0 = activate<A>(_mm256_loadu_ps(x + i));
    const __m256 o1 = activate<A>(_mm256_loadu_ps(x + i + 8));
    _mm256_storeu_ps(y + i, o0);
    _mm256_storeu_ps(y + i + 8, o1);
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, activate<A>(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, k, activate<A>(_mm256_maskload_ps(x + i, k)));
  }
}

// y[0, n) = (x[0, n) - mean) * rstd * gamma + beta (gamma / beta already offset to this span).
template <bool kGamma, bool kBeta>
void normalize_span(const float* x, float* y, int64_t n, __m256 vmean, __m256 vrstd, const float* gamma,
                    const float* beta) {
  constexpr Activation kNo = Activation::kNone;
  const __m256i all = _mm256_set1_epi32(-1);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 o0 = normalize<kNo, kGamma, kBeta, false>(_mm256_loadu_ps(x + i), vmean, vrstd, gamma, beta, i, all);
    const __m256 o1 =
        normalize<kNo, kGamma, kBeta, false>(_mm256_loadu_ps(x + i + 8), vmean, vrstd, gamma, beta, i + 8, all);
    _mm256_storeu_ps(y + i, o0);
    _mm256_storeu_ps(y + i + 8, o1);
  }
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i,
                     normalize<kNo, kGamma, kBeta, false>(_mm256_loadu_ps(x + i), vmean, vrstd, gamma, beta, i, all));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    const __m256 o = normalize<kNo, kGamma, kBeta, true>(_mm256_maskload_ps(x + i, k), vmean, vrstd, gamma, beta, i, k);
    _mm256_maskstore_ps(y + i, k, o);
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

// Blocked exactly like the AVX-512 file (see there): per block of <= kBlock floats, statistics and
// normalized values into y, then the standalone GELU loop in place while the block is in L1.
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
      const __m256 vmean = _mm256_set1_ps(mean);
      const __m256 vrstd = _mm256_set1_ps(1.0f / __builtin_sqrtf(var + a.epsilon));
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

void layer_norm_avx2(const LayerNormArgs& a) {
  layernorm_detail::check_args(a);
  if (a.rows == 0 || a.width == 0) return;
  switch (a.activation) {
    case Activation::kGeluErf: layer_norm_dispatch_affine<Activation::kGeluErf>(a); break;
    case Activation::kGeluTanh: layer_norm_dispatch_affine<Activation::kGeluTanh>(a); break;
    default: layer_norm_dispatch_affine<Activation::kNone>(a); break;
  }
}

void gelu_avx2(const GeluArgs& a) {
  layernorm_detail::check_args(a);
  if (a.n == 0) return;
  if (a.tanh_approximation)
    gelu_run<Activation::kGeluTanh>(a.x, a.y, a.n);
  else
    gelu_run<Activation::kGeluErf>(a.x, a.y, a.n);
}

}  // namespace

extern const LayerNormGeluVariant kLayerNormGeluAvx2;
const LayerNormGeluVariant kLayerNormGeluAvx2 = {"f32_layernorm_gelu__avx2", Isa::kAvx2, layer_norm_avx2, gelu_avx2};

}  // namespace edgeinfer
