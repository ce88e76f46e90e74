// NEON grouped-convolution rows (gconv_f32_common.h): 8 channels x 8 outputs per register block.
#include <arm_neon.h>

#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/conv/gconv_f32_common.h"

namespace edgeinfer {

namespace {

// The vector traits of dwconv_f32_neon.cc (internal there).
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
  static T fma(T a, T b, T c) { return vfmaq_f32(c, a, b); }
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

}  // namespace

extern const GConvF32Variant kGConvF32Neon = {"f32_gconv_8x8__neon", Isa::kNeon, 8, gconv_f32_detail::rows<NeonVec, 8>};

}  // namespace edgeinfer
