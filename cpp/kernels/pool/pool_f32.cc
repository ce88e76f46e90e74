// MaxPool / AveragePool, NCHW / NCW, with pads, strides and dilations (output sizes come from the plan and
// may include ceil_mode windows that run past the end padding). Max ignores padding; Average divides by
// the taps inside the input, or (count_include_pad) by the taps inside input + explicit padding.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "kernels/pool/pool_window.h"

namespace edgeinfer {
namespace {

// NaN-propagating max in a form compilers vectorise (compare + blend): NaN if either is NaN, so a window
// holding a NaN gives NaN. (ONNX Runtime 1.30 on x86 folds max(acc, x) with maxps, which returns x when
// either is NaN: its window result is NaN only when the last tap is NaN, finite otherwise. Not copied:
// MaxPool must not turn NaN into a finite maximum.)
inline float max_nan(float a, float b) { return (a > b || a != a) ? a : b; }  // NaN in b: b

// MaxPool where every window lies inside the input (no padding reached, the usual 2x2 / 1x2 stride-2
// pools): no bounds checks, and the loop over output columns runs unit-stride on y so it vectorises.
void max_pool_interior(int64_t planes, const int64_t in[2], const int64_t out[2], const int64_t k[2],
                       const int64_t st[2], const int64_t d[2], const float* x, float* y) {
  const int64_t ip = in[0] * in[1], opl = out[0] * out[1];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * ip;
    float* yp = y + pl * opl;
    for (int64_t oh = 0; oh < out[0]; ++oh) {
      float* yr = yp + oh * out[1];
      const float* first = xp + oh * st[0] * in[1];
      for (int64_t ow = 0; ow < out[1]; ++ow) yr[ow] = first[ow * st[1]];
      for (int64_t kh = 0; kh < k[0]; ++kh) {
        const float* xr = xp + (oh * st[0] + kh * d[0]) * in[1];
        for (int64_t kw = kh == 0 ? 1 : 0; kw < k[1]; ++kw) {
          const float* xs = xr + kw * d[1];
          if (st[1] == 2) {
            for (int64_t ow = 0; ow < out[1]; ++ow) yr[ow] = max_nan(yr[ow], xs[2 * ow]);
          } else if (st[1] == 1) {
            for (int64_t ow = 0; ow < out[1]; ++ow) yr[ow] = max_nan(yr[ow], xs[ow]);
          } else {
            for (int64_t ow = 0; ow < out[1]; ++ow) yr[ow] = max_nan(yr[ow], xs[ow * st[1]]);
          }
        }
      }
    }
  }
}

// Channels-last pooling: per output pixel, the taps inside the input are listed once, then the element-wise
// variant's pool_taps combines them over all channels with the accumulators in vector registers (instead of
// read-modify-writing the output row once per tap); padding is skipped per tap, not per element. Kernels of
// more than kMaxListedTaps taps (global-size windows) walk the taps per row instead of listing them.
constexpr int64_t kMaxListedTaps = 64;

void pool_nhwc(const PoolShape& s, int64_t batch, int64_t channels, const int64_t in[2], const int64_t out[2],
               const int64_t k[2], const int64_t st[2], const int64_t pb[2], const int64_t pe[2], const int64_t d[2],
               const float* x, float* y) {
  int64_t listed[kMaxListedTaps];
  const bool list = k[0] * k[1] <= kMaxListedTaps;
  const auto taps = kernels().elementwise_f32->pool_taps;
  for (int64_t b = 0; b < batch; ++b) {
    const float* xb = x + b * in[0] * in[1] * channels;
    for (int64_t oh = 0; oh < out[0]; ++oh)
      for (int64_t ow = 0; ow < out[1]; ++ow) {
        float* yp = y + ((b * out[0] + oh) * out[1] + ow) * channels;
        int64_t inside = 0, padded = 0;
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          const int64_t ih = oh * st[0] - pb[0] + kh * d[0];
          const bool h_in_pad = ih >= -pb[0] && ih < in[0] + pe[0];
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            const int64_t iw = ow * st[1] - pb[1] + kw * d[1];
            if (h_in_pad && iw >= -pb[1] && iw < in[1] + pe[1]) ++padded;
            if (ih < 0 || ih >= in[0] || iw < 0 || iw >= in[1]) continue;
            if (list) listed[inside] = (ih * in[1] + iw) * channels;
            ++inside;
            if (list) continue;
            // Too many taps to list: combine this one into the output row directly.
            const float* xp = xb + (ih * in[1] + iw) * channels;
            if (inside == 1) {
              for (int64_t ch = 0; ch < channels; ++ch) yp[ch] = xp[ch];
            } else if (s.max) {
              for (int64_t ch = 0; ch < channels; ++ch) yp[ch] = max_nan(yp[ch], xp[ch]);
            } else {
              for (int64_t ch = 0; ch < channels; ++ch) yp[ch] += xp[ch];
            }
          }
        }
        if (list) {
          taps(xb, listed, inside, channels, yp, s.max);
        } else if (inside == 0) {
          for (int64_t ch = 0; ch < channels; ++ch) yp[ch] = s.max ? -std::numeric_limits<float>::infinity() : 0.0f;
        }
        if (!s.max) {
          const int64_t count = s.count_include_pad ? padded : inside;
          const float divisor = static_cast<float>(count);
          for (int64_t ch = 0; ch < channels; ++ch) yp[ch] = count > 0 ? yp[ch] / divisor : 0.0f;
        }
      }
  }
}

}  // namespace

