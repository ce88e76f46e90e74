// QuantizeLinear / DequantizeLinear on AVX-512 (F/BW/VL/DQ). Bit-exact with quantize_ref.cc: the same
// IEEE division, NaN -> 0, clamp to [lo - zp, hi - zp] in float (so out-of-range values never reach the
// int conversion), round half to even, + zp. Contiguous runs use broadcast parameters; per-channel along the
// last axis (inner == 1) vectorises across channels with per-lane parameters.
// GCC 12 reports its own _mm512_undefined_*() self-initialisation as uninitialised once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/quantize/quantize_common.h"

namespace edgeinfer {
namespace {

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u); }

struct QParams {
  __m512 scale, lo, hi;
  __m512i zp;
};

inline QParams make_params(__m512 scale, __m512i zp, int32_t lo, int32_t hi) {
  return {scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(lo), zp)),
          _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_set1_epi32(hi), zp)), zp};
}

// kReciprocal: p.scale holds 1 / scale and multiplies (quantized_add's levels of fake-quantized values).
template <bool kReciprocal = false>
inline __m512i quantize16(__m512 x, const QParams& p) {
  __m512 t = kReciprocal ? _mm512_mul_ps(x, p.scale) : _mm512_div_ps(x, p.scale);
  const __mmask16 ordered = _mm512_cmp_ps_mask(t, t, _CMP_ORD_Q);
  t = _mm512_maskz_max_ps(ordered, p.lo, t);  // NaN lanes -> 0 (inside [lo, hi] since zp is in range)
  t = _mm512_min_ps(p.hi, t);
  return _mm512_add_epi32(_mm512_cvt_roundps_epi32(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), p.zp);
}

template <bool kSigned>
inline void store_masked(void* y, __mmask16 k, __m512i v) {
  if constexpr (kSigned) _mm512_mask_cvtsepi32_storeu_epi8(y, k, v);
  else _mm512_mask_cvtusepi32_storeu_epi8(y, k, v);
}

// Four vectors of in-range int32 -> 64 bytes in order.
template <bool kSigned>
inline __m512i pack64(__m512i a0, __m512i a1, __m512i a2, __m512i a3) {
  const __m512i p01 = _mm512_packs_epi32(a0, a1);
  const __m512i p23 = _mm512_packs_epi32(a2, a3);
  const __m512i b = kSigned ? _mm512_packs_epi16(p01, p23) : _mm512_packus_epi16(p01, p23);
  return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), b);
}

template <bool kSigned>
void quantize_run(const float* x, uint8_t* y, int64_t n, const QParams& p) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512i a0 = quantize16(_mm512_loadu_ps(x + i), p);
    const __m512i a1 = quantize16(_mm512_loadu_ps(x + i + 16), p);
    const __m512i a2 = quantize16(_mm512_loadu_ps(x + i + 32), p);
    const __m512i a3 = quantize16(_mm512_loadu_ps(x + i + 48), p);
    _mm512_storeu_si512(y + i, pack64<kSigned>(a0, a1, a2, a3));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    store_masked<kSigned>(y + i, k, quantize16(_mm512_maskz_loadu_ps(k, x + i), p));
  }
}

template <bool kSigned>
void quantize_typed(const QuantizeArgs& a) {
  constexpr int32_t lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  const float* x = a.x;
  uint8_t* y = static_cast<uint8_t*>(a.y);
  if (a.inner == 1 && a.channels > 1) {
    const int64_t c_total = a.channels;
    for (int64_t o = 0; o < a.outer; ++o, x += c_total, y += c_total)
      for (int64_t c = 0; c < c_total; c += 16) {
        const __mmask16 k = tail_mask(c_total - c);
        const QParams p = make_params(_mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), k, a.scales + c),
                                      _mm512_maskz_loadu_epi32(k, a.zero_points + c), lo, hi);
        store_masked<kSigned>(y + c, k, quantize16(_mm512_maskz_loadu_ps(k, x + c), p));
      }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, x += a.inner, y += a.inner) {
      const QParams p = make_params(_mm512_set1_ps(a.scales[c]), _mm512_set1_epi32(a.zero_points[c]), lo, hi);
      quantize_run<kSigned>(x, y, a.inner, p);
    }
}

void quantize_avx512(const QuantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.y_signed) quantize_typed<true>(a);
  else quantize_typed<false>(a);
}

template <bool kSigned>
inline __m512 widen16(__m128i bytes) {
  return _mm512_cvtepi32_ps(kSigned ? _mm512_cvtepi8_epi32(bytes) : _mm512_cvtepu8_epi32(bytes));
}

template <bool kSigned>
void dequantize_run(const uint8_t* q, float* x, int64_t n, __m512 scale, __m512 zp) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 v0 = widen16<kSigned>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i)));
    const __m512 v1 = widen16<kSigned>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 16)));
    const __m512 v2 = widen16<kSigned>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 32)));
    const __m512 v3 = widen16<kSigned>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + i + 48)));
    _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_sub_ps(v0, zp), scale));
    _mm512_storeu_ps(x + i + 16, _mm512_mul_ps(_mm512_sub_ps(v1, zp), scale));
    _mm512_storeu_ps(x + i + 32, _mm512_mul_ps(_mm512_sub_ps(v2, zp), scale));
    _mm512_storeu_ps(x + i + 48, _mm512_mul_ps(_mm512_sub_ps(v3, zp), scale));
  }
  for (; i < n; i += 16) {
    const __mmask16 k = tail_mask(n - i);
    const __m512 v = widen16<kSigned>(_mm_maskz_loadu_epi8(k, q + i));
    _mm512_mask_storeu_ps(x + i, k, _mm512_mul_ps(_mm512_sub_ps(v, zp), scale));
  }
}

