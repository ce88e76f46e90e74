// NEON depthwise-convolution rows (dwconv_f32_common.h over 4-float vectors; the last partial vector of a
// row goes through a small lane buffer, so nothing past the row is read) and the stride-2 deinterleave (ld2).
#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "edgeinfer/kernels.h"
#include "kernels/conv/dwconv_f32_common.h"

namespace edgeinfer {

namespace {

using namespace dwconv_f32_detail;

struct NeonVec {
  using T = float32x4_t;
  static constexpr int kLanes = 4;
  static T set1(float a) { return vdupq_n_f32(a); }
  static T load(const float* p) { return vld1q_f32(p); }
  static T load_partial(const float* p, int n) {
    float lanes[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int l = 0; l < n; ++l) lanes[l] = p[l];
    return vld1q_f32(lanes);
  }
  static T load_u8(const uint8_t* p) {
    uint32_t word;
    std::memcpy(&word, p, sizeof word);
    const uint16x4_t wide = vget_low_u16(vmovl_u8(vcreate_u8(word)));
    return vcvtq_f32_u32(vmovl_u16(wide));
  }
  static T load_partial_u8(const uint8_t* p, int n) {
    uint8_t lanes[4] = {};
    std::memcpy(lanes, p, static_cast<size_t>(n));
    return load_u8(lanes);
  }
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static void store_u8(uint8_t* p, T v) {
    const uint16x4_t h = vmovn_u32(vcvtq_u32_f32(v));  // 0..255
    const uint32_t word = vget_lane_u32(vreinterpret_u32_u8(vmovn_u16(vcombine_u16(h, h))), 0);
    std::memcpy(p, &word, sizeof word);
  }
  static void store_partial_u8(uint8_t* p, T v, int n) {
    uint8_t lanes[4];
    store_u8(lanes, v);
    std::memcpy(p, lanes, static_cast<size_t>(n));
  }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static T sub(T a, T b) { return vsubq_f32(a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T round_even(T v) { return vrndnq_f32(v); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static void store_partial(float* p, T v, int n) {
    float lanes[4];
    vst1q_f32(lanes, v);
    for (int l = 0; l < n; ++l) p[l] = lanes[l];
  }
  // fmax / fmin return NaN when either operand is NaN.
  static T relu(T v) { return vmaxq_f32(vdupq_n_f32(0.0f), v); }
  static T clip(T v, float lo, float hi) { return vminq_f32(vdupq_n_f32(hi), vmaxq_f32(vdupq_n_f32(lo), v)); }
  static T leaky(T v, float slope) { return vbslq_f32(vcltq_f32(v, vdupq_n_f32(0.0f)), vmulq_n_f32(v, slope), v); }
};

void deinterleave2_row(const float* src, int64_t n, float* even, float* odd) {
  int64_t i = 0;
  for (; 2 * i + 8 <= n; i += 4) {
    const float32x4x2_t v = vld2q_f32(src + 2 * i);
    vst1q_f32(even + i, v.val[0]);
    vst1q_f32(odd + i, v.val[1]);
  }
  deinterleave2_row_scalar(src + 2 * i, n - 2 * i, even + i, odd + i);
}

}  // namespace

extern const DwConvF32Variant kDwConvF32Neon = {"f32_dwconv_4__neon", Isa::kNeon, 4, dw_rows<NeonVec>, dw_nhwc_pixels<NeonVec>, copy_rows<NeonVec>,
    deinterleave2_rows<deinterleave2_row>};

}  // namespace edgeinfer
