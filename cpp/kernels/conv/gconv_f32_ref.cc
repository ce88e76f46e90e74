// The portable grouped-convolution rows: per channel and output, bias first, then the taps in order (a
// multiply and an add each); the definition of correct for the SIMD variants (activations as dwconv_f32_ref).
#include <cstdint>

#include "edgeinfer/kernels.h"
#include "kernels/gemm_f32/gemm_f32_common.h"

namespace edgeinfer {

namespace {

void rows(const GConvF32Rows& a) {
  const FusedActivation act = dwconv_fuses(a.act) ? a.act : FusedActivation::kNone;
  for (int64_t c = 0; c < a.channels; ++c) {
    const float* w = a.w + c * a.taps;
    for (int64_t r = 0; r < a.rows; ++r) {
      const float* x = a.x + r * a.ld_in;
      float* y = a.y + c * a.ldy_c + r * a.ldy;
      for (int64_t o = 0; o < a.n; ++o) {
        float acc = a.bias[c];
        for (int64_t t = 0; t < a.taps; ++t) acc += w[t] * x[a.tap_offsets[t] + o];
        y[o] = gemm_f32_detail::activate_scalar(acc, act, a.act_alpha, a.act_beta);
      }
    }
  }
}

}  // namespace

extern const GConvF32Variant kGConvF32Ref = {"f32_gconv_1x1__ref", Isa::kRef, 1, rows};

}  // namespace edgeinfer
