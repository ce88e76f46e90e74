// A lowered model: every tensor with a concrete shape and a home (arena offset, constant, input or output
// slot), and a flat list of steps, each one kernel call. lib/onnx/lower.ts builds it once per set of input
// shapes; Plan::validate() checks every index, offset, size and attribute before anything runs, so a
// crafted plan is an error, never an out-of-bounds access.
//
// Attribute encoding per op (ints / floats). Axes are already normalised (non-negative); every tensor's
// dims are final. "act" is a FusedActivation code with its parameters in floats[act_params...].
//   Element-wise ops (unary maps, Cast, broadcasting binaries, Where): at their registration in
//       cpp/runtime/ops/elementwise.cc, so that adding one is its declaration, its step and its test.
//   ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ReduceL2: ints = [keepdims, axis...]
//   Softmax, LogSoftmax: ints = [axis]  (opset >= 13 semantics: along one axis)
//   LayerNorm: inputs [x, scale, bias or -1]; ints = [axis, act]; floats = [epsilon, act params...]
//       (normalises over dims[axis..rank); act is kNone, kGeluErf or kGeluTanh)
//   MatMul: inputs [a, b]; numpy-style batched matmul; ints = [act] or [act, trans_b] (trans_b: b is [..., n, k]);
//       floats = [act params...]
//   Gemm: inputs [a, b, c or -1]; ints = [trans_a, trans_b, act]; floats = [alpha, beta, act params...]
//       (b constant: packed at creation; c broadcast to [M, N])
//   Conv: inputs [x, w, b or -1] with x [N, C, spatial...]; ints = [group, act, kernel[r], strides[r],
//       pads_begin[r], pads_end[r], dilations[r]] for r = rank - 2 (1 or 2); floats = [act params...]
//   MaxPool, AveragePool: ints = [count_include_pad, kernel[r], strides[r], pads_begin[r], pads_end[r],
//       dilations[r]]  (output dims already include ceil_mode)
//   GlobalAveragePool, GlobalMaxPool: ints = []
//   Transpose: ints = perm
//   Concat: ints = [axis]      Split: ints = [axis] (sizes from the output dims)
//   Slice: ints = [starts[rank], steps[rank]] (clamped, per axis; output dims give the counts)
//   Gather: inputs [data, indices(int32/int64)]; ints = [axis]  (negative indices wrap; out of range fails)
//   Pad: ints = [mode (0 constant, 1 reflect, 2 edge), pads_begin[rank], pads_end[rank]]; floats = [value]
//   Expand, Reshape, Flatten, Squeeze, Unsqueeze, Identity: copy (the output dims say the shape); the
//       planner may give output and input the same offset, then the step is skipped.
//   If: inputs [cond]; ints = [then_plan, else_plan] (indices into Plan::subplans); outputs are copied
//       from the chosen subplan's outputs.
//   BatchNormalization: inputs [x, scale, B, mean, var] (float32, x [N, C, ...]); ints = [per_activation];
//       floats = [epsilon]. Inference form: y = (x - mean) / sqrt(var + epsilon) * scale + B, parameters per
//       channel (dims[1]), or with per_activation = 1 per element of dims[1..] (spatial = 0, opsets 7-8).
//   InstanceNormalization: inputs [x, scale, B] (float32, x [N, C, ...]); ints = []; floats = [epsilon];
//       mean and population variance per (n, c) over the remaining dims.
//   GatherElements: inputs [data, indices(int32/int64)] of equal rank; ints = [axis]; output dims = indices
//       dims (<= data dims off the axis); negative indices wrap; out of range fails (kInvalidArgument).
//   CumSum: inputs [x] (float32/64, int32/64, uint32/64); ints = [axis, exclusive, reverse].
//   Resize (also ONNX Upsample): inputs [x]; ints = [mode (0 nearest, 1 linear, 2 cubic), coordinate mode
//       (0 half_pixel, 1 asymmetric, 2 pytorch_half_pixel, 3 tf_half_pixel_for_nn, 4 align_corners,
//       5 tf_crop_and_resize, 6 half_pixel_symmetric), nearest mode (0 simple: opset < 11, floor when
//       upsampling and ceil when downsampling, 1 round_prefer_floor, 2 round_prefer_ceil, 3 floor, 4 ceil),
//       exclude_outside]; floats = [cubic_coeff_a, extrapolation_value, scales[rank], roi_start[rank],
//       roi_end[rank]]; the output dims give the sizes. Linear and cubic need float32 and are separable
//       (n-linear / n-cubic over every resized axis); nearest moves elements of any dtype.
//   QuantizeLinear, DequantizeLinear: inputs [x, scale, zero_point or -1]; ints = [axis]
//   DynamicQuantizeLinear: inputs [x (float32)]; outputs [y (uint8, x's dims), y_scale (float32 scalar),
//       y_zero_point (uint8 scalar)]; ints = [], floats = [] (ONNX semantics: range widened to include 0).
//   MatMulInteger: inputs [a, b (uint8 / int8), a_zero_point or -1 (scalar or [M]), b_zero_point or -1
//       (scalar or [N])]; output int32; numpy-batched like MatMul; ints = [], floats = [].
//   MatMulS8Dynamic / GemmS8Dynamic / ConvS8Dynamic: as MatMul / Gemm / Conv with float input and output,
//       int8 per-output-channel weights quantized at creation, activations quantized per call (per tensor,
//       uint8, from their min/max); ints and floats as for the float op.
//   QLinearMatMul / QLinearGemm / QLinearConv (QDQ models): inputs [x, x_scale or -1, x_zero_point or -1, w,
//       w_scale, w_zero_point or -1, bias or -1]; ints as MatMul / Gemm / Conv followed by w_axis; floats as
//       for the float op (QLinearGemm: alpha > 0). y = act(dequant(quant(x)) * dequant(w) + bias) in float32.
//       x float ([..., K] for MatMul, 2-D for Gemm, NCHW / NCW for Conv); x_scale a constant float scalar and
//       x_zero_point a constant uint8 / int8 scalar (both -1: quantized per tensor per call from min / max);
//       w a constant int8 tensor with zero point 0 or uint8 with zero point 128 (MatMul [K, N], Gemm [K, N] or
//       [N, K] with trans_b, Conv [M, C / group, kernel...]); w_scale float, one value or one per output
//       channel, then w_axis is the output-channel axis (MatMul 1, Gemm 1 or 0 with trans_b, Conv 0); bias a
//       constant float with one value per output channel (Gemm: or one value; scaled by beta). QLinearMatMul
//       and QLinearConv may carry one more int after w_axis, onnx_range: 1 quantizes dynamic activations with
//       DynamicQuantizeLinear's parameters (ONNX Runtime's quantize_dynamic graphs fused: the same integer sums).
//   RNN, GRU, LSTM (ONNX opset 7+ semantics): inputs [X, W, R, B or -1, sequence_lens (int32 / int64) or -1,
//       initial_h or -1, (LSTM) initial_c or -1, (LSTM) P or -1]; outputs [Y, Y_h, (LSTM) Y_c], trailing ones
//       may be left off; ints = [direction (0 forward, 1 reverse, 2 bidirectional), hidden_size, layout
//       (0: X [seq, batch, in], 1: [batch, seq, in]), variant (GRU linear_before_reset, LSTM input_forget,
//       RNN 0), activations...: num_directions x (RNN f; GRU f, g; LSTM f, g, h) as FusedActivation codes
//       (Sigmoid, Tanh, Relu)]; floats = [clip] (0: none). W, R, B constants (packed at creation), ONNX gate
//       order (GRU z r h, LSTM i o f c). Past sequence_lens[b] Y is 0 and Y_h / Y_c hold the last valid step.
//   QuantizeDequantize: inputs [x, scale, zero_point (uint8 / int8) or -1]; ints = [axis]; y =
//       dequantize(quantize(x)) with QuantizeLinear's rounding and saturation (uint8 without a zero point).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgeinfer/packed_weights.h"

