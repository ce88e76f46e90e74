// ConvF32 (NCHW / NCW, groups, strides, pads, dilations) with fused bias + activation:
//  - float, in_channels / group > 1: weights packed once as the A operand (mr-row panels, one GEMM per
//    group), the image as B: pointwise convs (1x1, stride 1, no pad) read X[c, h*w] in place, the others
//    gather im2col column panels into per-thread scratch inside the GEMM driver. Y[oc, h*w] is NCHW.
//  - depthwise (in_channels / group == 1, any multiplier): conv_depthwise_f32.cc (the dwconv_f32 rows); channels
//    last (multiplier 1): conv_depthwise_nhwc_f32.cc (the dwconv_f32 nhwc_pixels, channels as the vector).
//  - grouped with at most 16 channels per group (RegNet's 8): conv_grouped_f32.cc, direct through the gconv_f32
//    rows (float, and the dynamic INT8 convs that stay float).
//  - INT8 (create_int8): weights int8 per output channel (scale = max|w| / 127), reordered to k = (kh, kw, c);
//    per run the whole input is quantized to uint8 (per tensor, asymmetric, from its min / max) into an
//    NHWC copy, im2col rows are byte copies (padding = zero point; pointwise convs use the copy in place),
//    gemm_s8 writes [h*w, oc] floats into scratch and the transpose back to NCHW applies the activations
//    gemm_s8 does not fuse. Depthwise convs stay float (they are memory bound), and so do convs with
//    k = in_channels / group * kernel < 64 or fewer than 32 output channels per group (faster in float).
//  - INT8 from a QDQ model (create_quantized): the same path with the model's int8 weights and scales, and
//    its fixed activation scale / zero point when it has one; always INT8 (the model fixed the numerics).
//    Group-1 ones also channels last (QLinearConvNhwc): quantized straight into NHWC, written straight to y.
//  - Channels last, group 1, unit dilation along w, on a gemm_s8 variant with implicit_rows (VNNI, ref): no
//    im2col. The input is quantized into a zero-point padded NHWC copy and the GEMM reads each output pixel's
//    window in place: one run of kw * in_c bytes per kernel row (rounded up to the GEMM's kr with zero
//    weights, when that adds at most half the MACs), pixels of an output row sw * in_c bytes apart (an
//    implicit GEMM, as MLAS's indirect convolution).
//    Depthwise ones run the direct dwconv_s8 rows (conv_depthwise_s8.cc) with the same numerics.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "edgeinfer/packed_weights.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_grouped.h"
#include "kernels/conv/conv_nhwc.h"
#include "kernels/conv/conv_requantization.h"
#include "kernels/conv/conv_shape.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "kernels/gemm_f32/half_weights.h"
#include "runtime/thread_pool.h"

