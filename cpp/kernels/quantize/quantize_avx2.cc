// QuantizeLinear / DequantizeLinear on AVX2. Bit-exact with quantize_ref.cc (same IEEE division, NaN -> 0,
// clamp in float before the int conversion, round half to even, + zp). Remainders shorter than a vector
// use the shared scalar definition.
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/quantize/quantize_common.h"

namespace edgeinfer {
namespace {

using quantize_detail::dequantize_one;
using quantize_detail::quantize_one;

struct QParams {
  __m256 scale, lo, hi;
  __m256i zp;
};

inline QParams make_params(__m256 scale, __m256i zp, int32_t lo, int32_t hi) {
  return {scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(lo), zp)),
          _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(hi), zp)), zp};
}

// kReciprocal: p.scale holds 1 / scale and multiplies (quantized_add's levels of fake-quantized values).
template <bool kReciprocal = false>
inline __m256i quantize8(__m256 x, const QParams& p) {
  __m256 t = kReciprocal ? _mm256_mul_ps(x, p.scale) : _mm256_div_ps(x, p.scale);
  const __m256 ordered = _mm256_cmp_ps(t, t, _CMP_ORD_Q);
  t = _mm256_and_ps(_mm256_max_ps(p.lo, t), ordered);  // max keeps NaN (second operand); the and zeroes it
  t = _mm256_min_ps(p.hi, t);
  // cvtps rounds with MXCSR (default: nearest, ties to even), as nearbyint in the reference.
  return _mm256_add_epi32(_mm256_cvtps_epi32(t), p.zp);
}

// Four vectors of in-range int32 -> 32 bytes in order.
template <bool kSigned>
inline __m256i pack32(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  const __m256i p01 = _mm256_packs_epi32(a0, a1);
  const __m256i p23 = _mm256_packs_epi32(a2, a3);
  const __m256i b = kSigned ? _mm256_packs_epi16(p01, p23) : _mm256_packus_epi16(p01, p23);
  return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One vector of in-range int32 -> 8 bytes.
template <bool kSigned>
inline void store8(uint8_t* y, __m256i a) {
  const __m256i p = _mm256_packs_epi32(a, a);
  const __m256i b = kSigned ? _mm256_packs_epi16(p, p) : _mm256_packus_epi16(p, p);
  const __m128i v = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), v);
}

template <bool kSigned>
void quantize_run(const float* x, uint8_t* y, int64_t n, const QParams& p, float scale, int32_t zp) {
  constexpr int32_t lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a0 = quantize8(_mm256_loadu_ps(x + i), p);
    const __m256i a1 = quantize8(_mm256_loadu_ps(x + i + 8), p);
    const __m256i a2 = quantize8(_mm256_loadu_ps(x + i + 16), p);
    const __m256i a3 = quantize8(_mm256_loadu_ps(x + i + 24), p);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), pack32<kSigned>(a0, a1, a2, a3));
  }
  for (; i + 8 <= n; i += 8) store8<kSigned>(y + i, quantize8(_mm256_loadu_ps(x + i), p));
  for (; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_one(x[i], scale, zp, lo, hi));
}

template <bool kSigned>
void quantize_typed(const QuantizeArgs& a) {
  constexpr int32_t lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  const float* x = a.x;
  uint8_t* y = static_cast<uint8_t*>(a.y);
  if (a.inner == 1 && a.channels > 1) {
    const int64_t c_total = a.channels;
    for (int64_t o = 0; o < a.outer; ++o, x += c_total, y += c_total) {
      int64_t c = 0;
      for (; c + 8 <= c_total; c += 8) {
        const QParams p = make_params(_mm256_loadu_ps(a.scales + c),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.zero_points + c)), lo, hi);
        store8<kSigned>(y + c, quantize8(_mm256_loadu_ps(x + c), p));
      }
      for (; c < c_total; ++c) y[c] = static_cast<uint8_t>(quantize_one(x[c], a.scales[c], a.zero_points[c], lo, hi));
    }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, x += a.inner, y += a.inner) {
      const QParams p = make_params(_mm256_set1_ps(a.scales[c]), _mm256_set1_epi32(a.zero_points[c]), lo, hi);
      quantize_run<kSigned>(x, y, a.inner, p, a.scales[c], a.zero_points[c]);
    }
}

void quantize_avx2(const QuantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.y_signed) quantize_typed<true>(a);
  else quantize_typed<false>(a);
}

template <bool kSigned>
inline __m256 widen8(const uint8_t* q) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(q));
  return _mm256_cvtepi32_ps(kSigned ? _mm256_cvtepi8_epi32(bytes) : _mm256_cvtepu8_epi32(bytes));
}

template <bool kSigned>
inline int32_t scalar_q(const uint8_t* q) {
  return kSigned ? static_cast<int32_t>(static_cast<int8_t>(*q)) : static_cast<int32_t>(*q);
}

