// Kernel interfaces and the dispatch table. Each operation has a list of variants (reference first); the
// table picks, once, the best variant that was compiled in and that the CPU supports, or the one forced by
// EDGEINFER_ISA. Tests and benchmarks iterate the same lists.
#pragma once

#include <cstddef>
#include <cmath>
#include <cstdint>
#include <span>

#include "edgeinfer/isa.h"
#include "edgeinfer/packed_weights.h"
#include "edgeinfer/plan.h"

namespace edgeinfer {

enum class Activation : uint8_t { kNone, kRelu, kGeluErf, kGeluTanh };

// ---------------------------------------------------------------- INT8 GEMM
// C[m, n] = sum_k (A[m, k] - a_zero_point) * W[k, n]          (int32 output)
// Y[m, n] = act(a_scale * w_scale[n] * C[m, n] + bias[n])      (float32 output)
// A is uint8 or int8 (a_signed), row-major with a row stride of lda bytes; W was packed for this variant.
struct GemmS8Args {
  int64_t m = 0;
  const void* a = nullptr;
  int64_t lda = 0;
  bool a_signed = false;
  int32_t a_zero_point = 0;
  const PackedWeightsS8* w = nullptr;
  // Exactly one of c_i32 / c_f32 is set. ldc is in elements.
  int32_t* c_i32 = nullptr;
  float* c_f32 = nullptr;
  int64_t ldc = 0;
  float a_scale = 1.0f;          // float output only
  Activation activation = Activation::kNone;  // float output only
  // Column range to compute, so a thread pool can split N. n_begin is a multiple of the variant's nr.
  int64_t n_begin = 0;
  int64_t n_end = 0;  // 0 means w->n
  // Implicit-GEMM rows (a convolution read straight from a padded NHWC input instead of an im2col copy),
  // for variants with implicit_rows. Rows come in groups of row_group (0: one group of m), group_stride
  // bytes apart, rows lda bytes apart inside a group (lda may be < k: windows overlap). Each row's k values
  // are `segments` runs of k / segments bytes, segment_stride bytes apart (one run per kernel row).
  int64_t row_group = 0;
  int64_t group_stride = 0;
  int64_t segments = 1;
  int64_t segment_stride = 0;
};

struct GemmS8Variant {
  const char* name;  // XNNPACK style: data type, operation, tile, ISA
  Isa isa;
  int nr;  // columns per packed panel
  int kr;  // consecutive k values per column inside a panel
  void (*run)(const GemmS8Args& args);
  // Another tile of the same ISA (another nr). When the caller names no variant, pack_weights_s8 packs for
  // whichever of the two pads n less (e.g. 8 x 48 vs 6 x 64: n = 64 pads to 96 on the first).
  const GemmS8Variant* sibling = nullptr;
  // Reads A through GemmS8Args' row groups and segments (implicit-GEMM convolutions); others need im2col.
  bool implicit_rows = false;
  // Rows of the register tile: a row group that is not a multiple of it ends in a partial tile, which
  // streams the weight panel once more for fewer rows.
  int mr = 1;
};

// ---------------------------------------------------------------- quantize / dequantize
// The tensor is viewed as [outer, channels, inner]; per-tensor parameters mean channels == 1 (with the
// whole tensor in inner). y = saturate(round_half_even(x / scale[c]) + zero_point[c]); NaN maps to the
// zero point. Dequantize: x = (float(q) - float(zero_point[c])) * scale[c].
struct QuantizeArgs {
  const float* x = nullptr;
  void* y = nullptr;  // int8 or uint8
  bool y_signed = true;
  int64_t outer = 1, channels = 1, inner = 0;
  const float* scales = nullptr;       // [channels]
  const int32_t* zero_points = nullptr;  // [channels]
};

struct DequantizeArgs {
  const void* q = nullptr;  // int8 or uint8
  bool q_signed = true;
  float* x = nullptr;
  int64_t outer = 1, channels = 1, inner = 0;
  const float* scales = nullptr;
  const int32_t* zero_points = nullptr;
};

// Requantization of integer sums to uint8 levels, as ONNX Runtime's QLinearConv computes it (bit for bit):
// per element of a row-major [rows][channels] block, v = float(acc + bias[c]) * multiplier[c] (one rounding),
// clamped to [-zero_point, 255 - zero_point], rounded half to even, + zero_point: the level; y, when asked, is
// DequantizeLinear of it: (level - zero_point) * y_scale. The sums come as int32 (wrapping add of the bias), or
// as floats holding exact integers with the bias already in them (acc_f32; bias must then be null).
// y may be the same buffer as acc (in place); levels and y may each be null.
struct RequantizeArgs {
  const int32_t* acc_i32 = nullptr;  // exactly one of acc_i32 / acc_f32
  const float* acc_f32 = nullptr;
  int64_t rows = 0, channels = 0;
  const int32_t* bias = nullptr;        // [channels] or null (int32 sums only)
  const float* multipliers = nullptr;   // [channels]: finite, > 0
  int32_t zero_point = 0;               // 0..255
  uint8_t* levels = nullptr;            // [rows][channels] or null
  float* y = nullptr;                   // [rows][channels] or null
  float y_scale = 1.0f;
};

// The sum of two fake-quantized tensors quantized to uint8, as ONNX Runtime's QLinearAdd computes it on x86
// (bit for bit): the inputs' levels qa = saturate(round_half_even(a * (1 / a_scale)) + a_zero_point) (a is a
// level times a_scale: the product is within 1e-4 of the level minus the zero point, so this recovers the level
// the model's QuantizeLinear wrote; NaN gives the zero point), likewise qb; level = saturate(round_half_even(fma(qa, ra, fma(qb, rb, fixed)))) with ra = a_scale / c_scale,
// rb = b_scale / c_scale, fixed = c_zero_point - fma(ra, a_zero_point, rb * b_zero_point) (as ORT's build rounds
// it: quantized_add_parameters). y, when asked: (level - c_zero_point) * c_scale. Zero points uint8.
struct QuantizedAddArgs {
  const float* a = nullptr;
  const float* b = nullptr;
  int64_t n = 0;
  float a_scale = 1.0f, b_scale = 1.0f, c_scale = 1.0f;  // finite, > 0
  int32_t a_zero_point = 0, b_zero_point = 0, c_zero_point = 0;
  float ra = 1.0f, rb = 1.0f, fixed = 0.0f;  // quantized_add_parameters
  float a_inverse = 1.0f, b_inverse = 1.0f;  // 1 / a_scale, 1 / b_scale: quantized_add_parameters
  uint8_t* levels = nullptr;  // [n] or null
  float* y = nullptr;         // [n] or null; may be a or b (in place)
};

// Fills ra, rb and fixed of `args` from its scales and zero points (every rounding explicit: the same bits on
// every ISA and compiler).
void quantized_add_parameters(QuantizedAddArgs& args);

struct QuantizeVariant {
  const char* name;
  Isa isa;
  void (*quantize)(const QuantizeArgs& args);
  void (*dequantize)(const DequantizeArgs& args);
  void (*requantize)(const RequantizeArgs& args);
  void (*add)(const QuantizedAddArgs& args);
};

// ---------------------------------------------------------------- LayerNorm / GELU
// Per row of `width` contiguous floats: y = act((x - mean) / sqrt(var + epsilon) * gamma + beta), with
// the population variance. gamma / beta may be null (1 / 0). act is kNone, kGeluErf or kGeluTanh.
// y may alias x.
struct LayerNormArgs {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t rows = 0, width = 0;
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float epsilon = 1e-5f;
  Activation activation = Activation::kNone;
};

// GELU over n floats; y may alias x. exact: 0.5 x (1 + erf(x / sqrt 2)); tanh form:
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
struct GeluArgs {
  const float* x = nullptr;
  float* y = nullptr;
  int64_t n = 0;
  bool tanh_approximation = false;
};

struct LayerNormGeluVariant {
  const char* name;
  Isa isa;
  void (*layer_norm)(const LayerNormArgs& args);
  void (*gelu)(const GeluArgs& args);
};

// ---------------------------------------------------------------- FP32 GEMM (packed panels)
// C[m, n] = act(alpha * sum_k A[m, k] * B[k, n] + bias_n[n] + bias_m[m])   (bias_n / bias_m may be null)
// A: row panels of mr rows packed by gemm_f32_pack_a (panel p at a + p * mr * k, its rows interleaved:
//    [k][rows_p], rows_p = min(mr, m - p * mr)); for m == 1 the plain row (lda ignored) is that layout.
// B: kPacked: column panels of nr packed by gemm_f32_pack_b (panel q at b + q * k * nr, [k][nr], zero padded);
//    kRowMajor: [k, n] row-major with row stride ldb; kIm2col: the columns of an NCHW convolution image
//    (im2col) gathered per panel into scratch. C is row-major with row stride ldc (elements).
enum class GemmF32BMode : uint8_t { kPacked, kRowMajor, kIm2col };

// One image of a 2-D convolution (1-D: h = 1) seen as B[k = c * kh * kw, n = out_h * out_w].
struct Im2colParams {
  const float* x = nullptr;  // [channels, in_h, in_w]
  int64_t channels = 0, in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1,
          dilation_w = 1;
};

struct GemmF32Args {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;  // packed (see above)
  GemmF32BMode b_mode = GemmF32BMode::kPacked;
  const float* b = nullptr;  // kPacked / kRowMajor
  int64_t ldb = 0;           // kRowMajor
  const Im2colParams* im2col = nullptr;  // kIm2col
  float* c = nullptr;
  int64_t ldc = 0;
  const float* bias_n = nullptr;
  const float* bias_m = nullptr;
  float alpha = 1.0f;
  FusedActivation activation = FusedActivation::kNone;
  float act_alpha = 0.01f, act_beta = 0.0f;  // LeakyRelu slope; Clip min / max
  // Column range [n_begin, n_end) (n_begin a multiple of nr; n_end 0 = n) and the caller's scratch for it
  // (gemm_f32_scratch_floats(variant, k) floats, 64-byte aligned; one per concurrent call).
  int64_t n_begin = 0, n_end = 0;
  float* scratch = nullptr;
};

// ---------------------------------------------------------------- FP32 indirect GEMM (NHWC convolution)
// One register tile of a channels-last convolution: C[i, j] = out_min-clamped act(bias[j] +
// sum_{tap, ch} rows[tap * row_stride + i][ch] * B[tap * channels + ch, j]) for i < rows, j < cols.
// rows[] points at each output pixel's input pixel per tap (channels contiguous floats; a zero row for
// taps in the padding), so no im2col copy is made. B is one packed panel [taps * channels][width] with
// width = the tile family's columns; bias is read as a full width (padded with zeros by the caller).
struct IgemmF32Tile {
  int64_t taps = 0, channels = 0;
  const float* const* rows = nullptr;
  int64_t row_stride = 0;  // pointers per tap (the family's mr)
  const float* b = nullptr;
  const float* bias = nullptr;
  float* c = nullptr;
  int64_t ldc = 0;
  int rows_used = 0, cols = 0;
  FusedActivation act = FusedActivation::kNone;
  float act_alpha = 0.01f, act_beta = 0.0f;
  float out_min = -INFINITY;  // max(y, out_min) after the activation (a following Max with a constant)
};

// A family of igemm tiles of one width: tile(args) for rows_used in [1, mr].
struct IgemmF32Family {
  int mr, nr;
  void (*tile)(const IgemmF32Tile& args);
};

struct GemmF32Variant {
  const char* name;  // f32_gemm_<mr>x<nr>__<isa>
  Isa isa;
  int mr, nr;
  void (*run)(const GemmF32Args& args);
  // Helpers for the dynamic INT8 paths, in the same ISA: min / max of n floats (both NaN if any is NaN) and an
  // in-place activation over n floats.
  void (*minmax)(const float* x, int64_t n, float* min_out, float* max_out);
  void (*activate)(float* y, int64_t n, FusedActivation act, float act_alpha, float act_beta);
  // Channels-last convolution tiles: narrow, wide and widest families (the conv picks the one that pads its
  // output channels least, the widest of those: fewer passes over the input rows).
  IgemmF32Family igemm_narrow, igemm_wide, igemm_widest;
  // Row helpers for the channels-last INT8 path, over rows of `cols` contiguous floats:
  // y = max(act(y + bias[col]), out_min) in one pass, and sums[col] += y[row, col] (column sums).
  void (*rows_epilogue)(float* y, int64_t rows, int64_t cols, const float* bias, FusedActivation act,
                        float act_alpha, float act_beta, float out_min);
  void (*column_sums)(const float* x, int64_t rows, int64_t cols, float* sums);
  // n IEEE halves to floats (FP16 weight storage; exact).
  void (*half_to_float)(const uint16_t* in, float* out, int64_t n);
};

// ---------------------------------------------------------------- FP32 matmul of two activations
// C[i, j] = alpha * sum_k A[i, k] * B[k, j] for i < m, j in [n_begin, n_end), neither operand prepared
// beforehand (attention's Q.K^T and P.V). A: row-major, row stride lda. B: [k, n] row-major with row stride
// ldb, or when b_trans [n, k] row-major (B[k, j] = b[j * ldb + k]). C: row-major, row stride ldc. Full
// column vectors of a row-major B are read in place; B^T panels (unless few rows of A take dot products) and
// the last partial vector are packed into scratch (matmul_f32_scratch_floats(variant, k) floats, 64-byte
// aligned, one per concurrent call). NaN / inf propagate as in the plain sum (no fast-math).
struct MatMulF32Args {
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  bool b_trans = false;
  float* c = nullptr;
  int64_t ldc = 0;
  float alpha = 1.0f;
  int64_t n_begin = 0, n_end = 0;
  float* scratch = nullptr;
};

struct MatMulF32Variant {
  const char* name;  // f32_matmul_<mr>x<nr>__<isa>
  Isa isa;
  int mr, nr;  // register tile: rows and widest column panel
  void (*run)(const MatMulF32Args& args);
};

size_t matmul_f32_scratch_floats(const MatMulF32Variant* variant, int64_t k);

size_t gemm_f32_scratch_floats(const GemmF32Variant* variant, int64_t k);
// Packs W ([k, n] row-major, or [n, k] when trans) into nr-column panels: out has
// gemm_f32_packed_b_floats(k, n, nr) floats.
int64_t gemm_f32_packed_b_floats(int64_t k, int64_t n, int nr);
void gemm_f32_pack_b(const float* w, int64_t k, int64_t n, bool trans, int nr, float* out);
// Packs A ([m, k], row stride lda, or [k, m] column-major-like when trans: a[kk * lda + i]) into mr-row
// panels: out has m * k floats.
void gemm_f32_pack_a(const float* a, int64_t lda, int64_t m, int64_t k, bool trans, int mr, float* out);

// ---------------------------------------------------------------- FP32 depthwise convolution rows
// Rows of one channel of a depthwise convolution over a zero-padded input plane prepared by the caller:
// y[r * ldy + o] = act(bias + sum_t w[t] * x[r * ld_in + tap_offsets[t] + o]) for r < rows, o < n, the taps
// in order t = 0, 1, ... (one multiply-add each). Only kNone, kRelu, kLeakyRelu and kClip are applied here
// (NaN propagates through Relu / Clip as in the GEMM epilogues); the caller runs any other activation after.
// Reads only x[r * ld_in + tap_offsets[t] + o] for o < n (no over-read).
struct DwConvF32Rows {
  const float* x = nullptr;
  const int64_t* tap_offsets = nullptr;
  int64_t taps = 0, ld_in = 0;
  const float* w = nullptr;  // [taps]
  float bias = 0.0f;
  float* y = nullptr;
  int64_t ldy = 0, rows = 0, n = 0;
  FusedActivation act = FusedActivation::kNone;
  float act_alpha = 0.01f, act_beta = 0.0f;
};

inline bool dwconv_fuses(FusedActivation act) {
  return act == FusedActivation::kNone || act == FusedActivation::kRelu || act == FusedActivation::kLeakyRelu ||
         act == FusedActivation::kClip;
}

// Channels-last depthwise convolution (multiplier 1) over `count` output pixels of one output row, channels
// as the vector dimension: for p < count, c < channels,
//   y[p * ldy + c] = act(bias[c] + sum_t w[tap_rows[t] * channels + c] * x[tap_offsets[t] + p * x_step + c]),
// the taps in order (one multiply-add each); activations as DwConvF32Rows (dwconv_fuses). The caller lists only
// the taps inside the input (a border pixel's padding taps are left out), so there is no padded copy and no
// over-read.
// Level input (x_levels set, x unused): x[i] reads as float(x_levels[i]) - x_zero_point (exact).
// Requantizing epilogue (requant_multipliers set, act ignored): y = round_half_even(clamp(acc * multipliers[c],
// -zero_point, 255 - zero_point)) * requant_scale, RequantizeArgs' formula for float sums; exact ORT levels
// when every product and partial sum is an integer below 2^24 (int8 weights on levels, an integer bias).
struct DwConvNhwcF32Pixels {
  const float* x = nullptr;
  const uint8_t* x_levels = nullptr;
  int32_t x_zero_point = 0;
  const float* requant_multipliers = nullptr;  // [channels]
  int32_t requant_zero_point = 0;
  float requant_scale = 1.0f;
  uint8_t* y_levels = nullptr;  // requantizing epilogue only: store the levels here (ldy in bytes) instead of y
  const int64_t* tap_offsets = nullptr;  // floats from x to tap t's input channel 0 for output pixel 0
  const int64_t* tap_rows = nullptr;     // tap t's row of w
  int64_t taps = 0, x_step = 0;          // x_step: floats between consecutive output pixels' inputs
  const float* w = nullptr;              // [kernel taps][w_stride]: tap t's weights for the channels at w + t * w_stride
  int64_t w_stride = 0;                  // 0: channels (a call over a block of a wider layer's channels sets it)
  const float* bias = nullptr;           // [channels]
  int64_t channels = 0;
  float* y = nullptr;
  int64_t ldy = 0, count = 0;
  FusedActivation act = FusedActivation::kNone;
  float act_alpha = 0.01f, act_beta = 0.0f;
};

struct DwConvF32Variant {
  const char* name;  // f32_dwconv_<lanes>__<isa>
  Isa isa;
  int lanes;         // floats per vector (the padding a row of n outputs is computed in)
  void (*rows)(const DwConvF32Rows& args);
  void (*nhwc_pixels)(const DwConvNhwcF32Pixels& args);
  // dst[r * dst_stride + i] = src[r * src_stride + i] for r < rows, i < n (planes into padded planes and back).
  void (*copy_rows)(const float* src, int64_t src_stride, float* dst, int64_t dst_stride, int64_t rows, int64_t n);
  // Per row r < rows, the phases of a stride-2 input row: even[r * dst_stride + i] = src[r * src_stride + 2 i],
  // odd[r * dst_stride + i] = src[r * src_stride + 2 i + 1], for the source indices below n.
  void (*deinterleave2)(const float* src, int64_t src_stride, float* even, float* odd, int64_t dst_stride, int64_t rows,
                        int64_t n);
};

// ---------------------------------------------------------------- INT8 depthwise convolution rows
// Rows of one channel of a quantized depthwise convolution over a padded plane of int16 values q - zero_point
// (uint8 or int8 activations minus their zero point; the padding holds 0) prepared by the caller:
// acc[r, o] = sum_t int32(w[t]) * x[r * ld_in + tap_offsets[t] + o]  (int32, wrapping modulo 2^32), then
// y_i32 = acc, or y_f32 = fma(float(acc), scale, bias) (gemm_s8's float epilogue; relu: y < 0 ? 0 : y).
// Variants may read x up to `lanes` int16 past x[r * ld_in + tap_offsets[t] + n - 1]; the caller pads.
struct DwConvS8Rows {
  const int16_t* x = nullptr;
  const int64_t* tap_offsets = nullptr;
  int64_t taps = 0, ld_in = 0;
  const int8_t* w = nullptr;         // [taps]
  const int32_t* w_pairs = nullptr;  // [(taps + 1) / 2]: uint16(w[2p]) | w[2p + 1] << 16, 0 past the taps
  int32_t* y_i32 = nullptr;          // exactly one of y_i32 / y_f32
  float* y_f32 = nullptr;
  int64_t ldy = 0, rows = 0, n = 0;
  float scale = 1.0f, bias = 0.0f;
  bool relu = false;
};

struct DwConvS8Variant {
  const char* name;  // qs8_dwconv_<lanes>__<isa>
  Isa isa;
  int lanes;  // outputs per vector step (the over-read above)
  void (*rows)(const DwConvS8Rows& args);
  // Quantized rows into the padded plane: dst[r * dst_stride + i] = int16(src[r * src_stride + i]) - zero_point
  // for r < rows, i < n (uint8 src); reads and writes nothing else.
  void (*widen_rows)(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* dst, int64_t dst_stride,
                     int64_t rows, int64_t n);
  // The same split into the two phases of a stride-2 row: even[r * dst_stride + i] = int16(src[.. + 2 i]) - zp,
  // odd[r * dst_stride + i] = int16(src[.. + 2 i + 1]) - zp, for the source indices below n.
  void (*widen_deinterleave2)(const uint8_t* src, int64_t src_stride, int32_t zero_point, int16_t* even, int16_t* odd,
                              int64_t dst_stride, int64_t rows, int64_t n);
};

// ---------------------------------------------------------------- FP32 element-wise maps
// unary: y[i] = f(x[i]) for i < n contiguous floats (y may alias x exactly); p0 = LeakyRelu's alpha or Clip's
// min, p1 = Clip's max. binary: y[i] = a[i * a_step] op b[i * b_step] with steps 0 (a scalar) or 1. The
// reference defines every value, NaN and inf included; cpp/tests/test_elementwise_f32.cc states the tolerances.
// kHardSigmoid: max(0, min(1, p0 x + p1)) (the product and the sum rounded separately); kHardSwish: x times
// that with p0 = 1/6, p1 = 1/2 (the caller passes them).
enum class UnaryF32 : uint8_t { kRelu, kLeakyRelu, kClip, kNeg, kAbs, kFloor, kCeil, kSqrt, kReciprocal, kExp, kLog,
                                kSigmoid, kTanh, kErf, kHardSigmoid, kHardSwish };
enum class BinaryF32 : uint8_t { kAdd, kSub, kMul, kDiv };

struct ElementwiseF32Variant {
  const char* name;  // f32_velementwise__<isa>
  Isa isa;
  void (*unary)(UnaryF32 op, const float* x, float* y, int64_t n, float p0, float p1);
  void (*binary)(BinaryF32 op, const float* a, int64_t a_step, const float* b, int64_t b_step, float* y, int64_t n);
  // Softmax (log_softmax: LogSoftmax) of `rows` contiguous rows of n floats, y may be x: m = max of the row,
  // e = exp(x - m), y = e / sum(e) (log: x - m - log(sum(e))). NaN or +inf anywhere in a row, or a row of
  // -inf only, makes the whole row NaN (the reference's numerics; ONNX Runtime gives NaN there too).
  void (*softmax_rows)(const float* x, float* y, int64_t rows, int64_t n, bool log_softmax);
  // Channels-last pooling of one output pixel: y[j] = max (or sum) over t < taps of x[offsets[t] + j], j < n,
  // the taps in order. Max propagates NaN (a window holding a NaN gives NaN); taps == 0 gives -inf (max) or
  // 0 (sum). Reads only the listed runs of n floats.
  void (*pool_taps)(const float* x, const int64_t* offsets, int64_t taps, int64_t n, float* y, bool max);
};

// ---------------------------------------------------------------- FP32 grouped convolution rows
// DwConvF32Rows for `channels` output channels at once over the same input taps (grouped convolutions with few
// channels per group: each input vector loaded serves every channel): for c < channels, r < rows, o < n,
// y[c * ldy_c + r * ldy + o] = act(bias[c] + sum_t w[c * taps + t] * x[r * ld_in + tap_offsets[t] + o]), the
// taps in order (one multiply-add each); activations as DwConvF32Rows (dwconv_fuses). No over-read.
struct GConvF32Rows {
  const float* x = nullptr;
  const int64_t* tap_offsets = nullptr;
  int64_t taps = 0, ld_in = 0;
  const float* w = nullptr;     // [channels][taps]
  const float* bias = nullptr;  // [channels]
  int64_t channels = 0;
  float* y = nullptr;
  int64_t ldy_c = 0, ldy = 0, rows = 0, n = 0;
  FusedActivation act = FusedActivation::kNone;
  float act_alpha = 0.01f, act_beta = 0.0f;
};

struct GConvF32Variant {
  const char* name;  // f32_gconv_<channels>x<outputs>__<isa>
  Isa isa;
  int channels;      // output channels per register block
  void (*rows)(const GConvF32Rows& args);
};

// ---------------------------------------------------------------- the table
// Every variant that was compiled into this binary, reference first, ascending ISA rank.
std::span<const GemmS8Variant* const> gemm_s8_variants();
std::span<const QuantizeVariant* const> quantize_variants();
std::span<const LayerNormGeluVariant* const> layernorm_gelu_variants();
std::span<const GemmF32Variant* const> gemm_f32_variants();
std::span<const DwConvF32Variant* const> dwconv_f32_variants();
std::span<const DwConvS8Variant* const> dwconv_s8_variants();
std::span<const GConvF32Variant* const> gconv_f32_variants();
std::span<const MatMulF32Variant* const> matmul_f32_variants();
std::span<const ElementwiseF32Variant* const> elementwise_f32_variants();

struct KernelTable {
  const GemmS8Variant* gemm_s8;
  const QuantizeVariant* quantize;
  const LayerNormGeluVariant* layernorm_gelu;
  const GemmF32Variant* gemm_f32;
  const MatMulF32Variant* matmul_f32;
  const DwConvF32Variant* dwconv_f32;
  const ElementwiseF32Variant* elementwise_f32;
  const DwConvS8Variant* dwconv_s8;
  const GConvF32Variant* gconv_f32;
  Isa ceiling;          // the highest level allowed (EDGEINFER_ISA, or the CPU's best)
  bool forced;          // EDGEINFER_ISA was set
};

// Filled once on first use. EDGEINFER_ISA=<isa name> caps the level; an unknown or unsupported name throws.
const KernelTable& kernels();

// Best variant in `variants` that is supported by the CPU and not above `ceiling`.
template <typename Variant>
const Variant* select_variant(std::span<const Variant* const> variants, Isa ceiling);

}  // namespace edgeinfer
