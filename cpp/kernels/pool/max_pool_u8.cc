// MaxPool over uint8 levels, channels last: an INT8 conv's quantized output pooled before anything dequantizes
// it (max commutes with the monotone dequantization, so this equals pooling the floats and quantizing again).
// Windows as pool_f32's (pads, strides, dilations, ceil windows); padding is skipped; a window with no tap inside
// the input gives level 0 (-inf quantized). One portable loop over channels per tap, which compilers vectorise
// (pmaxub / umax) at the baseline ISA: the op moves bytes, there is no arithmetic to specialise per ISA.
#include <algorithm>
#include <cstring>

#include "edgeinfer/error.h"
#include "edgeinfer/nn_kernels.h"
#include "kernels/pool/pool_window.h"

namespace edgeinfer {

void max_pool_u8_nhwc(const PoolShape& s, const uint8_t* x, uint8_t* y) {
  constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
  require(s.max && s.channels_last, kBad, "MaxPool (uint8): channels-last max pooling only");
  const pool_detail::PoolWindow w = pool_detail::pool_window(s, "MaxPool (uint8)");
  const auto &in = w.in, &out = w.out, &k = w.k, &st = w.st, &pb = w.pb, &d = w.d;
  if (s.batch == 0) return;
  require(x != nullptr && y != nullptr, kBad, "MaxPool (uint8): null buffer");
  const int64_t channels = s.in_channels;
  for (int64_t b = 0; b < s.batch; ++b) {
    const uint8_t* xb = x + b * in[0] * in[1] * channels;
    for (int64_t oh = 0; oh < out[0]; ++oh) {
      const int64_t h0 = oh * st[0] - pb[0];
      for (int64_t ow = 0; ow < out[1]; ++ow) {
        uint8_t* yp = y + ((b * out[0] + oh) * out[1] + ow) * channels;
        const int64_t w0 = ow * st[1] - pb[1];
        bool any = false;
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          const int64_t ih = h0 + kh * d[0];
          if (ih < 0 || ih >= in[0]) continue;
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            const int64_t iw = w0 + kw * d[1];
            if (iw < 0 || iw >= in[1]) continue;
            const uint8_t* xp = xb + (ih * in[1] + iw) * channels;
            if (!any) {
              std::memcpy(yp, xp, static_cast<size_t>(channels));
              any = true;
            } else {
              for (int64_t ch = 0; ch < channels; ++ch) yp[ch] = std::max(yp[ch], xp[ch]);
            }
          }
        }
        if (!any) std::memset(yp, 0, static_cast<size_t>(channels));
      }
    }
  }
}

}  // namespace edgeinfer
