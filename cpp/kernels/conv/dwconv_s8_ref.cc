// The portable INT8 depthwise-convolution rows (DwConvS8Rows in kernels.h): one int32 sum per output, taps in
// order, wrapping modulo 2^32, then gemm_s8's float epilogue; the definition of correct for the SIMD variants.
#include <cmath>
#include <cstdint>

#include "edgeinfer/kernels.h"

namespace edgeinfer {

namespace {

void rows(const DwConvS8Rows& a) {
  for (int64_t r = 0; r < a.rows; ++r) {
    const int16_t* x = a.x + r * a.ld_in;
    for (int64_t o = 0; o < a.n; ++o) {
      uint32_t acc = 0;  // unsigned: the wrap is defined
      for (int64_t t = 0; t < a.taps; ++t)
        acc += static_cast<uint32_t>(int32_t{a.w[t]} * int32_t{x[a.tap_offsets[t] + o]});
      const auto sum = static_cast<int32_t>(acc);
      if (a.y_i32 != nullptr) {
        a.y_i32[r * a.ldy + o] = sum;
      } else {
        const float y = std::fma(static_cast<float>(sum), a.scale, a.bias);
        a.y_f32[r * a.ldy + o] = a.relu && y < 0.0f ? 0.0f : y;
      }
    }
  }
}

void widen_rows(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* dst, int64_t dst_stride,
                int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) dst[r * dst_stride + i] = static_cast<int16_t>(src[r * src_stride + i] - zero_point);
}

void widen_deinterleave2(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* even, int16_t* odd,
                         int64_t dst_stride, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * src_stride;
    for (int64_t i = 0; 2 * i < n; ++i) even[r * dst_stride + i] = static_cast<int16_t>(s[2 * i] - zero_point);
    for (int64_t i = 0; 2 * i + 1 < n; ++i) odd[r * dst_stride + i] = static_cast<int16_t>(s[2 * i + 1] - zero_point);
  }
}

}  // namespace

extern const DwConvS8Variant kDwConvS8Ref = {"qs8_dwconv_1__ref", Isa::kRef, 1, rows, widen_rows, widen_deinterleave2};

}  // namespace edgeinfer