void pool_f32(const PoolShape& s, const float* x, float* y) {
  constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
  const pool_detail::PoolWindow w = pool_detail::pool_window(s, "Pool");
  const auto &in = w.in, &out = w.out, &k = w.k, &st = w.st, &pb = w.pb, &pe = w.pe, &d = w.d;
  if (s.batch == 0) return;
  require(x != nullptr && y != nullptr, kBad, "Pool: null buffer");
  if (s.channels_last) {
    pool_nhwc(s, s.batch, s.in_channels, in, out, k, st, pb, pe, d, x, y);
    return;
  }
  const int64_t planes = s.batch * s.in_channels;
  bool interior = s.max;
  for (int i = 0; i < 2; ++i) interior = interior && pb[i] == 0 && (out[i] - 1) * st[i] + (k[i] - 1) * d[i] < in[i];
  if (interior) {
    max_pool_interior(planes, in, out, k, st, d, x, y);
    return;
  }
  const int64_t ip = in[0] * in[1], opl = out[0] * out[1];
  for (int64_t pl = 0; pl < planes; ++pl) {
    const float* xp = x + pl * ip;
    float* yp = y + pl * opl;
    for (int64_t oh = 0; oh < out[0]; ++oh) {
      for (int64_t ow = 0; ow < out[1]; ++ow) {
        const int64_t h0 = oh * st[0] - pb[0], w0 = ow * st[1] - pb[1];
        float acc = s.max ? -std::numeric_limits<float>::infinity() : 0.0f;
        int64_t inside = 0, padded = 0;
        for (int64_t kh = 0; kh < k[0]; ++kh) {
          const int64_t ih = h0 + kh * d[0];
          const bool h_in_pad = ih >= -pb[0] && ih < in[0] + pe[0];
          for (int64_t kw = 0; kw < k[1]; ++kw) {
            const int64_t iw = w0 + kw * d[1];
            if (h_in_pad && iw >= -pb[1] && iw < in[1] + pe[1]) ++padded;
            if (ih < 0 || ih >= in[0] || iw < 0 || iw >= in[1]) continue;
            const float v = xp[ih * in[1] + iw];
            ++inside;
            if (s.max) {
              if (v > acc || std::isnan(v)) acc = std::isnan(acc) ? acc : v;
            } else {
              acc += v;
            }
          }
        }
        float r;
        if (s.max)
          r = acc;
        else {
          const int64_t count = s.count_include_pad ? padded : inside;
          r = count > 0 ? acc / static_cast<float>(count) : 0.0f;
        }
        yp[oh * out[1] + ow] = r;
      }
    }
  }
}

}  // namespace edgeinfer
