// QuantizeLinear / DequantizeLinear on AArch64 NEON (armv8.0-a baseline). Bit-exact with quantize_ref.cc:
// the same IEEE division (vdivq_f32 is correctly rounded), NaN -> 0, clamp in float to [lo - zp, hi - zp]
// before the int conversion (so +-inf and values beyond int32 saturate), round half to even (FCVTNS,
// independent of FPCR), + zp; dequantize is (float(q) - float(zp)) * scale, two separately rounded ops.
// Remainders shorter than 8 use the shared scalar definition.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/quantize/quantize_common.h"

namespace edgeinfer {
namespace {

using quantize_detail::dequantize_one;
using quantize_detail::quantize_one;

struct QParams {
  float32x4_t scale, lo, hi;
  int32x4_t zp;
};

inline QParams make_params(float32x4_t scale, int32x4_t zp, int32_t lo, int32_t hi) {
  return {scale, vcvtq_f32_s32(vsubq_s32(vdupq_n_s32(lo), zp)), vcvtq_f32_s32(vsubq_s32(vdupq_n_s32(hi), zp)), zp};
}

// kReciprocal: p.scale holds 1 / scale and multiplies (quantized_add's levels of fake-quantized values).
template <bool kReciprocal = false>
inline int32x4_t quantize4(float32x4_t x, const QParams& p) {
  float32x4_t t = kReciprocal ? vmulq_f32(x, p.scale) : vdivq_f32(x, p.scale);
  // NaN -> +0: the ordered mask (t == t) is all ones except for NaN lanes.
  t = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(t), vceqq_f32(t, t)));
  t = vminq_f32(vmaxq_f32(t, p.lo), p.hi);
  return vaddq_s32(vcvtnq_s32_f32(t), p.zp);  // round to nearest, ties to even
}

// In-range int32 lanes -> bytes (the saturating narrows are exact here).
template <bool kSigned>
inline uint8x8_t narrow8(int32x4_t a0, int32x4_t a1) {
  const int16x8_t h = vcombine_s16(vqmovn_s32(a0), vqmovn_s32(a1));
  if constexpr (kSigned) return vreinterpret_u8_s8(vqmovn_s16(h));
  else return vqmovun_s16(h);
}

template <bool kSigned>
void quantize_run(const float* x, uint8_t* y, int64_t n, const QParams& p, float scale, int32_t zp) {
  constexpr int32_t lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const int32x4_t a0 = quantize4(vld1q_f32(x + i), p);
    const int32x4_t a1 = quantize4(vld1q_f32(x + i + 4), p);
    const int32x4_t a2 = quantize4(vld1q_f32(x + i + 8), p);
    const int32x4_t a3 = quantize4(vld1q_f32(x + i + 12), p);
    vst1q_u8(y + i, vcombine_u8(narrow8<kSigned>(a0, a1), narrow8<kSigned>(a2, a3)));
  }
  for (; i + 8 <= n; i += 8) {
    const int32x4_t a0 = quantize4(vld1q_f32(x + i), p);
    const int32x4_t a1 = quantize4(vld1q_f32(x + i + 4), p);
    vst1_u8(y + i, narrow8<kSigned>(a0, a1));
  }
  for (; i < n; ++i) y[i] = static_cast<uint8_t>(quantize_one(x[i], scale, zp, lo, hi));
}

template <bool kSigned>
void quantize_typed(const QuantizeArgs& a) {
  constexpr int32_t lo = kSigned ? -128 : 0, hi = kSigned ? 127 : 255;
  const float* x = a.x;
  uint8_t* y = static_cast<uint8_t*>(a.y);
  if (a.inner == 1 && a.channels > 1) {  // per channel along the last axis: parameters vary per lane
    const int64_t c_total = a.channels;
    for (int64_t o = 0; o < a.outer; ++o, x += c_total, y += c_total) {
      int64_t c = 0;
      for (; c + 8 <= c_total; c += 8) {
        const QParams p0 = make_params(vld1q_f32(a.scales + c), vld1q_s32(a.zero_points + c), lo, hi);
        const QParams p1 = make_params(vld1q_f32(a.scales + c + 4), vld1q_s32(a.zero_points + c + 4), lo, hi);
        vst1_u8(y + c, narrow8<kSigned>(quantize4(vld1q_f32(x + c), p0), quantize4(vld1q_f32(x + c + 4), p1)));
      }
      for (; c < c_total; ++c) y[c] = static_cast<uint8_t>(quantize_one(x[c], a.scales[c], a.zero_points[c], lo, hi));
    }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, x += a.inner, y += a.inner) {
      const QParams p = make_params(vdupq_n_f32(a.scales[c]), vdupq_n_s32(a.zero_points[c]), lo, hi);
      quantize_run<kSigned>(x, y, a.inner, p, a.scales[c], a.zero_points[c]);
    }
}