namespace edgeinfer {

namespace {

using conv_detail::Conv2d;
using namespace gemm_f32_detail;
constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;
// Channels-last INT8 convs with a smaller reduction (in_channels x taps) run in float.
constexpr int64_t kMinInt8Reduction = 32;
constexpr int64_t kMinInt8OutChannels = 32;

void check_weights(const Conv2d& c, const float* w, const float* bias, ActivationParams act) {
  require(w != nullptr, kBad, "Conv: weights are null");
  require(static_cast<uint8_t>(act.kind) <= static_cast<uint8_t>(kLastFusedActivation), kBad,
          "Conv: unknown fused activation");
  require(!std::isnan(act.out_min), kBad, "Conv: out_min is NaN");
  (void)c;
  (void)bias;
}

// The channels-last depthwise kernel's case (one channel per group in and out); other groups stay NCHW.
bool depthwise_channels_last(const Conv2d& c) { return c.group > 1 && c.in_c_g == 1 && c.out_c_g == 1; }

AlignedBuffer copy_bias(const float* bias, int64_t n) {
  AlignedBuffer b(sizeof(float) * static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) b.as<float>()[i] = bias != nullptr ? bias[i] : 0.0f;
  return b;
}

// ------------------------------------------------------------------ float, GEMM based
class ConvGemmF32 final : public ConvF32 {
 public:
  ConvGemmF32(const Conv2d& c, const float* w, const float* bias, ActivationParams act, bool half)
      : c_(c), variant_(kernels().gemm_f32), act_(act), has_bias_(bias != nullptr) {
    const int64_t kg = c.k_g(), mg = c.out_c_g;
    weights_ = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.out_c * kg));
    for (int64_t g = 0; g < c.group; ++g)
      gemm_f32_pack_a(w + g * mg * kg, kg, mg, kg, false, variant_->mr, weights_.as<float>() + g * mg * kg);
    if (half) {
      half_ = HalfWeights(weights_.as<float>(), static_cast<size_t>(c.out_c * kg));
      weights_ = AlignedBuffer();
    }
    bias_ = copy_bias(bias, c.out_c);
    slot_floats_ = align_up(gemm_f32_scratch_floats(variant_, kg) * sizeof(float)) / sizeof(float);
  }
  size_t scratch_bytes() const override { return sizeof(float) * slot_floats_ * kMaxSlots + half_.float_bytes(); }
  size_t weight_bytes() const override { return weights_.size() + half_.bytes() + bias_.size(); }
  const char* kernel_name() const override { return variant_->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(x != nullptr && y != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    const int64_t kg = c.k_g(), mg = c.out_c_g;
    const bool pointwise = c.pointwise();
    const float* weights = half_.empty() ? weights_.as<float>()
                                         : half_.expand(static_cast<float*>(scratch) + slot_floats_ * kMaxSlots);
    for (int64_t b = 0; b < c.batch; ++b) {
      for (int64_t g = 0; g < c.group; ++g) {
        const float* xg = x + (b * c.in_c + g * c.in_c_g) * c.in_plane();
        Im2colParams p;
        p.x = xg;
        p.channels = c.in_c_g;
        p.in_h = c.ih; p.in_w = c.iw; p.out_h = c.oh; p.out_w = c.ow;
        p.kernel_h = c.kh; p.kernel_w = c.kw; p.stride_h = c.sh; p.stride_w = c.sw;
        p.pad_h = c.ph; p.pad_w = c.pw; p.dilation_h = c.dh; p.dilation_w = c.dw;
        GemmF32Args args;
        args.m = mg;
        args.n = c.out_plane();
        args.k = kg;
        args.a = weights + g * mg * kg;
        if (pointwise) {
          args.b_mode = GemmF32BMode::kRowMajor;
          args.b = xg;
          args.ldb = c.in_plane();
        } else {
          args.b_mode = GemmF32BMode::kIm2col;
          args.im2col = &p;
        }
        args.c = y + (b * c.out_c + g * mg) * c.out_plane();
        args.ldc = c.out_plane();
        args.bias_m = has_bias_ ? bias_.as<float>() + g * mg : nullptr;
        args.activation = act_.kind;
        args.act_alpha = act_.alpha;
        args.act_beta = act_.beta;
        run_split_n(variant_, args, mg * kg * c.out_plane(), pool, static_cast<float*>(scratch), slot_floats_,
                    kMaxSlots);
      }
    }
  }

 private:
  Conv2d c_;
  const GemmF32Variant* variant_;
  ActivationParams act_;
  bool has_bias_;
  AlignedBuffer weights_, bias_;
  HalfWeights half_;
  size_t slot_floats_;
};

// ------------------------------------------------------------------ INT8
// Int8 weights in the ONNX order [out_c][in_c_g][kh][kw] with one scale per output channel and, for the
// channels-last dynamic convs, the rounding error per output and input channel (the per-call bias correction).
struct ConvWeightsS8 {
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<float> weight_error;  // [out_c][in_c], or empty
};

// The per-channel scale minimising the squared rounding + clipping error of n weights, searched over
// clipping the range at 50 % ... 100 % of max|w| (max|w| / 127 alone wastes levels on one large weight).
float mse_scale(const float* w, int64_t n, float max_abs) {
  if (!(max_abs / 127.0f > 0.0f)) return 1.0f;  // 0, or so small that every scale underflows to 0
  float best_scale = max_abs / 127.0f;
  double best_error = INFINITY;
  for (int step = 100; step >= 50; step -= 2) {
    const float scale = max_abs * static_cast<float>(step) / 100.0f / 127.0f;
    if (!(scale > 0.0f)) break;  // underflowed (tiny weights): a zero scale would quantize 0 / 0 = NaN
    double error = 0.0;
    for (int64_t i = 0; i < n; ++i) {
      const float q = std::clamp(std::nearbyint(w[i] / scale), -127.0f, 127.0f);
      const double d = double(q) * scale - w[i];
      error += d * d;
    }
    if (error < best_error) {
      best_error = error;
      best_scale = scale;
    }
  }
  return best_scale;
}

// Float weights quantized symmetric per output channel: max|w| / 127 (NCHW) or the MSE-chosen scale (channels
// last, which also records the rounding error for the bias correction).
ConvWeightsS8 quantize_weights(const Conv2d& c, const float* w, bool channels_last) {
  const int64_t kg = c.k_g();
  ConvWeightsS8 q;
  q.q.resize(static_cast<size_t>(c.out_c * kg));
  q.scales.resize(static_cast<size_t>(c.out_c));
  for (int64_t oc = 0; oc < c.out_c; ++oc) {
    const float* wo = w + oc * kg;
    // Each weight is checked: std::max skips a NaN, which then reached the int8 cast below (undefined
    // behaviour); NaN weights are refused like infinite ones. A maximum whose / 127 underflows to 0
    // quantizes every weight to 0 with any scale; a zero scale would make 0 / 0 = NaN.
    float mx = 0.0f;
    for (int64_t i = 0; i < kg; ++i) {
      const float v = std::fabs(wo[i]);
      require(std::isfinite(v), kBad, "Conv: weights must be finite");
      mx = std::max(mx, v);
    }
    const float s = channels_last ? mse_scale(wo, kg, mx) : (mx / 127.0f > 0.0f ? mx / 127.0f : 1.0f);
    q.scales[static_cast<size_t>(oc)] = s;
    int8_t* qo = q.q.data() + oc * kg;
    for (int64_t i = 0; i < kg; ++i) qo[i] = static_cast<int8_t>(std::clamp(std::nearbyint(wo[i] / s), -127.0f, 127.0f));
    if (channels_last) {
      // Rounding error of the weights summed over the taps, per input channel: its product with the
      // input's channel means is the systematic part of the INT8 error, removed per call.
      const int64_t kernel = c.kh * c.kw;
      for (int64_t ci = 0; ci < c.in_c_g; ++ci) {
        double e = 0.0;
        for (int64_t r = 0; r < kernel; ++r) e += double(qo[ci * kernel + r]) * s - double(wo[ci * kernel + r]);
        q.weight_error.push_back(static_cast<float>(e));
      }
    }
  }
  return q;
}

// Per run the whole input is quantized to uint8 per tensor (from its min / max, or the model's fixed
// parameters) into an NHWC copy; the GEMM per group runs gemm_s8 over im2col byte rows.
class ConvS8 final : public ConvF32 {
 public:
  ConvS8(const Conv2d& c, const ConvWeightsS8& weights, const float* bias, ActivationParams act, bool channels_last,
         ActivationQuantization quantization, OutputQuantization output = {})
      : c_(c), helper_(kernels().gemm_f32), act_(act), s8_act_(s8_activation(act.kind)), channels_last_(channels_last),
        quantization_(quantization), output_(output), weight_error_(weights.weight_error) {
    require(!channels_last || c.group == 1, kBad, "Conv: channels-last convolutions take group 1");
    require(!output.enabled || channels_last, kBad, "Conv: output quantization is for channels-last convolutions");
    // The rounding error of weights this class quantized (create_int8), for the bias correction; a QDQ model's
    // weights come quantized (no correction: the model fixed the numerics).
    require(weight_error_.empty() || weight_error_.size() == static_cast<size_t>(c.out_c * c.in_c), kBad,
            "Conv: the weights' rounding error must have one value per output and input channel");
    const int64_t kg = c.k_g(), mg = c.out_c_g, kernel = c.kh * c.kw;
    // Reordered per group to k = (kh, kw, c): the order of the NHWC im2col rows.
    std::vector<int8_t> q(static_cast<size_t>(mg * kg));
    std::vector<float> b(static_cast<size_t>(mg));
    // Group g's [mg][k] weights (bias b), for `variant` (nullptr: the one pack_weights_s8 picks).
    auto pack = [&](const int8_t* w, int64_t k, int64_t g, const GemmS8Variant* variant) {
      PackWeightsArgs pa;
      pa.weights = w;
      pa.k = k;
      pa.n = mg;
      pa.layout = WeightLayout::kNK;
      pa.scales = weights.scales.data() + g * mg;
      pa.scale_count = mg;
      pa.bias = b.data();
      return pack_weights_s8(pa, variant);
    };
    for (int64_t g = 0; g < c.group; ++g) {
      for (int64_t o = 0; o < mg; ++o) {
        const int64_t oc = g * mg + o;
        const int8_t* wo = weights.q.data() + oc * kg;  // [in_c_g][kh][kw]
        b[static_cast<size_t>(o)] = bias != nullptr ? bias[oc] : 0.0f;
        for (int64_t ci = 0; ci < c.in_c_g; ++ci)
          for (int64_t r = 0; r < kernel; ++r) q[static_cast<size_t>(o * kg + r * c.in_c_g + ci)] = wo[ci * kernel + r];
      }
      packed_.push_back(pack(q.data(), kg, g, nullptr));
    }
    xq_bytes_ = align_up(static_cast<size_t>(c.in_c * c.in_plane()));
    col_bytes_ = c.pointwise() ? 0 : align_up(static_cast<size_t>(c.out_plane() * kg));
    // Channels last: quantized straight into the [H*W][C] copy and written straight into y.
    // NCHW: [p][oc] floats before the transpose; level output: floats before they are quantized into y.
    out_bytes_ = channels_last && !output.levels ? 0 : align_up(sizeof(float) * static_cast<size_t>(c.out_plane() * mg));
    planar_bytes_ = channels_last ? 0 : xq_bytes_;
    correction_bytes_ = channels_last ? align_up(sizeof(float) * static_cast<size_t>(c.in_c + c.out_c)) : 0;
    const GemmS8Variant* variant = packed_.front().variant;
    // One run of kw * in_c bytes per kernel row; a run that is not a whole number of kr-byte groups is read
    // as the next whole number, the extra bytes (the next pixel's first channels) meeting zero weights. Worth
    // it while that adds at most half the MACs: a 7x7 stem over RGB reads 24 bytes per kernel row for 21
    // (+14 % MACs), where the im2col of its 21-byte runs cost about as much as the GEMM.
    const int64_t run = c.kw * c.in_c, kr = variant->kr;
    const int64_t segment = (run + kr - 1) / kr * kr;
    // The padded extent covers every window (ONNX's output size keeps them inside the pads).
    const int64_t padded_h = std::max(c.ih + c.ph + c.pe_h, (c.oh - 1) * c.sh + (c.kh - 1) * c.dh + 1);
    const int64_t padded_w = std::max(c.iw + c.pw + c.pe_w, (c.ow - 1) * c.sw + c.kw);
    // A kernel row's rounded-up run must not reach into the next kernel row's (the GEMM refuses overlapping
    // runs): possible only when the padded image is about one window wide.
    implicit_ = channels_last && !c.pointwise() && c.group == 1 && c.dw == 1 && variant->implicit_rows &&
                2 * (segment - run) <= run && (c.kh == 1 || segment <= c.dh * padded_w * c.in_c);
    // Tiles stop at each output row's end: on narrow images with wide reductions (ResNet's 7x7 / 14x14
    // stages) the extra partial tiles re-read more weight bytes than the im2col copy they save.
    const int64_t mr = std::max(variant->mr, 1);
    const int64_t extra_tiles = c.oh * ((c.ow + mr - 1) / mr) - (c.out_plane() + mr - 1) / mr;
    if (extra_tiles * c.kh * segment * mg > 2 * c.out_plane() * kg) implicit_ = false;
    if (implicit_) {
      padded_h_ = padded_h;
      padded_w_ = padded_w;
      // The last window's padded run may read past the last row: those bytes exist, at the zero point.
      run_padding_ = segment - run;
      xq_bytes_ = align_up(static_cast<size_t>(padded_h_ * padded_w_ * c.in_c + run_padding_));
      col_bytes_ = 0;
      if (run_padding_ != 0) {  // repacked (group 1, so q and b still hold its weights) with zeros after each run
        std::vector<int8_t> padded(static_cast<size_t>(mg * c.kh * segment), 0);
        for (int64_t o = 0; o < mg; ++o)
          for (int64_t r = 0; r < c.kh; ++r)
            std::memcpy(&padded[static_cast<size_t>((o * c.kh + r) * segment)], &q[static_cast<size_t>(o * kg + r * run)],
                        static_cast<size_t>(run));
        packed_.front() = pack(padded.data(), c.kh * segment, 0, variant);
      }
    }
    levels_bytes_ = output.enabled && !output.levels ? align_up(static_cast<size_t>(c.out_plane() * mg)) : 0;
    // A QDQ conv with its output quantization fused: ORT's output stage on the GEMM's int32 sums (see
    // conv_requantization.h), when its bias and activation allow it.
    if (channels_last && weight_error_.empty())
      requantization_ = conv_detail::conv_requantization(c.out_c, weights.scales.data(), bias, quantization, output, act);
    if (requantization_) levels_bytes_ = 0;  // levels go straight to y (or nowhere): no fake-quantization bytes
    // Level input: the padded copy (implicit) or nothing (the GEMM and im2col read x).
    if (quantization.levels && !implicit_) xq_bytes_ = 0;
  }
  size_t scratch_bytes() const override {
    return planar_bytes_ + xq_bytes_ + col_bytes_ + out_bytes_ + correction_bytes_ + levels_bytes_;
  }
  size_t weight_bytes() const override {
    size_t total = 0;
    for (const auto& p : packed_) total += p.bytes();
    return total;
  }
  const char* kernel_name() const override { return packed_.front().variant->name; }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(!quantization_.levels && !output_.levels, kBad, "Conv: this convolution reads or writes uint8 levels (run_quantized)");
    run_quantized(x, y, scratch, pool);
  }

