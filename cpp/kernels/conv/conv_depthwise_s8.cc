// NCHW INT8 depthwise convolution (QDQ models: in_channels / group == 1, any multiplier) through the table's
// dwconv_s8 rows, replacing one im2col + gemm_s8 call per group (k = taps, n = 1 per call: mostly overhead).
// Same numerics as that path (ConvS8 in conv_f32.cc): the input is quantized per tensor to uint8 with the
// model's (or the run's dynamic) parameters, each output is the exact int32 sum of (q - zero_point) * w over
// the taps (padding contributes 0, as the zero-point padding of the im2col did), then
// y = fma(float(acc), x_scale * w_scale[oc], bias[oc]) with Relu fused and other activations after.
// Layout as conv_depthwise_f32.cc: per channel the quantized plane is widened to int16 (q - zero_point) into
// a zero-padded, stride_w-phase-split scratch plane, so every tap of a row of outputs is one contiguous run.
#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::conv_detail {

namespace {

constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
using gemm_f32_detail::kMaxSlots;
using gemm_f32_detail::kParallelMacs;

class ConvDepthwiseS8 final : public ConvF32 {
 public:
  ConvDepthwiseS8(const Conv2d& c, const int8_t* w, const float* w_scales, const float* bias, ActivationParams act,
                  ActivationQuantization quantization, const DwConvS8Variant* variant)
      : c_(c), variant_(variant != nullptr ? variant : kernels().dwconv_s8), copy_(kernels().dwconv_f32),
        helper_(kernels().gemm_f32), act_(act),
        quantization_(quantization) {
    require(c.in_c_g == 1, kBad, "Conv: depthwise convolutions take one input channel per group");
    taps_ = c.kh * c.kw;
    pairs_ = (taps_ + 1) / 2;
    weights_.assign(w, w + c.out_c * taps_);
    w_pairs_.assign(static_cast<size_t>(c.out_c * pairs_), 0);
    for (int64_t oc = 0; oc < c.out_c; ++oc)
      for (int64_t t = 0; t < taps_; ++t) {
        const auto v = static_cast<uint32_t>(static_cast<uint16_t>(int16_t{w[oc * taps_ + t]}));
        w_pairs_[static_cast<size_t>(oc * pairs_ + t / 2)] |= static_cast<int32_t>(t % 2 == 0 ? v : v << 16);
      }
    w_scales_.assign(w_scales, w_scales + c.out_c);
    bias_.resize(static_cast<size_t>(c.out_c));
    for (int64_t i = 0; i < c.out_c; ++i) bias_[static_cast<size_t>(i)] = bias != nullptr ? bias[i] : 0.0f;
    phase_len_ = (c.pw + c.iw + c.pe_w + c.sw - 1) / c.sw;
    row_stride_ = c.sw * phase_len_;
    for (int64_t kh = 0; kh < c.kh; ++kh)
      for (int64_t kw = 0; kw < c.kw; ++kw) {
        const int64_t col = kw * c.dw;
        tap_offsets_.push_back(kh * c.dh * row_stride_ + (col % c.sw) * phase_len_ + col / c.sw);
      }
    const int64_t lanes = variant_->lanes;
    const int64_t per_row = c.oh * ((c.ow + lanes - 1) / lanes);
    const int64_t flat_n = (c.oh - 1) * row_stride_ + c.ow;
    flat_ = c.sh == 1 && c.sw == 1 && c.oh > 1 && (flat_n + lanes - 1) / lanes * 4 < per_row * 3;
    // The rows may read up to `lanes` int16 past the last output's taps: slack after the plane.
    plane_bytes_ = align_up(sizeof(int16_t) * static_cast<size_t>((c.ph + c.ih + c.pe_h) * row_stride_ + lanes));
    quant_bytes_ = align_up(static_cast<size_t>(c.in_plane()));
    flat_bytes_ = flat_ ? align_up(sizeof(float) * static_cast<size_t>(c.oh * row_stride_)) : 0;
  }

  size_t scratch_bytes() const override { return (plane_bytes_ + quant_bytes_ + flat_bytes_) * static_cast<size_t>(max_slots()); }
  size_t weight_bytes() const override {
    return weights_.size() + sizeof(int32_t) * w_pairs_.size() + sizeof(float) * (w_scales_.size() + bias_.size());
  }
  const char* kernel_name() const override { return variant_->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t count = c.batch * c.out_c;
    if (count == 0) return;
    const gemm_f32_detail::QuantParams qp =
        gemm_f32_detail::activation_params_u8(helper_, quantization_, x, 1, c.batch * c.in_c * c.in_plane(), 0);
    if (!qp.finite) {  // as the GEMM path: NaN / inf in dynamic activations make every output NaN
      std::fill_n(y, count * c.out_plane(), std::numeric_limits<float>::quiet_NaN());
      return;
    }
    const int64_t macs = count * c.out_plane() * taps_;
    const int64_t slots = (pool != nullptr && pool->threads() > 1 && count > 1 && macs >= kParallelMacs)
                              ? std::min<int64_t>(pool->threads(), max_slots())
                              : 1;
    auto chunk = [&](int64_t slot) {
      auto* base = static_cast<uint8_t*>(scratch) + static_cast<size_t>(slot) * (plane_bytes_ + quant_bytes_ + flat_bytes_);
      auto* plane = reinterpret_cast<int16_t*>(base);
      uint8_t* quantized = base + plane_bytes_;
      auto* flat = reinterpret_cast<float*>(base + plane_bytes_ + quant_bytes_);
      const int64_t first = count * slot / slots, last = count * (slot + 1) / slots;
      std::memset(plane, 0, plane_bytes_);  // padding and slack: (q - zp) = 0 contributes nothing
      int64_t loaded = -1;
      for (int64_t i = first; i < last; ++i) {
        const int64_t b = i / c.out_c, oc = i % c.out_c;
        const int64_t source = b * c.in_c + oc / c.out_c_g;
        if (source != loaded) load_plane(x + source * c.in_plane(), qp, quantized, plane);
        loaded = source;
        channel(plane, flat, oc, qp.scale, y + i * c.out_plane());
      }
    };
    if (slots == 1) {
      chunk(0);
    } else {
      pool->parallel_for(slots, 1, [&](int64_t begin, int64_t end) {
        for (int64_t s = begin; s < end; ++s) chunk(s);
      });
    }
  }

