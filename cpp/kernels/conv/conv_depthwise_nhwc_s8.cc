// Channels-last (NHWC / NWC) QDQ depthwise convolution, multiplier 1, on the channels-last depthwise kernel
// (conv_depthwise_nhwc_f32.cc, FMAs over float vectors: a depthwise conv is memory bound).
// With ORT's output stage (conv_requantization.h: a fused uint8 output quantization, a dequantized int32 bias)
// the kernel reads the input's uint8 levels as level - zero point (or the levels themselves, the zero point's
// share folded into the bias), int8 weights and the bias b as floats: every product is below 2^15 and the
// checked bound keeps every partial sum below 2^24, so the sums are exact in any order, and its epilogue
// requantizes them into ORT's levels. Otherwise the QDQ graph's floats: the input
// fake-quantized, weights w * w_scale, the model's bias and activation, then the fused output quantization.
// Input and output may be uint8 levels (passes/byte-activations.ts).
#include <memory>
#include <optional>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_requantization.h"

namespace edgeinfer::conv_detail {

namespace {

constexpr ErrorCode kBad = ErrorCode::kInvalidArgument;

class ConvDepthwiseNhwcS8 final : public ConvF32 {
 public:
  ConvDepthwiseNhwcS8(const Conv2d& c, const int8_t* w, const float* w_scales, const float* bias, ActivationParams act,
                      ActivationQuantization input, OutputQuantization output)
      : c_(c), input_(input), output_(output) {
    require(c.in_c_g == 1 && c.out_c_g == 1, kBad, "Conv: channels-last depthwise convolutions take one channel per group");
    require(!input.dynamic, kBad, "Conv: a channels-last INT8 depthwise convolution needs a static activation scale");
    const int64_t taps = c.kh * c.kw;
    // Partial sums: the bias, the zero point's share folded into it for interior pixels (zp * sum |w|), and
    // the levels' products (255 * sum |w|): below |b| + 2 * taps * 255 * 128.
    requantization_ = conv_requantization(c.out_c, w_scales, bias, input, output, act, 2 * taps * 255 * 128);
    std::vector<float> wf(static_cast<size_t>(c.out_c * taps)), bf(static_cast<size_t>(c.out_c));
    for (int64_t oc = 0; oc < c.out_c; ++oc) {
      const float scale = requantization_ ? 1.0f : w_scales[oc];
      for (int64_t t = 0; t < taps; ++t) wf[static_cast<size_t>(oc * taps + t)] = static_cast<float>(w[oc * taps + t]) * scale;
      bf[static_cast<size_t>(oc)] = requantization_ ? static_cast<float>(requantization_->bias[static_cast<size_t>(oc)])
                                                    : (bias != nullptr ? bias[oc] : 0.0f);
    }
    const auto in = static_cast<size_t>(c.batch * c.in_plane() * c.in_c);
    const auto out = static_cast<size_t>(c.batch * c.out_plane() * c.out_c);
    if (requantization_) {
      inner_ = create_conv_depthwise_nhwc_levels(c, wf.data(), bf.data(), input.zero_point,
                                                 requantization_->multipliers.data(), output.zero_point, output.scale,
                                                 output.levels);
    } else {
      inner_ = create_conv_depthwise_nhwc_f32(c, wf.data(), bf.data(), act);
      input_floats_bytes_ = align_up(sizeof(float) * in);
      output_floats_bytes_ = output.levels ? align_up(sizeof(float) * out) : 0;
      output_levels_bytes_ = output.enabled && !output.levels ? align_up(out) : 0;
    }
    inner_bytes_ = align_up(inner_->scratch_bytes());
    input_levels_bytes_ = input.levels ? 0 : align_up(in);
  }

  size_t scratch_bytes() const override {
    return inner_bytes_ + input_levels_bytes_ + input_floats_bytes_ + output_floats_bytes_ + output_levels_bytes_;
  }
  size_t weight_bytes() const override { return inner_->weight_bytes(); }
  const char* kernel_name() const override { return inner_->kernel_name(); }

