// AVX2 INT8 depthwise-convolution rows: 16 outputs per step. Two taps at a time: their int16 inputs are
// interleaved (unpacklo / unpackhi) and vpmaddwd multiplies them by the broadcast weight pair and adds the two
// products into int32 lanes (|q - zp| <= 255, |w| <= 128: exact, no saturation). The unpack order (outputs
// 0-3, 8-11 | 4-7, 12-15) is undone once per step by two lane permutes.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

namespace {

constexpr int kLanes = 16;

// Outputs o .. o + count of row y from acc0 (outputs 0-7) and acc1 (8-15).
inline void store(const DwConvS8Rows& a, int64_t at, __m256i acc0, __m256i acc1, int count) {
  if (a.y_i32 != nullptr) {
    int32_t* y = a.y_i32 + at;
    if (count == kLanes) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y), acc0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 8), acc1);
    } else {
      alignas(32) int32_t tmp[kLanes];
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc0);
      _mm256_store_si256(reinterpret_cast<__m256i*>(tmp + 8), acc1);
      std::memcpy(y, tmp, sizeof(int32_t) * static_cast<size_t>(count));
    }
    return;
  }
  const __m256 scale = _mm256_set1_ps(a.scale), bias = _mm256_set1_ps(a.bias);
  __m256 f0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc0), scale, bias);
  __m256 f1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc1), scale, bias);
  if (a.relu) {  // max(0, y): the second operand (y) is kept for NaN, as y < 0 ? 0 : y
    f0 = _mm256_max_ps(_mm256_setzero_ps(), f0);
    f1 = _mm256_max_ps(_mm256_setzero_ps(), f1);
  }
  float* y = a.y_f32 + at;
  if (count == kLanes) {
    _mm256_storeu_ps(y, f0);
    _mm256_storeu_ps(y + 8, f1);
  } else {
    alignas(32) float tmp[kLanes];
    _mm256_store_ps(tmp, f0);
    _mm256_store_ps(tmp + 8, f1);
    std::memcpy(y, tmp, sizeof(float) * static_cast<size_t>(count));
  }
}

template <int kTaps>
void rows_fixed(const DwConvS8Rows& a) {
  const int64_t taps = kTaps > 0 ? kTaps : a.taps;
  const int64_t pairs = (taps + 1) / 2;
  const int64_t* off = a.tap_offsets;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int16_t* x = a.x + r * a.ld_in;
    for (int64_t o = 0; o < a.n; o += kLanes) {
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
#pragma GCC unroll 25
      for (int64_t p = 0; p < pairs; ++p) {
        const int64_t t0 = 2 * p, t1 = 2 * p + 1 < taps ? 2 * p + 1 : 2 * p;  // an odd last tap pairs with weight 0
        const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + off[t0] + o));
        const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + off[t1] + o));
        const __m256i w = _mm256_set1_epi32(a.w_pairs[p]);
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(va, vb), w));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(va, vb), w));
      }
      const int count = a.n - o < kLanes ? static_cast<int>(a.n - o) : kLanes;
      store(a, r * a.ldy + o, _mm256_permute2x128_si256(lo, hi, 0x20), _mm256_permute2x128_si256(lo, hi, 0x31), count);
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

// 16 bytes per step; the tail of a row is scalar (AVX2 has no 16-bit masked store).
void widen_rows(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* dst, int64_t dst_stride,
                int64_t rows, int64_t n) {
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* d = dst + r * dst_stride;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), _mm256_sub_epi16(v, zp));
    }
    for (; i < n; ++i) d[i] = static_cast<int16_t>(s[i] - zero_point);
  }
}

// 32 source bytes per step read as 16-bit lanes: the low byte of each is the even column (and 0x00ff), the high
// byte the odd one (>> 8), both already zero-extended in order; the tail is scalar.
void widen_deinterleave2(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* even, int16_t* odd,
                         int64_t dst_stride, int64_t rows, int64_t n) {
  const __m256i zp = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  const __m256i low = _mm256_set1_epi16(0x00ff);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* e = even + r * dst_stride;
    int16_t* o = odd + r * dst_stride;
    int64_t i = 0;
    for (; 2 * i + 32 <= n; i += 16) {
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 2 * i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(e + i), _mm256_sub_epi16(_mm256_and_si256(b, low), zp));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + i), _mm256_sub_epi16(_mm256_srli_epi16(b, 8), zp));
    }
    for (int64_t j = 2 * i; j < n; ++j) (j % 2 == 0 ? e : o)[j / 2] = static_cast<int16_t>(s[j] - zero_point);
  }
}

}  // namespace

extern const DwConvS8Variant kDwConvS8Avx2 = {"qs8_dwconv_16__avx2", Isa::kAvx2, kLanes, rows, widen_rows,
                                              widen_deinterleave2};

}  // namespace edgeinfer