 private:
  int64_t max_slots() const { return std::min<int64_t>(kMaxSlots, std::max<int64_t>(1, c_.batch * c_.out_c)); }

  // Quantizes one input plane (the table's quantize kernel, as the GEMM path) and widens q - zp into the
  // interior of the padded, phase-split int16 plane.
  void load_plane(const float* xc, const gemm_f32_detail::QuantParams& qp, uint8_t* quantized, int16_t* plane) const {
    const Conv2d& c = c_;
    QuantizeArgs q;
    q.x = xc;
    q.y = quantized;
    q.y_signed = false;
    q.inner = c.in_plane();
    q.scales = &qp.scale;
    q.zero_points = &qp.zero_point;
    kernels().quantize->quantize(q);
    int16_t* first = plane + c.ph * row_stride_;
    if (c.sw == 1) {
      variant_->widen_rows(quantized, c.iw, qp.zero_point, first + c.pw, row_stride_, c.ih, c.iw);
      return;
    }
    if (c.sw == 2) {
      variant_->widen_deinterleave2(quantized, c.iw, qp.zero_point, first + (c.pw % 2) * phase_len_ + c.pw / 2,
                                    first + ((c.pw + 1) % 2) * phase_len_ + (c.pw + 1) / 2, row_stride_, c.ih, c.iw);
      return;
    }
    // Other strides: input column j goes to phase (pw + j) % sw at (pw + j) / sw; per phase a unit-stride run of
    // destinations fed by every sw-th source byte (no division per element).
    const auto zp = static_cast<int16_t>(qp.zero_point);
    for (int64_t i = 0; i < c.ih; ++i) {
      const uint8_t* src = quantized + i * c.iw;
      int16_t* row = first + i * row_stride_;
      for (int64_t j0 = 0; j0 < std::min(c.sw, c.iw); ++j0) {
        const int64_t col = c.pw + j0;
        int16_t* d = row + (col % c.sw) * phase_len_ + col / c.sw;
        for (int64_t k = 0; j0 + k * c.sw < c.iw; ++k) d[k] = static_cast<int16_t>(src[j0 + k * c.sw] - zp);
      }
    }
  }

  void channel(const int16_t* plane, float* flat, int64_t oc, float x_scale, float* yc) const {
    const Conv2d& c = c_;
    DwConvS8Rows a;
    a.x = plane;
    a.tap_offsets = tap_offsets_.data();
    a.taps = taps_;
    a.w = weights_.data() + oc * taps_;
    a.w_pairs = w_pairs_.data() + oc * pairs_;
    a.scale = x_scale * w_scales_[static_cast<size_t>(oc)];  // a_scale * w_scale[n], as gemm_s8
    a.bias = bias_[static_cast<size_t>(oc)];
    a.relu = act_.kind == FusedActivation::kRelu;
    if (flat_) {
      a.y_f32 = flat;
      a.rows = 1;
      a.n = (c.oh - 1) * row_stride_ + c.ow;
      variant_->rows(a);
      copy_->copy_rows(flat, row_stride_, yc, c.ow, c.oh, c.ow);  // drops the padding columns
    } else {
      a.ld_in = c.sh * row_stride_;
      a.y_f32 = yc;
      a.ldy = c.ow;
      a.rows = c.oh;
      a.n = c.ow;
      variant_->rows(a);
    }
    if (act_.kind != FusedActivation::kNone && !a.relu) helper_->activate(yc, c.out_plane(), act_.kind, act_.alpha, act_.beta);
  }

  Conv2d c_;
  const DwConvS8Variant* variant_;
  const DwConvF32Variant* copy_;  // the flat output's rows into y
  const GemmF32Variant* helper_;  // dynamic min / max and the activations the rows do not fuse
  ActivationParams act_;
  ActivationQuantization quantization_;
  int64_t taps_ = 0, pairs_ = 0;
  std::vector<int8_t> weights_;
  std::vector<int32_t> w_pairs_;
  std::vector<float> w_scales_, bias_;
  std::vector<int64_t> tap_offsets_;
  int64_t phase_len_ = 0, row_stride_ = 0;
  bool flat_ = false;
  size_t plane_bytes_ = 0, quant_bytes_ = 0, flat_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ConvF32> create_conv_depthwise_s8(const Conv2d& c, const int8_t* w, const float* w_scales,
                                                  const float* bias, ActivationParams act,
                                                  ActivationQuantization quantization, const DwConvS8Variant* variant) {
  return std::make_unique<ConvDepthwiseS8>(c, w, w_scales, bias, act, quantization, variant);
}

}  // namespace edgeinfer::conv_detail
