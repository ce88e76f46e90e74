// The portable depthwise-convolution rows: one float per output, bias first, then the taps in order (a
// multiply and an add each); the definition of correct for the SIMD variants. NaN propagates through Relu /
// Clip (the GEMM epilogues' activate_scalar).
#include <cmath>
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/conv/dwconv_f32_common.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

void rows(const DwConvF32Rows& a) {
  const FusedActivation act = dwconv_fuses(a.act) ? a.act : FusedActivation::kNone;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* x = a.x + r * a.ld_in;
    float* y = a.y + r * a.ldy;
    for (int64_t o = 0; o < a.n; ++o) {
      float acc = a.bias;
      for (int64_t t = 0; t < a.taps; ++t) acc += a.w[t] * x[a.tap_offsets[t] + o];
      y[o] = gemm_f32_detail::activate_scalar(acc, act, a.act_alpha, a.act_beta);
    }
  }
}

void nhwc_pixels(const DwConvNhwcF32Pixels& a) {
  const FusedActivation act = dwconv_fuses(a.act) ? a.act : FusedActivation::kNone;
  const float lo = static_cast<float>(-a.requant_zero_point), hi = static_cast<float>(255 - a.requant_zero_point);
  for (int64_t p = 0; p < a.count; ++p)
    for (int64_t c = 0; c < a.channels; ++c) {
      float acc = a.bias[c];
      for (int64_t t = 0; t < a.taps; ++t) {
        const int64_t i = a.tap_offsets[t] + p * a.x_step + c;
        const float x = a.x_levels != nullptr ? static_cast<float>(a.x_levels[i]) - static_cast<float>(a.x_zero_point) : a.x[i];
        acc += a.w[a.tap_rows[t] * (a.w_stride != 0 ? a.w_stride : a.channels) + c] * x;
      }
      if (a.requant_multipliers != nullptr) {
        float v = acc * a.requant_multipliers[c];
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        const float r = std::nearbyint(v) + 0.0f;  // a -0 level is +0 once dequantized
        if (a.y_levels != nullptr) a.y_levels[p * a.ldy + c] = static_cast<uint8_t>(static_cast<int32_t>(r) + a.requant_zero_point);
        else a.y[p * a.ldy + c] = r * a.requant_scale;
      } else {
        a.y[p * a.ldy + c] = gemm_f32_detail::activate_scalar(acc, act, a.act_alpha, a.act_beta);
      }
    }
}

void copy_rows(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) dst[r * dst_stride + i] = src[r * src_stride + i];
}

}  // namespace

extern const DwConvF32Variant kDwConvF32Ref = {"f32_dwconv_1__ref", Isa::kRef, 1, rows, nhwc_pixels, copy_rows,
                                               dwconv_f32_detail::deinterleave2_rows<dwconv_f32_detail::deinterleave2_row_scalar>};

}  // namespace edgeinfer
