// Channels-last (NHWC / NWC) depthwise convolution, multiplier 1, through the table's dwconv_f32 nhwc_pixels:
// channels are the vector dimension, so every output pixel is a few full vectors and the input is read in
// place (no padded plane, no transpose). Per output row, the pixels whose taps all lie inside the input
// (the interior) run as one call over their common tap list; the few border pixels each get the list of
// their taps inside the input (the padding contributes zero, so its taps are simply skipped).
#include <algorithm>
#include <cmath>
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
// Interior runs shorter than this (the fixed kernels' pixel block) are too short to stream.
constexpr int64_t kColumnsBelow = 8;
// A pixel reads every tap of every channel: past this many bytes (taps x channels x 4) the row's channels run in
// blocks of kChannelBlock, each over all the chunk's rows, so a block's slice of the input stays in L1 (MnasNet's
// 576-channel 5x5 convs on 14x14 maps read 57 KB per pixel; NCHWc runtimes block channels by 16 the same way).
constexpr int64_t kChannelBlockAbove = 32 * 1024, kChannelBlock = 64;

// Channels [begin, begin + count) of the layer, the ones a call covers.
struct ChannelBlock {
  int64_t begin, count;
};

class ConvDepthwiseNhwcF32 final : public ConvF32 {
 public:
  ConvDepthwiseNhwcF32(const Conv2d& c, const float* w, const float* bias, ActivationParams act,
                       const DwConvF32Variant* variant)
      : c_(c), variant_(variant != nullptr ? variant : kernels().dwconv_f32), helper_(kernels().gemm_f32), act_(act) {
    require(c.in_c_g == 1 && c.out_c_g == 1, kBad, "Conv: channels-last depthwise convolutions take one channel per group");
    taps_ = c.kh * c.kw;
    // [C][taps] (ONNX [C, 1, kh, kw]) -> [taps][C]: a tap's weights for consecutive channels are one vector.
    weights_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(taps_ * c.out_c));
    for (int64_t ch = 0; ch < c.out_c; ++ch)
      for (int64_t t = 0; t < taps_; ++t) weights_.as<float>()[t * c.out_c + ch] = w[ch * taps_ + t];
    bias_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c));
    for (int64_t ch = 0; ch < c.out_c; ++ch) bias_.as<float>()[ch] = bias != nullptr ? bias[ch] : 0.0f;
    // Output columns whose kernel columns all land inside the input row.
    interior_begin_ = std::min(c.ow, (c.pw + c.sw - 1) / c.sw);
    const int64_t last_inside = c.iw - 1 + c.pw - (c.kw - 1) * c.dw;  // ow * sw <= this
    interior_end_ = last_inside < 0 ? interior_begin_ : std::clamp(last_inside / c.sw + 1, interior_begin_, c.ow);
    // Output rows whose kernel rows all land inside the input.
    row_interior_begin_ = std::min(c.oh, (c.ph + c.sh - 1) / c.sh);
    const int64_t last_row_inside = c.ih - 1 + c.ph - (c.kh - 1) * c.dh;
    row_interior_end_ = last_row_inside < 0 ? row_interior_begin_ : std::clamp(last_row_inside / c.sh + 1, row_interior_begin_, c.oh);
    // Narrow maps (a keyword spotter's 25x5): a row's interior is a few pixels, too few for the fixed kernels'
    // blocks of 8, so the interior block runs down its columns instead (pixels a row apart as the step).
    columns_ = interior_end_ - interior_begin_ < kColumnsBelow && row_interior_end_ - row_interior_begin_ >= kColumnsBelow;
    channel_block_ = taps_ * c.out_c * static_cast<int64_t>(sizeof(float)) > kChannelBlockAbove ? kChannelBlock : c.out_c;
  }

  // Per concurrent chunk: the tap offsets and weight rows of one call.
  size_t scratch_bytes() const override { return align_up(sizeof(int64_t) * 2 * static_cast<size_t>(taps_)) * kMaxSlots; }
  size_t weight_bytes() const override { return weights_.size() + bias_.size(); }
  const char* kernel_name() const override { return variant_->name; }

  // Level input, and the requantizing epilogue (multipliers non-null) instead of the activation: see
  // create_conv_depthwise_nhwc_levels.
  void read_levels(int32_t x_zero_point, const float* multipliers, int32_t y_zero_point, float y_scale, bool y_levels) {
    levels_in_ = true;
    levels_out_ = y_levels;
    x_zero_point_ = x_zero_point;
    // Interior pixels read every tap: sum_t w (x - zp) = sum_t w x - zp sum_t w, the last term folded into
    // their bias (integers: still exact), so their loads skip the subtraction.
    interior_bias_ = AlignedBuffer(bias_.size());
    const float* w = weights_.as<float>();
    for (int64_t ch = 0; ch < c_.out_c; ++ch) {
      float sum = 0.0f;
      for (int64_t t = 0; t < taps_; ++t) sum += w[t * c_.out_c + ch];
      interior_bias_.as<float>()[ch] = bias_.as<float>()[ch] - static_cast<float>(x_zero_point) * sum;
    }
    if (multipliers != nullptr) requant_multipliers_.assign(multipliers, multipliers + c_.out_c);
    requant_zero_point_ = y_zero_point;
    requant_scale_ = y_scale;
  }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(!levels_in_, kBad, "Conv: this convolution reads uint8 levels (run_quantized)");
    run_any(x, y, scratch, pool);
  }

  void run_quantized(const void* x, void* y, void* scratch, ThreadPool* pool) const override {
    run_any(x, y, scratch, pool);
  }

 private:
  void run_any(const void* x, void* y, void* scratch, ThreadPool* pool) const {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t rows = c.batch * c.oh;
    if (rows == 0 || c.ow == 0 || c.out_c == 0) return;
    const int64_t macs = rows * c.ow * c.out_c * taps_;
    const int64_t slots = (pool != nullptr && pool->threads() > 1 && rows > 1 && macs >= kParallelMacs)
                              ? std::min<int64_t>({pool->threads(), kMaxSlots, rows})
                              : 1;
    const size_t slot_bytes = align_up(sizeof(int64_t) * 2 * static_cast<size_t>(taps_));
    auto chunk = [&](int64_t slot) {
      int64_t* lists = reinterpret_cast<int64_t*>(static_cast<char*>(scratch) + slot * slot_bytes);
      const int64_t begin = rows * slot / slots, end = rows * (slot + 1) / slots;
      if (!columns_ && channel_block_ == c.out_c) {
        for (int64_t r = begin; r < end; ++r) output_row(x, y, r, lists, {0, c.out_c}, true, true);
        return;
      }
      // Per channel block and image in the chunk: every row (without its interior block when that runs down
      // its columns), then the block's columns; the activations the pixels do not fuse once at the end.
      for (int64_t c0 = 0; c0 < c.out_c; c0 += channel_block_) {
        const ChannelBlock ch{c0, std::min(channel_block_, c.out_c - c0)};
        for (int64_t r = begin; r < end;) {
          const int64_t b = r / c.oh, image_end = std::min(end, (b + 1) * c.oh);
          const int64_t oh0 = r - b * c.oh, oh1 = image_end - b * c.oh;
          const int64_t block0 = std::max(oh0, row_interior_begin_), block1 = std::min(oh1, row_interior_end_);
          const bool block = columns_ && block1 - block0 >= kColumnsBelow;
          for (int64_t oh = oh0; oh < oh1; ++oh) output_row(x, y, b * c.oh + oh, lists, ch, !block || oh < block0 || oh >= block1, false);
          if (block) interior_columns(x, y, b, block0, block1, lists, ch);
          r = image_end;
        }
      }
      finish_rows(y, begin, end);
    };
    if (slots == 1) {
      chunk(0);
    } else {
      pool->parallel_for(slots, 1, [&](int64_t begin, int64_t end) {
        for (int64_t s = begin; s < end; ++s) chunk(s);
      });
    }
  }

  // The arguments every call over channel block ch of image b shares (tap lists in `lists`, the pixels and
  // output set per call; their offsets count the layer's channels, the pointers start at the block).
  DwConvNhwcF32Pixels image_args(const void* x, int64_t b, int64_t* lists, ChannelBlock ch) const {
    const Conv2d& c = c_;
    const int64_t C = c.out_c;
    const int64_t image = b * c.in_plane() * C + ch.begin;
    DwConvNhwcF32Pixels a;
    a.w = weights_.as<float>() + ch.begin;
    a.w_stride = C;
    a.bias = bias_.as<float>() + ch.begin;
    a.channels = ch.count;
    a.ldy = C;
    a.x_step = c.sw * C;
    a.act = dwconv_fuses(act_.kind) ? act_.kind : FusedActivation::kNone;
    a.act_alpha = act_.alpha;
    a.act_beta = act_.beta;
    a.tap_offsets = lists;
    a.tap_rows = lists + taps_;
    if (levels_in_) {
      a.x_levels = static_cast<const uint8_t*>(x) + image;
      a.x_zero_point = x_zero_point_;
    } else {
      a.x = static_cast<const float*>(x) + image;
    }
    if (!requant_multipliers_.empty()) {
      a.requant_multipliers = requant_multipliers_.data() + ch.begin;
      a.requant_zero_point = requant_zero_point_;
      a.requant_scale = requant_scale_;
    }
    return a;
  }

  // A call over pixels that read every tap (the interior): level inputs fold the zero point into the bias.
  void use_interior_bias(DwConvNhwcF32Pixels& a, ChannelBlock ch) const {
    if (!levels_in_) return;
    a.bias = interior_bias_.as<float>() + ch.begin;
    a.x_zero_point = 0;
  }

  // The activation / out_min the pixels did not fuse, over output rows [r_begin, r_end) (float output).
  void finish_rows(void* y, int64_t r_begin, int64_t r_end) const {
    if (!requant_multipliers_.empty() || r_end <= r_begin) return;
    const int64_t row = c_.ow * c_.out_c;
    float* yr = static_cast<float*>(y) + r_begin * row;
    if (!dwconv_fuses(act_.kind)) helper_->activate(yr, (r_end - r_begin) * row, act_.kind, act_.alpha, act_.beta);
    if (act_.out_min > -INFINITY) helper_->activate(yr, (r_end - r_begin) * row, FusedActivation::kClip, act_.out_min, INFINITY);
  }

  // The interior block's output rows [oh0, oh1) of image b, one call per interior column: its pixels are a
  // row apart (x_step sh input rows, ldy one output row), every tap inside the input.
  void interior_columns(const void* x, void* y, int64_t b, int64_t oh0, int64_t oh1, int64_t* lists, ChannelBlock ch) const {
    const Conv2d& c = c_;
    const int64_t C = c.out_c;
    DwConvNhwcF32Pixels a = image_args(x, b, lists, ch);
    use_interior_bias(a, ch);
    a.x_step = c.sh * c.iw * C;
    a.ldy = c.ow * C;
    a.count = oh1 - oh0;
    a.taps = taps_;
    for (int64_t ow = interior_begin_; ow < interior_end_; ++ow) {
      int64_t n = 0;
      for (int64_t kh = 0; kh < c.kh; ++kh)
        for (int64_t kw = 0; kw < c.kw; ++kw) {
          lists[n] = ((oh0 * c.sh - c.ph + kh * c.dh) * c.iw + ow * c.sw - c.pw + kw * c.dw) * C;
          lists[taps_ + n] = kh * c.kw + kw;
          ++n;
        }
      const int64_t first = ((b * c.oh + oh0) * c.ow + ow) * C + ch.begin;
      if (levels_out_) a.y_levels = static_cast<uint8_t*>(y) + first;
      else a.y = static_cast<float*>(y) + first;
      variant_->nhwc_pixels(a);
    }
  }

  // Output row r = (batch, oh): its interior in one call (unless `with_interior` is false: the column runs
  // do it), each border pixel in its own; then the unfused activations when `finish`.
  void output_row(const void* x, void* y, int64_t r, int64_t* lists, ChannelBlock ch, bool with_interior, bool finish) const {
    const Conv2d& c = c_;
    const int64_t b = r / c.oh, oh = r % c.oh, C = c.out_c;
    float* yr = static_cast<float*>(y) + r * c.ow * C + ch.begin;
    uint8_t* yr_levels = static_cast<uint8_t*>(y) + r * c.ow * C + ch.begin;
    int64_t* offsets = lists;
    int64_t* tap_rows = lists + taps_;
    DwConvNhwcF32Pixels a = image_args(x, b, lists, ch);
    // Taps of output column ow inside the input (all kernel columns when `all_columns`).
    auto list_taps = [&](int64_t ow, bool all_columns) {
      int64_t n = 0;
      for (int64_t kh = 0; kh < c.kh; ++kh) {
        const int64_t ih = oh * c.sh - c.ph + kh * c.dh;
        if (ih < 0 || ih >= c.ih) continue;
        for (int64_t kw = 0; kw < c.kw; ++kw) {
          const int64_t iw = ow * c.sw - c.pw + kw * c.dw;
          if (!all_columns && (iw < 0 || iw >= c.iw)) continue;
          offsets[n] = (ih * c.iw + iw) * C;
          tap_rows[n] = kh * c.kw + kw;
          ++n;
        }
      }
      return n;
    };
    auto pixels = [&](int64_t ow, int64_t count, bool interior) {
      a.taps = list_taps(ow, interior);
      a.bias = bias_.as<float>() + ch.begin;
      a.x_zero_point = x_zero_point_;
      if (interior && a.taps == taps_) use_interior_bias(a, ch);
      if (levels_out_) a.y_levels = yr_levels + ow * C;
      else a.y = yr + ow * C;
      a.count = count;
      variant_->nhwc_pixels(a);
    };
    for (int64_t ow = 0; ow < interior_begin_; ++ow) pixels(ow, 1, false);
    if (with_interior && interior_end_ > interior_begin_) pixels(interior_begin_, interior_end_ - interior_begin_, true);
    for (int64_t ow = std::max(interior_end_, interior_begin_); ow < c.ow; ++ow) pixels(ow, 1, false);
    if (finish) finish_rows(y, r, r + 1);
  }

  Conv2d c_;
  const DwConvF32Variant* variant_;
  const GemmF32Variant* helper_;  // the activations the pixels do not fuse, and out_min
  ActivationParams act_;
  AlignedBuffer weights_, bias_, interior_bias_;
  int64_t taps_ = 0, interior_begin_ = 0, interior_end_ = 0, row_interior_begin_ = 0, row_interior_end_ = 0;
  bool columns_ = false;  // the interior block runs down its columns (see the constructor)
  int64_t channel_block_ = 0;  // channels per block (all of them unless kChannelBlockAbove)
  bool levels_in_ = false, levels_out_ = false;
  int32_t x_zero_point_ = 0, requant_zero_point_ = 0;
  std::vector<float> requant_multipliers_;
  float requant_scale_ = 1.0f;
};

}  // namespace

std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_f32(const Conv2d& c, const float* w, const float* bias,
                                                        ActivationParams act, const DwConvF32Variant* variant) {
  return std::make_unique<ConvDepthwiseNhwcF32>(c, w, bias, act, variant);
}

std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_levels(const Conv2d& c, const float* w, const float* bias,
                                                           int32_t x_zero_point, const float* multipliers,
                                                           int32_t y_zero_point, float y_scale, bool y_levels,
                                                           const DwConvF32Variant* variant) {
  require(multipliers != nullptr || !y_levels, kBad, "Conv: level output needs the requantizing epilogue");
  auto conv = std::make_unique<ConvDepthwiseNhwcF32>(c, w, bias, ActivationParams{}, variant);
  conv->read_levels(x_zero_point, multipliers, y_zero_point, y_scale, y_levels);
  return conv;
}

}  // namespace edgeinfer::conv_detail