template <bool kSigned>
void dequantize_run(const uint8_t* q, float* x, int64_t n, float scale, int32_t zp) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(static_cast<float>(zp));
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = widen8<kSigned>(q + i), v1 = widen8<kSigned>(q + i + 8);
    const __m256 v2 = widen8<kSigned>(q + i + 16), v3 = widen8<kSigned>(q + i + 24);
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_sub_ps(v0, vz), vs));
    _mm256_storeu_ps(x + i + 8, _mm256_mul_ps(_mm256_sub_ps(v1, vz), vs));
    _mm256_storeu_ps(x + i + 16, _mm256_mul_ps(_mm256_sub_ps(v2, vz), vs));
    _mm256_storeu_ps(x + i + 24, _mm256_mul_ps(_mm256_sub_ps(v3, vz), vs));
  }
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_sub_ps(widen8<kSigned>(q + i), vz), vs));
  for (; i < n; ++i) x[i] = dequantize_one(scalar_q<kSigned>(q + i), scale, zp);
}

template <bool kSigned>
void dequantize_typed(const DequantizeArgs& a) {
  const uint8_t* q = static_cast<const uint8_t*>(a.q);
  float* x = a.x;
  if (a.inner == 1 && a.channels > 1) {
    const int64_t c_total = a.channels;
    for (int64_t o = 0; o < a.outer; ++o, q += c_total, x += c_total) {
      int64_t c = 0;
      for (; c + 8 <= c_total; c += 8) {
        const __m256 vs = _mm256_loadu_ps(a.scales + c);
        const __m256 vz =
            _mm256_cvtepi32_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.zero_points + c)));
        _mm256_storeu_ps(x + c, _mm256_mul_ps(_mm256_sub_ps(widen8<kSigned>(q + c), vz), vs));
      }
      for (; c < c_total; ++c) x[c] = dequantize_one(scalar_q<kSigned>(q + c), a.scales[c], a.zero_points[c]);
    }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, q += a.inner, x += a.inner)
      dequantize_run<kSigned>(q, x, a.inner, a.scales[c], a.zero_points[c]);
}

void dequantize_avx2(const DequantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.q_signed) dequantize_typed<true>(a);
  else dequantize_typed<false>(a);
}

// requantize_one over 8 channels; the remainder of a row through the shared scalar definition.
void requantize_avx2(const RequantizeArgs& a) {
  quantize_detail::check_args(a);
  const __m256 lo = _mm256_set1_ps(static_cast<float>(-a.zero_point));
  const __m256 hi = _mm256_set1_ps(static_cast<float>(255 - a.zero_point));
  const __m256i zp = _mm256_set1_epi32(a.zero_point);
  const __m256 y_scale = _mm256_set1_ps(a.y_scale);
  const int64_t channels = a.channels;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int64_t row = r * channels;
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
      __m256 v;
      if (a.acc_f32 != nullptr) {
        v = _mm256_loadu_ps(a.acc_f32 + row + c);
      } else {
        __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.acc_i32 + row + c));
        if (a.bias != nullptr) acc = _mm256_add_epi32(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + c)));
        v = _mm256_cvtepi32_ps(acc);
      }
      v = _mm256_mul_ps(v, _mm256_loadu_ps(a.multipliers + c));
      v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      const __m256i rounded = _mm256_cvtps_epi32(v);  // MXCSR default: nearest, ties to even
      if (a.levels != nullptr) store8<false>(a.levels + row + c, _mm256_add_epi32(rounded, zp));
      if (a.y != nullptr) _mm256_storeu_ps(a.y + row + c, _mm256_mul_ps(_mm256_cvtepi32_ps(rounded), y_scale));
    }
    quantize_detail::requantize_run(a, row + c, row + channels, c);
  }
}

// quantized_add_one over 8 elements; the remainder through the shared scalar definition.
void quantized_add_avx2(const QuantizedAddArgs& p) {
  quantize_detail::check_args(p);
  const QParams qa = make_params(_mm256_set1_ps(p.a_inverse), _mm256_set1_epi32(p.a_zero_point), 0, 255);
  const QParams qb = make_params(_mm256_set1_ps(p.b_inverse), _mm256_set1_epi32(p.b_zero_point), 0, 255);
  const __m256 ra = _mm256_set1_ps(p.ra), rb = _mm256_set1_ps(p.rb), fixed = _mm256_set1_ps(p.fixed);
  const __m256 top = _mm256_set1_ps(255.0f), c_scale = _mm256_set1_ps(p.c_scale);
  const __m256i c_zp = _mm256_set1_epi32(p.c_zero_point);
  int64_t i = 0;
  for (; i + 8 <= p.n; i += 8) {
    const __m256 la = _mm256_cvtepi32_ps(quantize8<true>(_mm256_loadu_ps(p.a + i), qa));
    const __m256 lb = _mm256_cvtepi32_ps(quantize8<true>(_mm256_loadu_ps(p.b + i), qb));
    __m256 v = _mm256_fmadd_ps(la, ra, _mm256_fmadd_ps(lb, rb, fixed));
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_setzero_ps()), top);
    const __m256i level = _mm256_cvtps_epi32(v);
    if (p.levels != nullptr) store8<false>(p.levels + i, level);
    if (p.y != nullptr) _mm256_storeu_ps(p.y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(level, c_zp)), c_scale));
  }
  quantize_detail::quantized_add_run(p, i, p.n);
}

}  // namespace

extern const QuantizeVariant kQuantizeAvx2;
const QuantizeVariant kQuantizeAvx2 = {"qs8_quantize__avx2", Isa::kAvx2, quantize_avx2, dequantize_avx2, requantize_avx2,
                                       quantized_add_avx2};

}  // namespace edgeinfer
