// NCHW depthwise convolution (in_channels / group == 1, any multiplier) through the table's dwconv_f32 rows.
// Per channel, the input plane is copied into a zero-padded scratch plane, split into stride_w phases
// (padded column j lands in phase j % sw at j / sw), so every tap of a row of outputs is one contiguous run of
// input: the kernel then vectorises along the output row with unit-stride loads for any stride, pad and
// dilation. The padding stays zero between channels (only the interior is rewritten), so it is cleared once
// per run and thread. Stride-1 convs with narrow rows (a 5-wide speech feature map) run the whole plane as
// one row over the padded width and drop the padding columns afterwards, so vectors are not mostly tail.
#include <algorithm>
#include <cstring>
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

class ConvDepthwiseF32 final : public ConvF32 {
 public:
  ConvDepthwiseF32(const Conv2d& c, const float* w, const float* bias, ActivationParams act,
                   const DwConvF32Variant* variant)
      : c_(c), variant_(variant != nullptr ? variant : kernels().dwconv_f32), helper_(kernels().gemm_f32), act_(act) {
    require(c.in_c_g == 1, kBad, "Conv: depthwise convolutions take one input channel per group");
    const int64_t taps = c.kh * c.kw;
    weights_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c * taps));
    std::memcpy(weights_.data(), w, weights_.size());
    bias_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c));
    for (int64_t i = 0; i < c.out_c; ++i) bias_.as<float>()[i] = bias != nullptr ? bias[i] : 0.0f;
    phase_len_ = (c.pw + c.iw + c.pe_w + c.sw - 1) / c.sw;
    row_stride_ = c.sw * phase_len_;
    padded_rows_ = c.ph + c.ih + c.pe_h;
    for (int64_t kh = 0; kh < c.kh; ++kh)
      for (int64_t kw = 0; kw < c.kw; ++kw) {
        const int64_t col = kw * c.dw;  // padded column of the tap for output column 0
        tap_offsets_.push_back(kh * c.dh * row_stride_ + (col % c.sw) * phase_len_ + col / c.sw);
      }
    // Lanes computed: a row per output row, or one run of (oh - 1) * row_stride + ow over the plane.
    const int64_t lanes = variant_->lanes;
    const int64_t per_row = c.oh * ((c.ow + lanes - 1) / lanes);
    const int64_t flat_n = (c.oh - 1) * row_stride_ + c.ow;
    flat_ = c.sh == 1 && c.sw == 1 && c.oh > 1 && (flat_n + lanes - 1) / lanes * 4 < per_row * 3;
    plane_floats_ = align_up(sizeof(float) * static_cast<size_t>(padded_rows_ * row_stride_)) / sizeof(float);
    flat_floats_ = flat_ ? align_up(sizeof(float) * static_cast<size_t>(c.oh * row_stride_)) / sizeof(float) : 0;
  }

  // One padded plane (and flat output) per concurrent chunk; never more chunks than channels.
  size_t scratch_bytes() const override { return sizeof(float) * (plane_floats_ + flat_floats_) * max_slots(); }
  size_t weight_bytes() const override { return weights_.size() + bias_.size(); }
  const char* kernel_name() const override { return variant_->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t count = c.batch * c.out_c;
    if (count == 0) return;
    const int64_t macs = count * c.out_plane() * c.kh * c.kw;
    const int64_t slots = (pool != nullptr && pool->threads() > 1 && count > 1 && macs >= kParallelMacs)
                              ? std::min<int64_t>({pool->threads(), max_slots()})
                              : 1;
    auto chunk = [&](int64_t slot) {
      float* plane = static_cast<float*>(scratch) + slot * static_cast<int64_t>(plane_floats_ + flat_floats_);
      const int64_t first = count * slot / slots, last = count * (slot + 1) / slots;
      std::memset(plane, 0, sizeof(float) * plane_floats_);
      int64_t loaded = -1;  // the (batch, input channel) now in the padded plane
      for (int64_t i = first; i < last; ++i) {
        const int64_t b = i / c.out_c, oc = i % c.out_c;
        const int64_t source = b * c.in_c + oc / c.out_c_g;
        if (source != loaded) load_plane(x + source * c.in_plane(), plane);
        loaded = source;
        channel(plane, plane + plane_floats_, oc, y + i * c.out_plane());
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

  // The input plane into the interior of the padded, phase-split plane.
  void load_plane(const float* xc, float* plane) const {
    const Conv2d& c = c_;
    float* first = plane + c.ph * row_stride_;
    if (c.sw == 1) {
      variant_->copy_rows(xc, c.iw, first + c.pw, row_stride_, c.ih, c.iw);
    } else if (c.sw == 2) {
      variant_->deinterleave2(xc, c.iw, first + (c.pw % 2) * phase_len_ + c.pw / 2,
                              first + ((c.pw + 1) % 2) * phase_len_ + (c.pw + 1) / 2, row_stride_, c.ih, c.iw);
    } else {
      for (int64_t i = 0; i < c.ih; ++i)
        for (int64_t col = c.pw; col < c.pw + c.iw; ++col)
          first[i * row_stride_ + (col % c.sw) * phase_len_ + col / c.sw] = xc[i * c.iw + col - c.pw];
    }
  }

  void channel(const float* plane, float* flat, int64_t oc, float* yc) const {
    const Conv2d& c = c_;
    DwConvF32Rows a;
    a.x = plane;
    a.tap_offsets = tap_offsets_.data();
    a.taps = c.kh * c.kw;
    a.w = weights_.as<float>() + oc * a.taps;
    a.bias = bias_.as<float>()[oc];
    a.act = dwconv_fuses(act_.kind) ? act_.kind : FusedActivation::kNone;
    a.act_alpha = act_.alpha;
    a.act_beta = act_.beta;
    if (flat_) {
      // Output (oh, ow) is flat[oh * row_stride + ow]: the columns past ow are the padding's, dropped here.
      a.y = flat;
      a.rows = 1;
      a.n = (c.oh - 1) * row_stride_ + c.ow;
      variant_->rows(a);
      variant_->copy_rows(flat, row_stride_, yc, c.ow, c.oh, c.ow);
    } else {
      a.ld_in = c.sh * row_stride_;
      a.y = yc;
      a.ldy = c.ow;
      a.rows = c.oh;
      a.n = c.ow;
      variant_->rows(a);
    }
    if (!dwconv_fuses(act_.kind)) helper_->activate(yc, c.out_plane(), act_.kind, act_.alpha, act_.beta);
  }

  Conv2d c_;
  const DwConvF32Variant* variant_;
  const GemmF32Variant* helper_;  // the activations the rows do not fuse
  ActivationParams act_;
  AlignedBuffer weights_, bias_;
  std::vector<int64_t> tap_offsets_;
  int64_t phase_len_ = 0, row_stride_ = 0, padded_rows_ = 0;
  bool flat_ = false;
  size_t plane_floats_ = 0, flat_floats_ = 0;
};

}  // namespace

std::unique_ptr<ConvF32> create_conv_depthwise_f32(const Conv2d& c, const float* w, const float* bias,
                                                   ActivationParams act, const DwConvF32Variant* variant) {
  return std::make_unique<ConvDepthwiseF32>(c, w, bias, act, variant);
}

}  // namespace edgeinfer::conv_detail
