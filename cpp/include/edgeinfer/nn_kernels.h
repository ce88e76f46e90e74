// Float32 GEMM / Conv / pooling kernels and their INT8 (dynamic activation quantization) forms, used by the
// runtime's executor. Weights are prepared once at model creation (packing, quantization); run() touches
// only the caller's buffers and a scratch area the caller sizes with scratch_bytes() (from the arena), so
// an inference allocates nothing. Every kernel has a reference and SIMD variants chosen by the kernel table
// (EDGEINFER_ISA caps them, as for the other kernels).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "edgeinfer/plan.h"

namespace edgeinfer {

class ThreadPool;  // cpp/runtime/thread_pool.h; null means run on the calling thread

struct ActivationParams {
  FusedActivation kind = FusedActivation::kNone;
  float alpha = 0.01f;  // LeakyRelu slope / Clip min
  float beta = 0.0f;    // Clip max
  // Channels-last convs only: y = max(act(...), out_min), a Max with a constant folded into the conv.
  float out_min = -INFINITY;
};

// INT8 weights the model already quantized (QDQ models): symmetric int8 (zero point 0) with one scale or one
// per output channel.
struct QuantizedWeightsS8 {
  const int8_t* data = nullptr;
  const float* scales = nullptr;
  int64_t scale_count = 0;  // 1, or the number of output channels
};

// How an INT8 path turns its float activations into uint8: per tensor per call from their min / max
// (dynamic), or with the model's fixed scale and zero point (static QDQ: no min / max pass). Dynamic: when
// the activations hold NaN or +-inf (or |x| > FLT_MAX / 512) the whole output of the call is NaN.
struct ActivationQuantization {
  bool dynamic = true;
  // Dynamic only: DynamicQuantizeLinear's parameters (scale = range / 255, zero point rounded half to even)
  // instead of ours (which widen the scale so the minimum lands exactly on level 0), so the integer sums equal
  // those of an ONNX quantize_dynamic graph.
  bool onnx_range = false;
  float scale = 1.0f;      // static only: finite, > 0
  int32_t zero_point = 0;  // static only: a uint8 level (an int8 zero point z is z + 128 on uint8 data)
  // Static, channels-last convs only: x arrives as its uint8 levels (an INT8 conv's output quantized with
  // these parameters) instead of floats, so nothing is quantized.
  bool levels = false;
};

// Fake quantization of an op's float output, per tensor (a QDQ model's QuantizeLinear -> DequantizeLinear
// fused into the op): y = (saturate(round_half_even(y / scale) + zero_point) - zero_point) * scale on uint8
// (or int8: is_signed) levels, computed by the quantize variant's own quantize / dequantize.
struct OutputQuantization {
  bool enabled = false;
  float scale = 1.0f;      // finite, > 0
  int32_t zero_point = 0;  // a level of the type: 0..255, or -128..127 when is_signed
  bool is_signed = false;
  // Write the uint8 levels themselves (unsigned only), for a reader that would quantize the values again.
  bool levels = false;
};

// y[m, n] = act(alpha * sum_k a[m, k] * w[k, n] + beta * bias[n]); `bias` may be absent.
class GemmF32 {
 public:
  virtual ~GemmF32() = default;
  // w is [k, n] row-major (trans_b = false) or [n, k] (trans_b = true); bias has n values or is null.
  static std::unique_ptr<GemmF32> create(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias,
                                         float alpha, float beta, ActivationParams act);
  // Precision::kInt8: weights quantized per output channel at creation; activations per tensor per run.
  static std::unique_ptr<GemmF32> create_int8(const float* w, int64_t k, int64_t n, bool trans_b,
                                              const float* bias, float alpha, float beta, ActivationParams act);
  // Precision::kFloat16 weight storage: packed weights kept as halves, expanded into scratch per run.
  static std::unique_ptr<GemmF32> create_f16(const float* w, int64_t k, int64_t n, bool trans_b, const float* bias,
                                             float alpha, float beta, ActivationParams act);
  // Weights quantized by the model, w [k, n] (or [n, k] when trans_b) with scales per output column:
  // y = act(dequantize(quantize(a)) * dequantize(w) + bias), the products summed exactly in int32 by gemm_s8.
  static std::unique_ptr<GemmF32> create_quantized(const QuantizedWeightsS8& w, int64_t k, int64_t n, bool trans_b,
                                                   const float* bias, ActivationQuantization quantization,
                                                   ActivationParams act);
  virtual int64_t k() const = 0;
  virtual int64_t n() const = 0;
  virtual size_t scratch_bytes(int64_t m) const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual const char* kernel_name() const = 0;
  // a: [m, k] with row stride lda; y: [m, n] with row stride ldy.
  virtual void run(int64_t m, const float* a, int64_t lda, float* y, int64_t ldy, void* scratch,
                   ThreadPool* pool) const = 0;
};

struct ConvShape {
  int rank = 2;  // spatial rank: 1 or 2 (1-D convs use index 0)
  int64_t batch = 1, in_channels = 0, out_channels = 0, group = 1;
  int64_t in_size[2] = {1, 1}, out_size[2] = {1, 1}, kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1}, pad_begin[2] = {0, 0}, pad_end[2] = {0, 0}, dilation[2] = {1, 1};
  // NHWC (NWC) tensors instead of NCHW: convs with group 1 and max / average pooling.
  bool channels_last = false;
};

// NCHW (NCW) or, with shape.channels_last, NHWC (NWC) convolution with fused bias and activation.
class ConvF32 {
 public:
  virtual ~ConvF32() = default;
  // w: [out_channels, in_channels / group, kernel...]; bias: [out_channels] or null.
  static std::unique_ptr<ConvF32> create(const ConvShape& shape, const float* w, const float* bias, ActivationParams act);
  static std::unique_ptr<ConvF32> create_int8(const ConvShape& shape, const float* w, const float* bias, ActivationParams act);
  // Weights kept as halves (depthwise convs keep float: their weights are tiny).
  static std::unique_ptr<ConvF32> create_f16(const ConvShape& shape, const float* w, const float* bias, ActivationParams act);
  // Weights quantized by the model (int8 [out_channels, in_channels / group, kernel...], scales per output
  // channel), always run in INT8 (any group); NCHW, or NHWC with group 1. `output` (channels last only): the
  // model's QuantizeLinear -> DequantizeLinear after the conv, applied to each block of rows while it is in
  // cache instead of as a pass of its own over the whole output.
  static std::unique_ptr<ConvF32> create_quantized(const ConvShape& shape, const QuantizedWeightsS8& w, const float* bias,
                                                   ActivationQuantization quantization, ActivationParams act,
                                                   OutputQuantization output = {});
  virtual size_t scratch_bytes() const = 0;
  virtual size_t weight_bytes() const = 0;
  virtual const char* kernel_name() const = 0;
  virtual void run(const float* x, float* y, void* scratch, ThreadPool* pool) const = 0;
  // x and y as created: floats, or uint8 levels (ActivationQuantization / OutputQuantization levels).
  virtual void run_quantized(const void* x, void* y, void* scratch, ThreadPool* pool) const {
    run(static_cast<const float*>(x), static_cast<float*>(y), scratch, pool);
  }
};

struct PoolShape : ConvShape {
  bool max = true;                 // MaxPool or AveragePool
  bool count_include_pad = false;  // AveragePool only
};

void pool_f32(const PoolShape& shape, const float* x, float* y);
// Max pooling of uint8 levels, channels last (max_pool_u8.cc).
void max_pool_u8_nhwc(const PoolShape& shape, const uint8_t* x, uint8_t* y);

}  // namespace edgeinfer
