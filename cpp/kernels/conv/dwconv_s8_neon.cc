// NEON INT8 depthwise-convolution rows: 16 outputs per step, each tap one widening multiply-accumulate
// (smlal / smlal2 by the scalar weight) per 4 outputs into int32; exact (|q - zp| <= 255, |w| <= 128).
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

namespace {

constexpr int kLanes = 16;

inline void store(const DwConvS8Rows& a, int64_t at, const int32x4_t acc[4], int count) {
  if (a.y_i32 != nullptr) {
    if (count == kLanes) {
      for (int i = 0; i < 4; ++i) vst1q_s32(a.y_i32 + at + 4 * i, acc[i]);
    } else {
      int32_t tmp[kLanes];
      for (int i = 0; i < 4; ++i) vst1q_s32(tmp + 4 * i, acc[i]);
      std::memcpy(a.y_i32 + at, tmp, sizeof(int32_t) * static_cast<size_t>(count));
    }
    return;
  }
  const float32x4_t scale = vdupq_n_f32(a.scale), bias = vdupq_n_f32(a.bias);
  float tmp[kLanes];
  float* y = count == kLanes ? a.y_f32 + at : tmp;
  for (int i = 0; i < 4; ++i) {
    float32x4_t f = vfmaq_f32(bias, vcvtq_f32_s32(acc[i]), scale);  // fused, as std::fma
    // y < 0 ? 0 : y (keeps NaN and -0 like the reference)
    if (a.relu) f = vbslq_f32(vcltq_f32(f, vdupq_n_f32(0.0f)), vdupq_n_f32(0.0f), f);
    vst1q_f32(y + 4 * i, f);
  }
  if (count != kLanes) std::memcpy(a.y_f32 + at, tmp, sizeof(float) * static_cast<size_t>(count));
}

template <int kTaps>
void rows_fixed(const DwConvS8Rows& a) {
  const int64_t taps = kTaps > 0 ? kTaps : a.taps;
  const int64_t* off = a.tap_offsets;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int16_t* x = a.x + r * a.ld_in;
    for (int64_t o = 0; o < a.n; o += kLanes) {
      int32x4_t acc[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
#pragma GCC unroll 25
      for (int64_t t = 0; t < taps; ++t) {
        const int16_t w = a.w[t];
        const int16x8_t v0 = vld1q_s16(x + off[t] + o), v1 = vld1q_s16(x + off[t] + o + 8);
        acc[0] = vmlal_n_s16(acc[0], vget_low_s16(v0), w);
        acc[1] = vmlal_high_n_s16(acc[1], v0, w);
        acc[2] = vmlal_n_s16(acc[2], vget_low_s16(v1), w);
        acc[3] = vmlal_high_n_s16(acc[3], v1, w);
      }
      const int count = a.n - o < kLanes ? static_cast<int>(a.n - o) : kLanes;
      store(a, r * a.ldy + o, acc, count);
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

// 8 bytes per step (uxtl, sub), the tail of a row scalar.
void widen_rows(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* dst, int64_t dst_stride,
                int64_t rows, int64_t n) {
  const int16x8_t zp = vdupq_n_s16(static_cast<int16_t>(zero_point));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* d = dst + r * dst_stride;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vst1q_s16(d + i, vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(vld1_u8(s + i))), zp));
    for (; i < n; ++i) d[i] = static_cast<int16_t>(s[i] - zero_point);
  }
}

// 16 source bytes per step split by ld2, the tail scalar.
void widen_deinterleave2(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* even, int16_t* odd,
                         int64_t dst_stride, int64_t rows, int64_t n) {
  const int16x8_t zp = vdupq_n_s16(static_cast<int16_t>(zero_point));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    int16_t* e = even + r * dst_stride;
    int16_t* o = odd + r * dst_stride;
    int64_t i = 0;
    for (; 2 * i + 16 <= n; i += 8) {
      const uint8x8x2_t b = vld2_u8(s + 2 * i);
      vst1q_s16(e + i, vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(b.val[0])), zp));
      vst1q_s16(o + i, vsubq_s16(vreinterpretq_s16_u16(vmovl_u8(b.val[1])), zp));
    }
    for (int64_t j = 2 * i; j < n; ++j) (j % 2 == 0 ? e : o)[j / 2] = static_cast<int16_t>(s[j] - zero_point);
  }
}

}  // namespace

extern const DwConvS8Variant kDwConvS8Neon = {"qs8_dwconv_16__neon", Isa::kNeon, kLanes, rows, widen_rows,
                                              widen_deinterleave2};

}  // namespace edgeinfer