namespace edgeinfer {

// ONNX TensorProto.DataType codes.
enum class DType : uint8_t {
  kFloat32 = 1, kUint8 = 2, kInt8 = 3, kUint16 = 4, kInt16 = 5, kInt32 = 6, kInt64 = 7,
  kBool = 9, kFloat16 = 10, kFloat64 = 11, kUint32 = 12, kUint64 = 13,
};
size_t dtype_size(DType dtype);  // 0 for unknown codes

enum class FusedActivation : uint8_t {
  kNone = 0, kRelu = 1, kGeluErf = 2, kGeluTanh = 3, kLeakyRelu = 4 /* alpha */, kSigmoid = 5,
  kClip = 6 /* min, max */, kTanh = 7,
  kHardSigmoid = 8 /* alpha, beta: max(0, min(1, alpha x + beta)) */, kHardSwish = 9 /* x HardSigmoid(1/6, 1/2) */,
  kSilu = 10 /* x Sigmoid(x) */,
};
constexpr FusedActivation kLastFusedActivation = FusedActivation::kSilu;

enum class Storage : uint8_t {
  kArena = 0,     // offset into the model's arena
  kConstant = 1,  // bytes owned by the plan (weights, folded constants)
  kInput = 2,     // bound per run to the caller's buffer (read in place)
  kOutput = 3,    // bound per run to the caller's buffer (written in place)
};

struct TensorSlot {
  DType dtype = DType::kFloat32;
  std::vector<int64_t> dims;
  Storage storage = Storage::kArena;
  int64_t offset = 0;   // kArena: byte offset (64-byte aligned)
  int32_t binding = 0;  // kInput / kOutput: index into the run's inputs / outputs
  std::shared_ptr<const std::vector<uint8_t>> constant;  // kConstant
  int64_t elements() const;
  int64_t bytes() const;
};

struct Step {
  std::string op;    // ONNX op name, or a fused name listed above
  std::string name;  // the source node's name, for errors and profiles
  std::vector<int32_t> inputs;   // tensor slots; -1 for an omitted optional input
  std::vector<int32_t> outputs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

struct Plan {
  std::vector<TensorSlot> tensors;
  std::vector<Step> steps;
  std::vector<int32_t> inputs;   // slot ids, in binding order
  std::vector<int32_t> outputs;  // slot ids, in binding order
  int64_t arena_bytes = 0;
  // Branches of If steps (root plan only). A subplan uses only `steps` and `outputs`: its tensors live
  // in the root's table and arena (the planner keeps its intermediates clear of anything live across the
  // If), and its `outputs` are the slots the If step copies into its own outputs.
  std::vector<Plan> subplans;
};

}  // namespace edgeinfer