void quantize_neon(const QuantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.y_signed) quantize_typed<true>(a);
  else quantize_typed<false>(a);
}

// 8 bytes -> two float vectors (exact: |q| <= 255).
template <bool kSigned>
inline void widen8(const uint8_t* q, float32x4_t& lo, float32x4_t& hi) {
  const uint8x8_t b = vld1_u8(q);
  const int16x8_t h = kSigned ? vmovl_s8(vreinterpret_s8_u8(b)) : vreinterpretq_s16_u16(vmovl_u8(b));
  lo = vcvtq_f32_s32(vmovl_s16(vget_low_s16(h)));
  hi = vcvtq_f32_s32(vmovl_s16(vget_high_s16(h)));
}

template <bool kSigned>
inline int32_t scalar_q(const uint8_t* q) {
  return kSigned ? static_cast<int32_t>(static_cast<int8_t>(*q)) : static_cast<int32_t>(*q);
}

inline float32x4_t deq4(float32x4_t v, float32x4_t zp, float32x4_t scale) {
  return vmulq_f32(vsubq_f32(v, zp), scale);  // a multiply after a subtract: nothing to fuse
}

template <bool kSigned>
void dequantize_run(const uint8_t* q, float* x, int64_t n, float scale, int32_t zp) {
  const float32x4_t vs = vdupq_n_f32(scale), vz = vdupq_n_f32(static_cast<float>(zp));
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    float32x4_t v0, v1, v2, v3;
    widen8<kSigned>(q + i, v0, v1);
    widen8<kSigned>(q + i + 8, v2, v3);
    vst1q_f32(x + i, deq4(v0, vz, vs));
    vst1q_f32(x + i + 4, deq4(v1, vz, vs));
    vst1q_f32(x + i + 8, deq4(v2, vz, vs));
    vst1q_f32(x + i + 12, deq4(v3, vz, vs));
  }
  for (; i + 8 <= n; i += 8) {
    float32x4_t v0, v1;
    widen8<kSigned>(q + i, v0, v1);
    vst1q_f32(x + i, deq4(v0, vz, vs));
    vst1q_f32(x + i + 4, deq4(v1, vz, vs));
  }
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
        float32x4_t v0, v1;
        widen8<kSigned>(q + c, v0, v1);
        const float32x4_t z0 = vcvtq_f32_s32(vld1q_s32(a.zero_points + c));
        const float32x4_t z1 = vcvtq_f32_s32(vld1q_s32(a.zero_points + c + 4));
        vst1q_f32(x + c, deq4(v0, z0, vld1q_f32(a.scales + c)));
        vst1q_f32(x + c + 4, deq4(v1, z1, vld1q_f32(a.scales + c + 4)));
      }
      for (; c < c_total; ++c) x[c] = dequantize_one(scalar_q<kSigned>(q + c), a.scales[c], a.zero_points[c]);
    }
    return;
  }
  for (int64_t o = 0; o < a.outer; ++o)
    for (int64_t c = 0; c < a.channels; ++c, q += a.inner, x += a.inner)
      dequantize_run<kSigned>(q, x, a.inner, a.scales[c], a.zero_points[c]);
}

void dequantize_neon(const DequantizeArgs& a) {
  quantize_detail::check_args(a);
  if (a.outer == 0 || a.inner == 0) return;
  if (a.q_signed) dequantize_typed<true>(a);
  else dequantize_typed<false>(a);
}