  void run_quantized(const void* x_any, void* y_any, void* scratch, ThreadPool* pool) const override {
    require(x_any != nullptr && y_any != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    // x: floats, or (quantization_.levels) the uint8 levels themselves; y: floats, or (output_.levels) levels.
    const auto* x = static_cast<const float*>(x_any);
    const auto* x_levels = static_cast<const uint8_t*>(x_any);
    auto* y = static_cast<float*>(y_any);
    auto* y_levels = static_cast<uint8_t*>(y_any);
    auto* base = static_cast<uint8_t*>(scratch);
    uint8_t* planar = base;               // [C][H*W] uint8 (NCHW input only)
    uint8_t* xq = base + planar_bytes_;   // [H*W][C] uint8, or the padded copy (implicit)
    uint8_t* col = xq + xq_bytes_;        // [out positions][k_g]
    float* out = reinterpret_cast<float*>(col + col_bytes_);  // [out positions][out_c_g] (NCHW, level output)
    float* means = reinterpret_cast<float*>(col + col_bytes_ + out_bytes_);  // channels last: [in_c]
    float* correction = means + c.in_c;                                         // channels last: [out_c]
    uint8_t* levels = reinterpret_cast<uint8_t*>(col + col_bytes_ + out_bytes_ + correction_bytes_);  // [out positions][out_c]
    const QuantParams qp = quantization_.levels
                               ? QuantParams{quantization_.scale, quantization_.zero_point}
                               : activation_params_u8(helper_, quantization_, x, 1, c.batch * c.in_c * c.in_plane(), 0);
    if (!qp.finite) {  // NaN / inf in the input: no INT8 result, every output NaN (NCHW or NHWC alike)
      if (output_.levels) std::fill_n(y_levels, c.batch * c.out_c * c.out_plane(), static_cast<uint8_t>(output_.zero_point));
      else std::fill_n(y, c.batch * c.out_c * c.out_plane(), std::numeric_limits<float>::quiet_NaN());
      return;
    }
    const uint8_t zp = static_cast<uint8_t>(qp.zero_point);
    const int64_t plane = c.in_plane(), kg = c.k_g(), mg = c.out_c_g, op = c.out_plane();
    for (int64_t b = 0; b < c.batch; ++b) {
      // The NHWC bytes the GEMM reads: quantized into xq (or its padded form), or the input's own levels.
      const uint8_t* xb = xq;
      QuantizeArgs q;
      q.x = x + b * c.in_c * plane;
      q.y = channels_last_ ? xq : planar;
      q.y_signed = false;
      q.inner = c.in_c * plane;
      q.scales = &qp.scale;
      q.zero_points = &qp.zero_point;
      if (quantization_.levels) {
        xb = x_levels + b * c.in_c * plane;
        if (implicit_) {
          pad_levels(xb, xq, zp);
          xb = xq;
        }
      } else if (implicit_) {
        quantize_padded(q, xq, zp);
      } else {
        kernels().quantize->quantize(q);
      }
      if (!channels_last_) transpose_u8(planar, xq, c.in_c, plane);
      const bool corrected = channels_last_ && !weight_error_.empty();
      if (corrected) bias_correction(q.x, means, correction);
      for (int64_t g = 0; g < c.group; ++g) {
        float* yg = y + (b * c.out_c + g * mg) * op;
        float* y_nhwc = y + b * op * c.out_c;
        // `base`: the first row of the calling chunk; im2col blocks of one chunk reuse the bytes at its base, so
        // a blocked im2col touches one block per thread, not the whole col buffer (cold cache lines cost a
        // memory read each when another model ran in between).
        auto block = [&](int64_t p0, int64_t p1, int64_t base) {
          GemmS8Args args;
          args.m = p1 - p0;
          if (c.pointwise()) {
            args.a = xb + p0 * c.in_c + g * c.in_c_g;
            args.lda = c.in_c;
          } else if (implicit_) {
            // Whole output rows: row r's pixels start at padded row r * sh, sw * in_c bytes apart.
            const int64_t row_bytes = padded_w_ * c.in_c;
            args.a = xb + (p0 / c.ow) * c.sh * row_bytes;
            args.lda = c.sw * c.in_c;
            args.row_group = c.ow;
            args.group_stride = c.sh * row_bytes;
            args.segments = c.kh;
            args.segment_stride = c.dh * row_bytes;
          } else {
            uint8_t* col_rows = col + base * kg;
            im2col_rows(xb, col_rows, g, p0, p1, zp);
            args.a = col_rows;
            args.lda = kg;
          }
          args.a_signed = false;
          args.a_zero_point = qp.zero_point;
          args.w = &packed_[static_cast<size_t>(g)];
          // Channels last: straight into y, or into the chunk's block of `out` when y takes the levels.
          float* rows = output_.levels ? out + base * mg : y_nhwc + p0 * mg;
          args.c_f32 = channels_last_ ? rows : out + p0 * mg;
          args.ldc = mg;
          args.a_scale = qp.scale;
          if (requantization_) {
            // int32 sums into the rows' own bytes, then levels (and their dequantized values in place).
            auto* sums = reinterpret_cast<int32_t*>(rows);
            args.c_f32 = nullptr;
            args.c_i32 = sums;
            gemm_s8(args);
            RequantizeArgs r;
            r.acc_i32 = sums;
            r.rows = p1 - p0;
            r.channels = mg;
            r.bias = requantization_->bias.data();
            r.multipliers = requantization_->multipliers.data();
            r.zero_point = output_.zero_point;
            if (output_.levels) {
              r.levels = y_levels + b * op * c.out_c + p0 * mg;
            } else {
              r.y = rows;
              r.y_scale = output_.scale;
            }
            kernels().quantize->requantize(r);
            return;
          }
          // Channels last: the GEMM's epilogue applies the activation when it has it and no correction is
          // due (a QDQ model's ReLU convs), sparing a second pass over the output; else rows_epilogue does.
          const bool fused_here = channels_last_ && !corrected && (act_.kind == FusedActivation::kNone || s8_act_ != Activation::kNone);
          args.activation = channels_last_ && !fused_here ? Activation::kNone : s8_act_;
          gemm_s8(args);
          if (channels_last_) {
            if (!fused_here)
              helper_->rows_epilogue(rows, p1 - p0, mg, corrected ? correction : nullptr, act_.kind, act_.alpha, act_.beta,
                                     act_.out_min);
            if (output_.levels) quantize_output(rows, y_levels + b * op * c.out_c + p0 * mg, (p1 - p0) * mg);
            else if (output_.enabled) fake_quantize(rows, levels + p0 * mg, (p1 - p0) * mg);
            return;
          }
          // [p][oc] -> y[oc][p], then the activation gemm_s8 did not fuse.
          for (int64_t o = 0; o < mg; ++o) {
            float* yo = yg + o * op;
            for (int64_t p = p0; p < p1; ++p) yo[p] = out[p * mg + o];
            if (s8_act_ == Activation::kNone && act_.kind != FusedActivation::kNone)
              helper_->activate(yo + p0, p1 - p0, act_.kind, act_.alpha, act_.beta);
          }
        };
        // A large im2col (a 7x7 stem or a 56x56x64 3x3 conv: ~1.8 MB) alternates with the GEMM over blocks of
        // ~128 KB of rows, so a block's bytes are still in L2 when the GEMM reads them. Small ones stay whole:
        // blocks would make the GEMM stream its weights once per block.
        // Level output: blocks of ~128 KB of floats (whole output rows when implicit) between the GEMM and
        // the quantization, likewise reused per chunk.
        const bool blocked = !c.pointwise() && !implicit_ && op * kg > (int64_t{512} << 10);
        int64_t rows_per_block = blocked ? std::max<int64_t>(48, (int64_t{128} << 10) / kg / 48 * 48) : op;
        if (output_.levels) {
          const int64_t unit_rows = implicit_ ? c.ow : 48;
          rows_per_block = std::min(rows_per_block, std::max<int64_t>(1, (int64_t{32} << 10) / mg / unit_rows) * unit_rows);
        }
        auto chunk = [&](int64_t p0, int64_t p1) {
          for (int64_t b0 = p0; b0 < p1; b0 += rows_per_block) block(b0, std::min(p1, b0 + rows_per_block), p0);
        };
        const int64_t macs = op * kg * mg;
        // Implicit rows split by whole output rows (a row group never straddles two threads).
        const int64_t units = implicit_ ? c.oh : op, unit = implicit_ ? c.ow : 1;
        const int64_t t = (pool != nullptr && pool->threads() > 1 && macs >= 4 * kParallelMacs)
                              ? std::min<int64_t>(pool->threads(), implicit_ ? units : (op + 15) / 16)
                              : 1;
        if (t <= 1) {
          chunk(0, op);
        } else {
          pool->parallel_for(t, 1, [&](int64_t begin, int64_t end) {
            for (int64_t s = begin; s < end; ++s) {
              const int64_t p0 = units * s / t * unit, p1 = units * (s + 1) / t * unit;
              if (p1 > p0) chunk(p0, p1);
            }
          });
        }
      }
    }
  }

 private:
  // The [padded_h][padded_w][in_c] copy xp, its border at the zero point: write_row(h, dst) fills input row
  // h's iw * in_c bytes.
  template <typename WriteRow>
  void to_padded(uint8_t* xp, uint8_t zp, const WriteRow& write_row) const {
    const Conv2d& c = c_;
    const int64_t row_bytes = padded_w_ * c.in_c, left = c.pw * c.in_c, width = c.iw * c.in_c;
    std::memset(xp, zp, static_cast<size_t>(c.ph * row_bytes));
    for (int64_t h = 0; h < c.ih; ++h) {
      uint8_t* d = xp + (c.ph + h) * row_bytes;
      std::memset(d, zp, static_cast<size_t>(left));
      write_row(h, d + left);
      std::memset(d + left + width, zp, static_cast<size_t>(row_bytes - left - width));
    }
    std::memset(xp + (c.ph + c.ih) * row_bytes, zp, static_cast<size_t>((padded_h_ - c.ph - c.ih) * row_bytes + run_padding_));
  }

  // The image q.x quantized into the padded copy.
  void quantize_padded(const QuantizeArgs& q, uint8_t* xp, uint8_t zp) const {
    const int64_t width = c_.iw * c_.in_c;
    to_padded(xp, zp, [&](int64_t h, uint8_t* d) {
      QuantizeArgs row = q;
      row.x = q.x + h * width;
      row.y = d;
      row.inner = width;
      kernels().quantize->quantize(row);
    });
  }

  // Level input (already uint8, NHWC) copied into the padded copy.
  void pad_levels(const uint8_t* x, uint8_t* xp, uint8_t zp) const {
    const int64_t width = c_.iw * c_.in_c;
    to_padded(xp, zp, [&](int64_t h, uint8_t* d) { std::memcpy(d, x + h * width, static_cast<size_t>(width)); });
  }

  // correction[o] = -sum_c weight_error[o][c] * mean over the image of x[., c] (x is [H*W][C]): added to y.
  void bias_correction(const float* x, float* means, float* correction) const {
    const Conv2d& c = c_;
    const int64_t plane = c.in_plane();
    for (int64_t ch = 0; ch < c.in_c; ++ch) means[ch] = 0.0f;
    helper_->column_sums(x, plane, c.in_c, means);
    const float inv = 1.0f / static_cast<float>(plane);
    for (int64_t o = 0; o < c.out_c; ++o) {
      const float* e = weight_error_.data() + o * c.in_c;
      float sum = 0.0f;
      for (int64_t ch = 0; ch < c.in_c; ++ch) sum += e[ch] * means[ch];
      correction[o] = -sum * inv;
    }
  }

  // The output's QuantizeLinear alone (level output): n floats -> n uint8 levels.
  void quantize_output(const float* y, uint8_t* levels, int64_t n) const {
    QuantizeArgs q;
    q.x = y;
    q.y = levels;
    q.y_signed = false;
    q.inner = n;
    q.scales = &output_.scale;
    q.zero_points = &output_.zero_point;
    kernels().quantize->quantize(q);
  }

  // The fused output QuantizeLinear -> DequantizeLinear over n floats, through `levels` (n bytes): the
  // quantize variant's two functions, so the values are those of the QuantizeDequantize step it replaces.
  void fake_quantize(float* y, uint8_t* levels, int64_t n) const {
    QuantizeArgs q;
    q.x = y;
    q.y = levels;
    q.y_signed = output_.is_signed;
    q.inner = n;
    q.scales = &output_.scale;
    q.zero_points = &output_.zero_point;
    kernels().quantize->quantize(q);
    DequantizeArgs d;
    d.q = levels;
    d.q_signed = output_.is_signed;
    d.x = y;
    d.inner = n;
    d.scales = &output_.scale;
    d.zero_points = &output_.zero_point;
    kernels().quantize->dequantize(d);
  }

  static void transpose_u8(const uint8_t* src, uint8_t* dst, int64_t channels, int64_t plane) {
    constexpr int64_t kBlock = 64;
    for (int64_t p0 = 0; p0 < plane; p0 += kBlock) {
      const int64_t p1 = std::min(plane, p0 + kBlock);
      for (int64_t ch = 0; ch < channels; ++ch) {
        const uint8_t* s = src + ch * plane;
        for (int64_t p = p0; p < p1; ++p) dst[p * channels + ch] = s[p];
      }
    }
  }

  // Copies n bytes. Runs of a stem's kernel row are a few dozen bytes (7 taps x 3 channels = 21), where a
  // libc memcpy call costs more than the copy: up to 64 bytes go as two overlapping fixed-size copies (one
  // unaligned load / store each), never touching a byte outside [d, d + n) or [s, s + n).
  static void copy_run(uint8_t* d, const uint8_t* s, int64_t n) {
    const auto two = [&](auto width) {
      constexpr int64_t w = decltype(width)::value;
      std::memcpy(d, s, w);
      std::memcpy(d + n - w, s + n - w, w);
    };
    if (n > 64) std::memcpy(d, s, static_cast<size_t>(n));
    else if (n >= 32) two(std::integral_constant<int64_t, 32>{});
    else if (n >= 16) two(std::integral_constant<int64_t, 16>{});
    else if (n >= 8) two(std::integral_constant<int64_t, 8>{});
    else if (n >= 4) two(std::integral_constant<int64_t, 4>{});
    else
      for (int64_t i = 0; i < n; ++i) d[i] = s[i];
  }

  // Rows [p0, p1) of the NHWC im2col for group g into col (row p at col + (p - p0) * k_g): for (kh, kw, c),
  // xq[ih][iw][g * in_c_g + c].
  // With one group and unit dilation along w, a kernel row's taps inside the input are one contiguous run of
  // NHWC bytes: one copy per kernel row instead of one per tap (a 7x7 stem over 3 channels: 7 copies of 21
  // bytes per output pixel instead of 49 of 3).
  void im2col_rows(const uint8_t* xq, uint8_t* col, int64_t g, int64_t p0, int64_t p1, uint8_t zp) const {
    const Conv2d& c = c_;
    const int64_t kg = c.k_g(), cg = c.in_c_g;
    const bool runs = c.group == 1 && c.dw == 1;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t oh = p / c.ow, ow = p % c.ow;
      uint8_t* row = col + (p - p0) * kg;
      for (int64_t kh = 0; kh < c.kh; ++kh) {
        const int64_t ih = oh * c.sh - c.ph + kh * c.dh;
        if (runs) {
          uint8_t* d = row + kh * c.kw * cg;
          const int64_t iw0 = ow * c.sw - c.pw;  // input column of kernel column 0
          const int64_t first = ih < 0 || ih >= c.ih ? c.kw : std::clamp<int64_t>(-iw0, 0, c.kw);
          const int64_t last = ih < 0 || ih >= c.ih ? c.kw : std::clamp<int64_t>(c.iw - iw0, first, c.kw);
          if (first > 0) std::memset(d, zp, static_cast<size_t>(first * cg));
          if (last > first) copy_run(d + first * cg, xq + (ih * c.iw + iw0 + first) * cg, (last - first) * cg);
          if (last < c.kw) std::memset(d + last * cg, zp, static_cast<size_t>((c.kw - last) * cg));
          continue;
        }
        for (int64_t kw = 0; kw < c.kw; ++kw) {
          const int64_t iw = ow * c.sw - c.pw + kw * c.dw;
          uint8_t* d = row + (kh * c.kw + kw) * cg;
          if (ih < 0 || ih >= c.ih || iw < 0 || iw >= c.iw)
            std::memset(d, zp, static_cast<size_t>(cg));
          else
            copy_run(d, xq + (ih * c.iw + iw) * c.in_c + g * cg, cg);
        }
      }
    }
  }