template <bool kSigned>
void dequantize_typed(const DequantizeArgs& a) {
  const uint8_t* q = static_cast<const uint8_t*>(a.q);
  float* x = a.x;
  if (a.inner == 1 && a.channels > 1) {
    const int64_t c_total = a.channels;
    for (int64_t o = 0; o < a.outer; ++o, q += c_total, x += c_total)
      for (int64_t c = 0; c < c_total; c += 16) {
        const __mmask16 k = tail_mask(c_total - c);
        const __m512 scale = _mm512_maskz_loadu_ps(k, a.scales + c);
        const __m512 zp = _mm512_cvtepi32_ps(_mm512_maskz_loadu_epi32(k, a.zero_points + c));
        const __m512 v = widen16<kSigned>(_mm_maskz_loadu_epi8(k, q + c));
        _mm512_mask_storeu_ps(x + c, k, _mm512_mul_ps(_mm512_sub_ps(v, zp), scale));
      }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, q += a.inner, x += a.inner)
      dequantize_run<kSigned>(q, x, a.inner, _mm512_set1_ps(a.scales[c]),
                              _mm512_set1_ps(static_cast<float>(a.zero_points[c])));
}

void dequantize_avx512(const DequantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.q_signed) dequantize_typed<true>(a);
  else dequantize_typed<false>(a);
}

// requantize_one over 16 channels (masked): the int32 add, one conversion, one multiply, the clamp, round half
// to even; the level and the dequantized value stored where asked.
void requantize_avx512(const RequantizeArgs& a) {
  quantize_detail::check_args(a);
  const __m512 lo = _mm512_set1_ps(static_cast<float>(-a.zero_point));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(255 - a.zero_point));
  const __m512i zp = _mm512_set1_epi32(a.zero_point);
  const __m512 y_scale = _mm512_set1_ps(a.y_scale);
  const int64_t channels = a.channels;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int64_t row = r * channels;
    for (int64_t c = 0; c < channels; c += 16) {
      const __mmask16 k = tail_mask(channels - c);
      __m512 v;
      if (a.acc_f32 != nullptr) {
        v = _mm512_maskz_loadu_ps(k, a.acc_f32 + row + c);
      } else {
        __m512i acc = _mm512_maskz_loadu_epi32(k, a.acc_i32 + row + c);
        if (a.bias != nullptr) acc = _mm512_add_epi32(acc, _mm512_maskz_loadu_epi32(k, a.bias + c));
        v = _mm512_cvtepi32_ps(acc);
      }
      v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(k, a.multipliers + c));
      v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      const __m512i rounded = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      if (a.levels != nullptr) _mm512_mask_cvtusepi32_storeu_epi8(a.levels + row + c, k, _mm512_add_epi32(rounded, zp));
      if (a.y != nullptr) _mm512_mask_storeu_ps(a.y + row + c, k, _mm512_mul_ps(_mm512_cvtepi32_ps(rounded), y_scale));
    }
  }
}

// quantized_add_one over 16 elements (masked): the inputs' levels (quantize16 by the reciprocal), two fused
// multiply-adds, the clamp and round half to even.
void quantized_add_avx512(const QuantizedAddArgs& p) {
  quantize_detail::check_args(p);
  const QParams qa = make_params(_mm512_set1_ps(p.a_inverse), _mm512_set1_epi32(p.a_zero_point), 0, 255);
  const QParams qb = make_params(_mm512_set1_ps(p.b_inverse), _mm512_set1_epi32(p.b_zero_point), 0, 255);
  const __m512 ra = _mm512_set1_ps(p.ra), rb = _mm512_set1_ps(p.rb), fixed = _mm512_set1_ps(p.fixed);
  const __m512 top = _mm512_set1_ps(255.0f), c_scale = _mm512_set1_ps(p.c_scale);
  const __m512i c_zp = _mm512_set1_epi32(p.c_zero_point);
  for (int64_t i = 0; i < p.n; i += 16) {
    const __mmask16 k = tail_mask(p.n - i);
    const __m512 la = _mm512_cvtepi32_ps(quantize16<true>(_mm512_maskz_loadu_ps(k, p.a + i), qa));
    const __m512 lb = _mm512_cvtepi32_ps(quantize16<true>(_mm512_maskz_loadu_ps(k, p.b + i), qb));
    __m512 v = _mm512_fmadd_ps(la, ra, _mm512_fmadd_ps(lb, rb, fixed));
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), top);
    const __m512i level = _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    if (p.levels != nullptr) _mm512_mask_cvtusepi32_storeu_epi8(p.levels + i, k, level);
    if (p.y != nullptr) _mm512_mask_storeu_ps(p.y + i, k, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(level, c_zp)), c_scale));
  }
}

}  // namespace

extern const QuantizeVariant kQuantizeAvx512;
const QuantizeVariant kQuantizeAvx512 = {"qs8_quantize__avx512", Isa::kAvx512, quantize_avx512, dequantize_avx512,
                                         requantize_avx512, quantized_add_avx512};

}  // namespace edgeinfer
