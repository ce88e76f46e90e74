// NCHW grouped convolution with few channels per group (RegNet: 8) run directly through the gconv_f32 rows:
// one GEMM per group has m = out_channels / group rows (8 of a 12-row AVX-512 panel) and an im2col gather per
// panel, so it ran at ~10-20 % of FMA peak. Here, per (image, group), the group's input planes are copied into
// zero-padded, stride_w-phase-split scratch planes stacked one after the other (the layout of
// conv_depthwise_f32.cc), and the group's output channels are computed together, their taps being (input
// channel, kh, kw): tap offsets span the stacked planes, the weights are the ONNX [in_c_g][kh][kw] rows as they are.
#include "kernels/conv/conv_grouped.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "runtime/thread_pool.h"

namespace edgeinfer::conv_detail {

namespace {

constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
using gemm_f32_detail::kMaxSlots;
using gemm_f32_detail::kParallelMacs;

class ConvGroupedF32 final : public ConvF32 {
 public:
  ConvGroupedF32(const Conv2d& c, const float* w, const float* bias, ActivationParams act, const GConvF32Variant* variant)
      : c_(c), variant_(variant != nullptr ? variant : kernels().gconv_f32), copy_(kernels().dwconv_f32),
        helper_(kernels().gemm_f32), act_(act) {
    require(c.group >= 1 && c.in_c_g >= 1, kBad, "Conv: grouped convolutions need channels per group");
    taps_ = c.in_c_g * c.kh * c.kw;
    weights_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c * taps_));
    std::memcpy(weights_.data(), w, weights_.size());
    bias_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c));
    for (int64_t i = 0; i < c.out_c; ++i) bias_.as<float>()[i] = bias != nullptr ? bias[i] : 0.0f;
    phase_len_ = (c.pw + c.iw + c.pe_w + c.sw - 1) / c.sw;
    row_stride_ = c.sw * phase_len_;
    plane_floats_ = align_up(sizeof(float) * static_cast<size_t>((c.ph + c.ih + c.pe_h) * row_stride_)) / sizeof(float);
    for (int64_t ci = 0; ci < c.in_c_g; ++ci)
      for (int64_t kh = 0; kh < c.kh; ++kh)
        for (int64_t kw = 0; kw < c.kw; ++kw) {
          const int64_t col = kw * c.dw;
          tap_offsets_.push_back(ci * static_cast<int64_t>(plane_floats_) + kh * c.dh * row_stride_ +
                                 (col % c.sw) * phase_len_ + col / c.sw);
        }
    const int64_t lanes = copy_->lanes;  // the vector width of this ISA
    const int64_t per_row = c.oh * ((c.ow + lanes - 1) / lanes);
    const int64_t flat_n = (c.oh - 1) * row_stride_ + c.ow;
    flat_ = c.sh == 1 && c.sw == 1 && c.oh > 1 && (flat_n + lanes - 1) / lanes * 4 < per_row * 3;
    flat_floats_ = flat_ ? align_up(sizeof(float) * static_cast<size_t>(c.oh * row_stride_)) / sizeof(float) : 0;
    flat_floats_ *= static_cast<size_t>(c.out_c_g);  // every channel of the group
  }

  size_t scratch_bytes() const override { return sizeof(float) * slot_floats() * static_cast<size_t>(max_slots()); }
  size_t weight_bytes() const override { return weights_.size() + bias_.size(); }
  const char* kernel_name() const override { return variant_->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t units = c.batch * c.group;  // (image, group): its planes are loaded once
    if (units == 0) return;
    const int64_t macs = c.batch * c.out_c * c.out_plane() * taps_;
    const int64_t slots = (pool != nullptr && pool->threads() > 1 && units > 1 && macs >= kParallelMacs)
                              ? std::min<int64_t>(pool->threads(), max_slots())
                              : 1;
    auto chunk = [&](int64_t slot) {
      float* planes = static_cast<float*>(scratch) + static_cast<size_t>(slot) * slot_floats();
      float* flat = planes + plane_floats_ * static_cast<size_t>(c.in_c_g);
      const int64_t first = units * slot / slots, last = units * (slot + 1) / slots;
      std::memset(planes, 0, sizeof(float) * plane_floats_ * static_cast<size_t>(c.in_c_g));
      for (int64_t u = first; u < last; ++u) {
        const int64_t b = u / c.group, g = u % c.group;
        for (int64_t ci = 0; ci < c.in_c_g; ++ci)
          load_plane(x + (b * c.in_c + g * c.in_c_g + ci) * c.in_plane(), planes + plane_floats_ * static_cast<size_t>(ci));
        group_rows(planes, flat, g, y + (b * c.out_c + g * c.out_c_g) * c.out_plane());
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
  size_t slot_floats() const { return plane_floats_ * static_cast<size_t>(c_.in_c_g) + flat_floats_; }
  int64_t max_slots() const { return std::min<int64_t>(kMaxSlots, std::max<int64_t>(1, c_.batch * c_.group)); }

  // The input plane into the interior of its padded, phase-split plane (the padding stays zero).
  void load_plane(const float* xc, float* plane) const {
    const Conv2d& c = c_;
    float* first = plane + c.ph * row_stride_;
    if (c.sw == 1) {
      copy_->copy_rows(xc, c.iw, first + c.pw, row_stride_, c.ih, c.iw);
    } else if (c.sw == 2) {
      copy_->deinterleave2(xc, c.iw, first + (c.pw % 2) * phase_len_ + c.pw / 2,
                              first + ((c.pw + 1) % 2) * phase_len_ + (c.pw + 1) / 2, row_stride_, c.ih, c.iw);
    } else {
      for (int64_t i = 0; i < c.ih; ++i)
        for (int64_t col = c.pw; col < c.pw + c.iw; ++col)
          first[i * row_stride_ + (col % c.sw) * phase_len_ + col / c.sw] = xc[i * c.iw + col - c.pw];
    }
  }

  // The out_c_g output planes of group g (yg: the first).
  void group_rows(const float* planes, float* flat, int64_t g, float* yg) const {
    const Conv2d& c = c_;
    GConvF32Rows a;
    a.x = planes;
    a.tap_offsets = tap_offsets_.data();
    a.taps = taps_;
    a.w = weights_.as<float>() + g * c.out_c_g * taps_;
    a.bias = bias_.as<float>() + g * c.out_c_g;
    a.channels = c.out_c_g;
    a.act = dwconv_fuses(act_.kind) ? act_.kind : FusedActivation::kNone;
    a.act_alpha = act_.alpha;
    a.act_beta = act_.beta;
    if (flat_) {
      a.y = flat;
      a.ldy_c = c.oh * row_stride_;
      a.rows = 1;
      a.n = (c.oh - 1) * row_stride_ + c.ow;
      variant_->rows(a);
      for (int64_t o = 0; o < c.out_c_g; ++o)
        copy_->copy_rows(flat + o * a.ldy_c, row_stride_, yg + o * c.out_plane(), c.ow, c.oh, c.ow);
    } else {
      a.ld_in = c.sh * row_stride_;
      a.y = yg;
      a.ldy_c = c.out_plane();
      a.ldy = c.ow;
      a.rows = c.oh;
      a.n = c.ow;
      variant_->rows(a);
    }
    if (!dwconv_fuses(act_.kind)) helper_->activate(yg, c.out_c_g * c.out_plane(), act_.kind, act_.alpha, act_.beta);
  }

  Conv2d c_;
  const GConvF32Variant* variant_;
  const DwConvF32Variant* copy_;  // plane copies and the stride-2 deinterleave
  const GemmF32Variant* helper_;  // the activations the rows do not fuse
  ActivationParams act_;
  int64_t taps_ = 0;
  AlignedBuffer weights_, bias_;
  std::vector<int64_t> tap_offsets_;
  int64_t phase_len_ = 0, row_stride_ = 0;
  bool flat_ = false;
  size_t plane_floats_ = 0, flat_floats_ = 0;
};

}  // namespace

bool grouped_direct_f32_fits(const Conv2d& c) {
  return c.group > 1 && c.in_c_g > 1 && c.in_c_g <= 16 && c.out_c_g <= 16 && !c.pointwise();
}

std::unique_ptr<ConvF32> create_conv_grouped_f32(const Conv2d& c, const float* w, const float* bias,
                                                 ActivationParams act, const GConvF32Variant* variant) {
  return std::make_unique<ConvGroupedF32>(c, w, bias, act, variant);
}

}  // namespace edgeinfer::conv_detail