  Conv2d c_;
  const GemmF32Variant* helper_;
  ActivationParams act_;
  Activation s8_act_;
  bool channels_last_;
  bool implicit_ = false;  // implicit GEMM over the padded copy (no im2col)
  int64_t padded_h_ = 0, padded_w_ = 0;
  int64_t run_padding_ = 0;  // implicit: bytes each kernel row's run is read beyond kw * in_c (zero weights)
  ActivationQuantization quantization_;
  OutputQuantization output_;
  std::optional<conv_detail::ConvRequantization> requantization_;  // ORT's output stage (fused uint8 output)
  std::vector<float> weight_error_;  // channels last: [out_c][in_c]
  std::vector<PackedWeightsS8> packed_;
  size_t xq_bytes_, col_bytes_, out_bytes_, planar_bytes_, correction_bytes_, levels_bytes_;
};

}  // namespace

namespace {

// The float convolution for a shape; half: weights kept as IEEE halves (depthwise weights stay float).
std::unique_ptr<ConvF32> create_float(const ConvShape& shape, const float* w, const float* bias, ActivationParams act,
                                      bool half) {
  const Conv2d c = conv_detail::normalize(shape, "Conv");
  check_weights(c, w, bias, act);
  if (shape.channels_last) {
    // Depthwise weights are small: float even with half.
    if (depthwise_channels_last(c)) return conv_detail::create_conv_depthwise_nhwc_f32(c, w, bias, act);
    return conv_detail::create_conv_nhwc_f32(c, w, bias, act, half);
  }
  require(!(act.out_min > -INFINITY), kBad, "Conv: out_min is for channels-last convolutions");
  if (c.in_c_g == 1 && c.group > 1) return conv_detail::create_conv_depthwise_f32(c, w, bias, act);
  // Few channels per group: direct (weights stay float with half too: they are small).
  if (conv_detail::grouped_direct_f32_fits(c)) return conv_detail::create_conv_grouped_f32(c, w, bias, act);
  return std::make_unique<ConvGemmF32>(c, w, bias, act, half);
}

}  // namespace