  void run(const float* x, float* y, void* scratch, ThreadPool* pool) const override {
    require(!input_.levels && !output_.levels, kBad, "Conv: this convolution reads or writes uint8 levels (run_quantized)");
    run_quantized(x, y, scratch, pool);
  }

  void run_quantized(const void* x_any, void* y_any, void* scratch, ThreadPool* pool) const override {
    require(x_any != nullptr && y_any != nullptr && scratch != nullptr, kBad, "Conv: null buffer");
    const Conv2d& c = c_;
    auto* base = static_cast<uint8_t*>(scratch);
    void* inner_scratch = base;
    auto* input_levels = base + inner_bytes_;
    auto* input_floats = reinterpret_cast<float*>(input_levels + input_levels_bytes_);
    auto* output_floats = reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(input_floats) + input_floats_bytes_);
    auto* output_levels = reinterpret_cast<uint8_t*>(output_floats) + output_floats_bytes_;
    const int64_t in = c.batch * c.in_plane() * c.in_c, out = c.batch * c.out_plane() * c.out_c;

    // The input's levels (NaN -> the zero point, as the QuantizeLinear it replaces).
    const auto* levels = static_cast<const uint8_t*>(x_any);
    if (!input_.levels) {
      quantize(static_cast<const float*>(x_any), input_levels, in, input_.scale, input_.zero_point, false);
      levels = input_levels;
    }
    if (requantization_) {  // requantized in the kernel's epilogue, into floats or levels
      inner_->run_quantized(levels, y_any, inner_scratch, pool);
      return;
    }
    // The QDQ graph's floats: the dequantized input, the float conv, the fused output quantization.
    float* result = output_.levels ? output_floats : static_cast<float*>(y_any);
    dequantize(levels, input_floats, in, input_.scale, input_.zero_point, false);
    inner_->run(input_floats, result, inner_scratch, pool);
    if (!output_.enabled) return;
    uint8_t* out_levels = output_.levels ? static_cast<uint8_t*>(y_any) : output_levels;
    quantize(result, out_levels, out, output_.scale, output_.zero_point, output_.is_signed);
    if (!output_.levels) dequantize(out_levels, result, out, output_.scale, output_.zero_point, output_.is_signed);
  }

 private:
  // n values per tensor through the table's quantize / dequantize.
  static void quantize(const float* x, uint8_t* y, int64_t n, float scale, int32_t zero_point, bool is_signed) {
    QuantizeArgs a;
    a.x = x;
    a.y = y;
    a.y_signed = is_signed;
    a.inner = n;
    a.scales = &scale;
    a.zero_points = &zero_point;
    kernels().quantize->quantize(a);
  }
  static void dequantize(const uint8_t* q, float* x, int64_t n, float scale, int32_t zero_point, bool is_signed) {
    DequantizeArgs a;
    a.q = q;
    a.q_signed = is_signed;
    a.x = x;
    a.inner = n;
    a.scales = &scale;
    a.zero_points = &zero_point;
    kernels().quantize->dequantize(a);
  }

  Conv2d c_;
  ActivationQuantization input_;
  OutputQuantization output_;
  std::optional<ConvRequantization> requantization_;
  std::unique_ptr<ConvF32> inner_;
  size_t inner_bytes_ = 0, input_levels_bytes_ = 0, input_floats_bytes_ = 0, output_floats_bytes_ = 0,
         output_levels_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ConvF32> create_conv_depthwise_nhwc_s8(const Conv2d& c, const int8_t* w, const float* w_scales,
                                                       const float* bias, ActivationParams act,
                                                       ActivationQuantization input, OutputQuantization output) {
  return std::make_unique<ConvDepthwiseNhwcS8>(c, w, w_scales, bias, act, input, output);
}

}  // namespace edgeinfer::conv_detail