// requantize_one over 4 channels (FCVTNS: nearest, ties to even); the remainder of a row through the shared
// scalar definition.
void requantize_neon(const RequantizeArgs& a) {
  quantize_detail::check_args(a);
  const float32x4_t lo = vdupq_n_f32(static_cast<float>(-a.zero_point));
  const float32x4_t hi = vdupq_n_f32(static_cast<float>(255 - a.zero_point));
  const int32x4_t zp = vdupq_n_s32(a.zero_point);
  const int64_t channels = a.channels;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int64_t row = r * channels;
    int64_t c = 0;
    for (; c + 4 <= channels; c += 4) {
      float32x4_t v;
      if (a.acc_f32 != nullptr) {
        v = vld1q_f32(a.acc_f32 + row + c);
      } else {
        int32x4_t acc = vld1q_s32(a.acc_i32 + row + c);
        if (a.bias != nullptr) acc = vaddq_s32(acc, vld1q_s32(a.bias + c));
        v = vcvtq_f32_s32(acc);
      }
      v = vmulq_f32(v, vld1q_f32(a.multipliers + c));
      v = vminq_f32(vmaxq_f32(v, lo), hi);
      const int32x4_t rounded = vcvtnq_s32_f32(v);
      if (a.levels != nullptr) {
        const int32x4_t level = vaddq_s32(rounded, zp);  // 0..255 after the clamp
        const uint16x4_t narrow = vqmovun_s32(level);
        const uint8x8_t bytes = vqmovn_u16(vcombine_u16(narrow, narrow));
        const uint32_t word = vget_lane_u32(vreinterpret_u32_u8(bytes), 0);
        std::memcpy(a.levels + row + c, &word, sizeof word);
      }
      if (a.y != nullptr) vst1q_f32(a.y + row + c, vmulq_n_f32(vcvtq_f32_s32(rounded), a.y_scale));
    }
    quantize_detail::requantize_run(a, row + c, row + channels, c);
  }
}

// quantized_add_one over 4 elements (FMLA is fused, FCVTNS rounds half to even); the remainder through the
// shared scalar definition.
void quantized_add_neon(const QuantizedAddArgs& p) {
  quantize_detail::check_args(p);
  const QParams qa = make_params(vdupq_n_f32(p.a_inverse), vdupq_n_s32(p.a_zero_point), 0, 255);
  const QParams qb = make_params(vdupq_n_f32(p.b_inverse), vdupq_n_s32(p.b_zero_point), 0, 255);
  const float32x4_t ra = vdupq_n_f32(p.ra), rb = vdupq_n_f32(p.rb), fixed = vdupq_n_f32(p.fixed);
  const float32x4_t zero = vdupq_n_f32(0.0f), top = vdupq_n_f32(255.0f);
  const int32x4_t c_zp = vdupq_n_s32(p.c_zero_point);
  int64_t i = 0;
  for (; i + 4 <= p.n; i += 4) {
    const float32x4_t la = vcvtq_f32_s32(quantize4<true>(vld1q_f32(p.a + i), qa));
    const float32x4_t lb = vcvtq_f32_s32(quantize4<true>(vld1q_f32(p.b + i), qb));
    float32x4_t v = vfmaq_f32(vfmaq_f32(fixed, lb, rb), la, ra);
    v = vminq_f32(vmaxq_f32(v, zero), top);
    const int32x4_t level = vcvtnq_s32_f32(v);
    if (p.levels != nullptr) {
      const uint16x4_t narrow = vqmovun_s32(level);
      const uint32_t word = vget_lane_u32(vreinterpret_u32_u8(vqmovn_u16(vcombine_u16(narrow, narrow))), 0);
      std::memcpy(p.levels + i, &word, sizeof word);
    }
    if (p.y != nullptr) vst1q_f32(p.y + i, vmulq_n_f32(vcvtq_f32_s32(vsubq_s32(level, c_zp)), p.c_scale));
  }
  quantize_detail::quantized_add_run(p, i, p.n);
}

}  // namespace

extern const QuantizeVariant kQuantizeNeon;
const QuantizeVariant kQuantizeNeon = {"qs8_quantize__neon", Isa::kNeon, quantize_neon, dequantize_neon, requantize_neon,
                                       quantized_add_neon};

}  // namespace edgeinfer