namespace conv_detail {

std::unique_ptr<ConvF32> create_conv_gemm_f32(const Conv2d& c, const float* w, const float* bias, ActivationParams act) {
  return std::make_unique<ConvGemmF32>(c, w, bias, act, false);
}

}  // namespace conv_detail

std::unique_ptr<ConvF32> ConvF32::create(const ConvShape& shape, const float* w, const float* bias,
                                         ActivationParams act) {
  return create_float(shape, w, bias, act, false);
}

std::unique_ptr<ConvF32> ConvF32::create_f16(const ConvShape& shape, const float* w, const float* bias,
                                             ActivationParams act) {
  return create_float(shape, w, bias, act, true);
}

std::unique_ptr<ConvF32> ConvF32::create_int8(const ConvShape& shape, const float* w, const float* bias,
                                              ActivationParams act) {
  const Conv2d c = conv_detail::normalize(shape, "Conv");
  check_weights(c, w, bias, act);
  if (shape.channels_last) {
    // Depthwise convs are memory bound: float.
    if (depthwise_channels_last(c)) return conv_detail::create_conv_depthwise_nhwc_f32(c, w, bias, act);
    // Tiny reductions or few output channels stay float: quantizing, the byte im2col and a half-empty
    // 48-column INT8 panel cost more than the INT8 GEMM saves (embedding_model: 24->24 convs 77 us INT8
    // vs 67 us float).
    if (c.k_g() < kMinInt8Reduction || c.out_c < kMinInt8OutChannels) return conv_detail::create_conv_nhwc_f32(c, w, bias, act, false);
    return std::make_unique<ConvS8>(c, quantize_weights(c, w, true), bias, act, true, ActivationQuantization{});
  }
  require(!(act.out_min > -INFINITY), kBad, "Conv: out_min is for channels-last convolutions");
  if (c.in_c_g == 1 && c.group > 1) return conv_detail::create_conv_depthwise_f32(c, w, bias, act);
  // Tiny reductions or few output channels: quantizing, the byte im2col and the transpose cost more than the
  // INT8 GEMM saves (bench_conv: 1->24 3x3 and 24->24 3x1 are faster in float), so those stay float.
  if (c.k_g() < 64 || c.out_c_g < 32) {
    if (conv_detail::grouped_direct_f32_fits(c)) return conv_detail::create_conv_grouped_f32(c, w, bias, act);
    return std::make_unique<ConvGemmF32>(c, w, bias, act, false);
  }
  return std::make_unique<ConvS8>(c, quantize_weights(c, w, false), bias, act, false, ActivationQuantization{});
}

