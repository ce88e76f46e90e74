// AVX-512 (BW) INT8 depthwise-convolution rows: dwconv_s8_avx2.cc's scheme on 32 outputs per step (tap pairs
// interleaved, vpmaddwd into int32); one two-source permute per 16 outputs restores their order.
// GCC 12 reports a bogus -Wmaybe-uninitialized inside the AVX-512 intrinsic headers (_mm512_undefined_ps).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

namespace {

constexpr int kLanes = 32;

inline __mmask16 mask16(int count) { return static_cast<__mmask16>(count >= 16 ? 0xffff : (1u << count) - 1u); }

inline void store16(const DwConvS8Rows& a, int64_t at, __m512i acc, int count) {
  if (count <= 0) return;
  const __mmask16 m = mask16(count);
  if (a.y_i32 != nullptr) {
    _mm512_mask_storeu_epi32(a.y_i32 + at, m, acc);
    return;
  }
  __m512 f = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(a.scale), _mm512_set1_ps(a.bias));
  if (a.relu) f = _mm512_max_ps(_mm512_setzero_ps(), f);  // NaN in y stays, as y < 0 ? 0 : y
  _mm512_mask_storeu_ps(a.y_f32 + at, m, f);
}

template <int kTaps>
void rows_fixed(const DwConvS8Rows& a) {
  const int64_t taps = kTaps > 0 ? kTaps : a.taps;
  const int64_t pairs = (taps + 1) / 2;
  const int64_t* off = a.tap_offsets;
  // lo holds outputs 0-3 8-11 16-19 24-27, hi 4-7 12-15 20-23 28-31 (unpack works per 128-bit lane).
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int64_t r = 0; r < a.rows; ++r) {
    const int16_t* x = a.x + r * a.ld_in;
    for (int64_t o = 0; o < a.n; o += kLanes) {
      __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
#pragma GCC unroll 25
      for (int64_t p = 0; p < pairs; ++p) {
        const int64_t t0 = 2 * p, t1 = 2 * p + 1 < taps ? 2 * p + 1 : 2 * p;  // an odd last tap pairs with weight 0
        const __m512i va = _mm512_loadu_si512(x + off[t0] + o);
        const __m512i vb = _mm512_loadu_si512(x + off[t1] + o);
        const __m512i w = _mm512_set1_epi32(a.w_pairs[p]);
        lo = _mm512_add_epi32(lo, _mm512_madd_epi16(_mm512_unpacklo_epi16(va, vb), w));
        hi = _mm512_add_epi32(hi, _mm512_madd_epi16(_mm512_unpackhi_epi16(va, vb), w));
      }
      const int count = a.n - o < kLanes ? static_cast<int>(a.n - o) : kLanes;
      store16(a, r * a.ldy + o, _mm512_permutex2var_epi32(lo, first, hi), count);
      store16(a, r * a.ldy + o + 16, _mm512_permutex2var_epi32(lo, second, hi), count - 16);
    }
  }
}

void rows(const DwConvS8Rows& a) {
  switch (a.taps) {
    case 3: return rows_fixed<3>(a);
    case 9: return rows_fixed<9>(a);
    case 25: return rows_fixed<25>(a);
    default: return rows_fixed<0>(a);
  }
}

// 16 bytes per step, the tail with byte / word masks (narrow speech rows are one masked step).
void widen_rows(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* dst, int64_t dst_stride,
                int64_t rows, int64_t n) {
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* d = dst + r * dst_stride;
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = mask16(static_cast<int>(n - i));
      const __m256i v = _mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(m, s + i));
      _mm256_mask_storeu_epi16(d + i, m, _mm256_sub_epi16(v, zp));
    }
  }
}

// 64 source bytes per step read as 16-bit lanes (low byte: even column, high byte: odd), masked at the tail.
void widen_deinterleave2(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* even, int16_t* odd,
                         int64_t dst_stride, int64_t rows, int64_t n) {
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(zero_point));
  const __m512i low = _mm512_set1_epi16(0x00ff);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* e = even + r * dst_stride;
    int16_t* o = odd + r * dst_stride;
    for (int64_t j = 0; j < n; j += 64) {  // j: source index, j / 2 the destination one
      const int64_t m = n - j < 64 ? n - j : 64;
      const __mmask64 bytes = m == 64 ? ~__mmask64{0} : (__mmask64{1} << m) - 1;
      const __mmask32 evens = static_cast<__mmask32>((uint64_t{1} << ((m + 1) / 2)) - 1);
      const __mmask32 odds = static_cast<__mmask32>((uint64_t{1} << (m / 2)) - 1);
      const __m512i b = _mm512_maskz_loadu_epi8(bytes, s + j);
      _mm512_mask_storeu_epi16(e + j / 2, evens, _mm512_sub_epi16(_mm512_and_si512(b, low), zp));
      _mm512_mask_storeu_epi16(o + j / 2, odds, _mm512_sub_epi16(_mm512_srli_epi16(b, 8), zp));
    }
  }
}

}  // namespace

extern const DwConvS8Variant kDwConvS8Avx512 = {"qs8_dwconv_32__avx512", Isa::kAvx512, kLanes, rows, widen_rows,
                                                widen_deinterleave2};

}  // namespace edgeinfer