std::unique_ptr<ConvF32> ConvF32::create_quantized(const ConvShape& shape, const QuantizedWeightsS8& w, const float* bias,
                                                   ActivationQuantization quantization, ActivationParams act,
                                                   OutputQuantization output) {
  const Conv2d c = conv_detail::normalize(shape, "Conv");
  require(w.data != nullptr && w.scales != nullptr, kBad, "Conv: weights are null");
  require(w.scale_count == 1 || w.scale_count == c.out_c, kBad, "Conv: weight scales must be one or one per output channel");
  require(!shape.channels_last || c.group == 1 || depthwise_channels_last(c), kBad,
          "Conv: channels-last quantized (QDQ) convolutions take group 1, or one channel per group");
  require(static_cast<uint8_t>(act.kind) <= static_cast<uint8_t>(kLastFusedActivation), kBad,
          "Conv: unknown fused activation");
  require(!(act.out_min > -INFINITY), kBad, "Conv: out_min is for channels-last convolutions");
  const bool depthwise = c.in_c_g == 1 && c.group > 1;
  check_quantization(quantization, "Conv", shape.channels_last);
  require(!output.levels || (output.enabled && !output.is_signed), kBad, "Conv: level output needs uint8 output quantization");
  if (output.enabled) {
    require(shape.channels_last, kBad, "Conv: output quantization is for channels-last convolutions");
    require(std::isfinite(output.scale) && output.scale > 0.0f, kBad, "Conv: the output scale must be finite and positive");
    require(output.is_signed ? output.zero_point >= -128 && output.zero_point <= 127 : output.zero_point >= 0 && output.zero_point <= 255,
            kBad, "Conv: the output zero point is not a level of its type");
  }
  ConvWeightsS8 weights;
  weights.q.assign(w.data, w.data + c.out_c * c.k_g());
  weights.scales.resize(static_cast<size_t>(c.out_c));
  for (int64_t oc = 0; oc < c.out_c; ++oc) weights.scales[static_cast<size_t>(oc)] = w.scales[w.scale_count == 1 ? 0 : oc];
  if (shape.channels_last && depthwise)
    return conv_detail::create_conv_depthwise_nhwc_s8(c, weights.q.data(), weights.scales.data(), bias, act, quantization,
                                                      output);
  // Depthwise: a direct kernel with the same numerics (one gemm_s8 call per channel was mostly overhead).
  if (depthwise)
    return conv_detail::create_conv_depthwise_s8(c, weights.q.data(), weights.scales.data(), bias, act, quantization);
  return std::make_unique<ConvS8>(c, weights, bias, act, shape.channels_last, quantization, output);
}

}  // namespace edgeinfer
