// The ONNX recurrent ops RNN, GRU and LSTM (opset 7+ semantics, layout of opset 14): forward, reverse or
// bidirectional, optional initial states, per-batch sequence_lens, clip, GRU linear_before_reset, LSTM
// input_forget and peepholes. Per direction the weights are packed once: the input projection X·W^T (+ the
// biases that can be folded) is one GEMM over every time step, then each step runs H·R^T as a GEMM over the
// batch and the gates element-wise. Everything per run lives in scratch.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/kernels.h"
#include "runtime/executor.h"

namespace edgeinfer::runtime {
namespace {

enum class Cell { kRnn, kGru, kLstm };

// Inputs in ONNX order: X, W, R, B, sequence_lens, initial_h, initial_c (LSTM), P (LSTM).
constexpr size_t kX = 0, kW = 1, kR = 2, kB = 3, kSeqLens = 4, kInitialH = 5, kInitialC = 6, kPeepholes = 7;
// ints: [direction, hidden_size, layout, variant, activation codes (num_directions x activations per cell)].
constexpr size_t kFixedInts = 4;

Cell cell_of(const std::string& op) { return op == "LSTM" ? Cell::kLstm : op == "GRU" ? Cell::kGru : Cell::kRnn; }
int64_t gates_of(Cell cell) { return cell == Cell::kLstm ? 4 : cell == Cell::kGru ? 3 : 1; }
size_t activations_of(Cell cell) { return cell == Cell::kLstm ? 3 : cell == Cell::kGru ? 2 : 1; }
bool supported_activation(int64_t code) {
  const auto kind = static_cast<FusedActivation>(code);
  return kind == FusedActivation::kSigmoid || kind == FusedActivation::kTanh || kind == FusedActivation::kRelu;
}

// a * b (both >= 0) when it stays within kMaxElements, else -1.
int64_t checked_product(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > kMaxElements / a) return -1;
  return a * b;
}

struct RnnShape {
  Cell cell = Cell::kRnn;
  int64_t directions = 1, seq = 0, batch = 0, input = 0, hidden = 0, gates = 1;
  bool reverse_only = false, batch_first = false;
  int64_t gate_width() const { return gates * hidden; }
};

RnnShape rnn_shape(const Plan& plan, const Step& step) {
  RnnShape s;
  s.cell = cell_of(step.op);
  s.gates = gates_of(s.cell);
  s.directions = step.ints[0] == 2 ? 2 : 1;
  s.reverse_only = step.ints[0] == 1;
  s.hidden = step.ints[1];
  s.batch_first = step.ints[2] == 1;
  const auto& x = plan.tensors[static_cast<size_t>(step.inputs[kX])].dims;
  s.seq = s.batch_first ? x[1] : x[0];
  s.batch = s.batch_first ? x[0] : x[1];
  s.input = x[2];
  return s;
}

std::vector<int64_t> state_dims(const RnnShape& s) {
  return s.batch_first ? std::vector<int64_t>{s.batch, s.directions, s.hidden}
                       : std::vector<int64_t>{s.directions, s.batch, s.hidden};
}

bool has_output(const Step& step, size_t i) { return i < step.outputs.size() && step.outputs[i] >= 0; }

void rnn_validate(const StepView& v) {
  const Step& step = v.step();
  const Cell cell = cell_of(step.op);
  v.inputs(3, cell == Cell::kLstm ? 8 : 6);
  v.outputs(0, cell == Cell::kLstm ? 3 : 2);
  v.ints_at_least(kFixedInts);
  const int64_t direction = step.ints[0], hidden = step.ints[1], layout = step.ints[2], variant = step.ints[3];
  if (direction < 0 || direction > 2) v.fail("direction must be 0 (forward), 1 (reverse) or 2 (bidirectional)");
  if (hidden < 1 || hidden > kMaxDim) v.fail("hidden_size must be positive");
  if (layout != 0 && layout != 1) v.fail("layout must be 0 or 1");
  if (variant != 0 && variant != 1) v.fail("linear_before_reset / input_forget must be 0 or 1");
  if (cell == Cell::kRnn && variant != 0) v.fail("RNN has no variant flag");
  const int64_t directions = direction == 2 ? 2 : 1;
  v.ints(kFixedInts + static_cast<size_t>(directions) * activations_of(cell));
  for (size_t i = kFixedInts; i < step.ints.size(); ++i)
    if (!supported_activation(step.ints[i])) v.fail("unsupported activation code " + std::to_string(step.ints[i]));
  v.floats(1);
  const float clip = step.floats[0];
  if (!(clip >= 0.0f)) v.fail("clip must be >= 0 (0: none)");

  v.dtype_in(kX, {DType::kFloat32});
  if (v.in(kX).dims.size() != 3) v.fail("X must be 3-D, got " + dims_string(v.in(kX).dims));
  const RnnShape s = rnn_shape(v.root(), step);
  const int64_t gate_width = checked_product(s.gates, hidden);
  if (gate_width < 0) v.fail("gates x hidden_size is too large");
  for (size_t i : {kW, kR}) {
    v.dtype_in(i, {DType::kFloat32});
    if (!v.is_constant(i)) v.fail(std::string(i == kW ? "W" : "R") + " must be a constant (packed at load)");
  }
  v.dims_equal(v.in(kW).dims, {directions, gate_width, s.input}, "W");
  v.dims_equal(v.in(kR).dims, {directions, gate_width, hidden}, "R");
  if (v.has_in(kB)) {
    v.dtype_in(kB, {DType::kFloat32});
    if (!v.is_constant(kB)) v.fail("B must be a constant (folded into the packed weights)");
    v.dims_equal(v.in(kB).dims, {directions, 2 * gate_width}, "B");
  }
  if (v.has_in(kSeqLens)) {
    v.dtype_in(kSeqLens, {DType::kInt32, DType::kInt64});
    v.dims_equal(v.in(kSeqLens).dims, {s.batch}, "sequence_lens");
    if (v.is_constant(kSeqLens)) {
      const TensorSlot& t = v.in(kSeqLens);
      for (int64_t b = 0; b < s.batch; ++b) {
        int64_t len;
        if (t.dtype == DType::kInt32) {
          int32_t value;
          std::memcpy(&value, t.constant->data() + b * 4, 4);
          len = value;
        } else {
          std::memcpy(&len, t.constant->data() + b * 8, 8);
        }
        if (len < 0 || len > s.seq) v.fail("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(len) + " is outside [0, " + std::to_string(s.seq) + "]");
      }
    }
  }
  const std::vector<int64_t> state = state_dims(s);
  for (size_t i : {kInitialH, kInitialC}) {
    if (!v.has_in(i)) continue;
    v.dtype_in(i, {DType::kFloat32});
    v.dims_equal(v.in(i).dims, state, i == kInitialH ? "initial_h" : "initial_c");
  }
  if (v.has_in(kPeepholes)) {
    v.dtype_in(kPeepholes, {DType::kFloat32});
    v.dims_equal(v.in(kPeepholes).dims, {directions, 3 * hidden}, "P");
  }
  if (has_output(step, 0)) {
    v.dtype_out(0, {DType::kFloat32});
    v.dims_equal(v.out(0).dims, s.batch_first ? std::vector<int64_t>{s.batch, s.seq, directions, hidden}
                                              : std::vector<int64_t>{s.seq, directions, s.batch, hidden}, "Y");
  }
  for (size_t o = 1; o < 3; ++o) {
    if (!has_output(step, o)) continue;
    v.dtype_out(o, {DType::kFloat32});
    v.dims_equal(v.out(o).dims, state, o == 1 ? "Y_h" : "Y_c");
  }
  // The input projection of every step lives in scratch: it must stay addressable.
  const int64_t rows = checked_product(s.seq, s.batch);
  if (rows < 0 || checked_product(rows, gate_width) < 0) v.fail("seq x batch x gates x hidden_size is too large");
}

struct Direction {
  std::unique_ptr<GemmF32> input;      // X·W^T + folded biases, [seq * batch, gates * hidden]
  std::unique_ptr<GemmF32> recurrent;  // H·R^T (+ R's h bias for GRU linear_before_reset), all gates
  std::unique_ptr<GemmF32> reset_h;    // GRU without linear_before_reset: (r ⊙ H)·Rh^T; `recurrent` then has z, r
  FusedActivation f = FusedActivation::kSigmoid, g = FusedActivation::kTanh, h = FusedActivation::kTanh;
};

struct RnnState : OpState {
  RnnShape shape;
  bool variant = false;  // GRU: linear_before_reset; LSTM: input_forget
  float clip = 0.0f;     // 0: none
  Direction directions[2];
  // Scratch offsets (bytes, 64-aligned).
  size_t projection_at = 0, recurrent_at = 0, h_at = 0, c_at = 0, reset_h_at = 0, gemm_at = 0;
};

std::unique_ptr<OpState> rnn_prepare(PrepareContext& ctx, const Step& step) {
  auto st = std::make_unique<RnnState>();
  RnnShape& s = st->shape;
  s = rnn_shape(ctx.plan, step);
  st->variant = step.ints[3] != 0;
  st->clip = step.floats[0];
  const int64_t hidden = s.hidden, width = s.gate_width();
  const auto constant = [&](size_t i) {
    return reinterpret_cast<const float*>(ctx.plan.tensors[static_cast<size_t>(step.inputs[i])].constant->data());
  };
  const float* w = constant(kW);
  const float* r = constant(kR);
  const bool has_bias = step.inputs.size() > kB && step.inputs[kB] >= 0;
  const float* b = has_bias ? constant(kB) : nullptr;
  const bool gru_separate_rh = s.cell == Cell::kGru;  // Rbh never folds into X·W^T when it is multiplied by r
  const bool linear_before_reset = s.cell == Cell::kGru && st->variant;
  std::vector<float> input_bias(static_cast<size_t>(width)), recurrent_bias(static_cast<size_t>(width));
  size_t gemm_scratch = 0;
  int64_t weight_bytes = 0;
  const size_t per_direction = activations_of(s.cell);
  for (int64_t d = 0; d < s.directions; ++d) {
    Direction& dir = st->directions[d];
    const int64_t* codes = step.ints.data() + kFixedInts + static_cast<size_t>(d) * per_direction;
    dir.f = static_cast<FusedActivation>(codes[0]);
    if (per_direction > 1) dir.g = static_cast<FusedActivation>(codes[1]);
    if (per_direction > 2) dir.h = static_cast<FusedActivation>(codes[2]);
    // Wb + Rb fold into the input projection, except GRU's Rbh (inside r ⊙ (...) with linear_before_reset).
    std::fill(recurrent_bias.begin(), recurrent_bias.end(), 0.0f);
    for (int64_t j = 0; j < width; ++j) {
      const float wb = b ? b[d * 2 * width + j] : 0.0f, rb = b ? b[d * 2 * width + width + j] : 0.0f;
      const bool keep_rb_apart = linear_before_reset && j >= 2 * hidden;
      input_bias[static_cast<size_t>(j)] = keep_rb_apart ? wb : wb + rb;
      if (keep_rb_apart) recurrent_bias[static_cast<size_t>(j)] = rb;
    }
    const ActivationParams none;
    dir.input = GemmF32::create(w + d * width * s.input, s.input, width, true, input_bias.data(), 1.0f, 1.0f, none);
    const float* rd = r + d * width * hidden;
    if (gru_separate_rh && !linear_before_reset) {
      dir.recurrent = GemmF32::create(rd, hidden, 2 * hidden, true, nullptr, 1.0f, 1.0f, none);
      dir.reset_h = GemmF32::create(rd + 2 * hidden * hidden, hidden, hidden, true, nullptr, 1.0f, 1.0f, none);
      gemm_scratch = std::max(gemm_scratch, dir.reset_h->scratch_bytes(s.batch));
      weight_bytes += static_cast<int64_t>(dir.reset_h->weight_bytes());
    } else {
      dir.recurrent = GemmF32::create(rd, hidden, width, true, linear_before_reset ? recurrent_bias.data() : nullptr,
                                      1.0f, 1.0f, none);
    }
    gemm_scratch = std::max({gemm_scratch, dir.input->scratch_bytes(s.seq * s.batch), dir.recurrent->scratch_bytes(s.batch)});
    weight_bytes += static_cast<int64_t>(dir.input->weight_bytes() + dir.recurrent->weight_bytes());
  }
  const auto floats_bytes = [](int64_t n) { return align_up(static_cast<size_t>(n) * sizeof(float)); };
  size_t at = 0;
  st->projection_at = at;
  at += floats_bytes(s.seq * s.batch * width);
  st->recurrent_at = at;
  at += floats_bytes(s.batch * width);
  st->h_at = at;
  at += floats_bytes(s.batch * hidden);
  st->c_at = at;
  at += s.cell == Cell::kLstm ? floats_bytes(s.batch * hidden) : 0;
  st->reset_h_at = at;
  at += s.cell == Cell::kGru && !st->variant ? floats_bytes(s.batch * hidden) : 0;
  st->gemm_at = at;
  ctx.scratch_bytes = at + gemm_scratch;
  ctx.weight_bytes = weight_bytes;
  ctx.kernel = st->directions[0].input->kernel_name();
  ctx.copied_constants.push_back(step.inputs[kW]);
  ctx.copied_constants.push_back(step.inputs[kR]);
  if (has_bias) ctx.copied_constants.push_back(step.inputs[kB]);
  return st;
}

// ------------------------------------------------------------------ gate math (in place, NaN propagates)
void clip_values(float* x, int64_t n, float clip) {
  if (clip <= 0.0f) return;
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -clip), clip);  // NaN stays NaN
}

// The element-wise variant's SIMD maps (a recurrent step's gates are a few hundred values: scalar polynomials
// were a quarter of a small GRU's time).
void activate(FusedActivation kind, float* x, int64_t n) {
  const UnaryF32 op = kind == FusedActivation::kSigmoid ? UnaryF32::kSigmoid
                      : kind == FusedActivation::kTanh  ? UnaryF32::kTanh
                                                        : UnaryF32::kRelu;  // kRelu (validated)
  kernels().elementwise_f32->unary(op, x, x, n, 0.0f, 0.0f);
}

// pre[i] += add[i]; then clip and the activation.
void gate(float* pre, const float* add, int64_t n, float clip, FusedActivation kind) {
  for (int64_t i = 0; i < n; ++i) pre[i] += add[i];
  clip_values(pre, n, clip);
  activate(kind, pre, n);
}

void rnn_run(RunContext& ctx, const Step& step, const OpState* state) {
  const auto& st = *static_cast<const RnnState*>(state);
  const RnnShape& s = st.shape;
  const int64_t S = s.seq, B = s.batch, H = s.hidden, W = s.gate_width(), D = s.directions;
  const float* x = ctx.t<const float>(step.inputs[kX]);
  const auto optional_in = [&](size_t i) -> const float* {
    return i < step.inputs.size() && step.inputs[i] >= 0 ? ctx.t<const float>(step.inputs[i]) : nullptr;
  };
  const float* initial_h = optional_in(kInitialH);
  const float* initial_c = s.cell == Cell::kLstm ? optional_in(kInitialC) : nullptr;
  const float* peepholes = s.cell == Cell::kLstm ? optional_in(kPeepholes) : nullptr;
  float* y = has_output(step, 0) ? ctx.t<float>(step.outputs[0]) : nullptr;
  float* y_h = has_output(step, 1) ? ctx.t<float>(step.outputs[1]) : nullptr;
  float* y_c = s.cell == Cell::kLstm && has_output(step, 2) ? ctx.t<float>(step.outputs[2]) : nullptr;

  // Per-batch lengths, read (and checked) before anything is written.
  const bool has_lengths = step.inputs.size() > kSeqLens && step.inputs[kSeqLens] >= 0;
  const bool lengths_32 = has_lengths && ctx.slot(step.inputs[kSeqLens]).dtype == DType::kInt32;
  const auto length_of = [&](int64_t b) -> int64_t {
    if (!has_lengths) return S;
    return lengths_32 ? ctx.t<const int32_t>(step.inputs[kSeqLens])[b] : ctx.t<const int64_t>(step.inputs[kSeqLens])[b];
  };
  for (int64_t b = 0; b < B; ++b) {
    const int64_t len = length_of(b);
    if (len < 0 || len > S)
      fail(ErrorCode::kInvalidArgument, step.op + " '" + step.name + "': sequence_lens[" + std::to_string(b) + "] = " +
                                            std::to_string(len) + " is outside [0, " + std::to_string(S) + "]");
  }

  if (B == 0) return;
  float* projection = reinterpret_cast<float*>(ctx.scratch + st.projection_at);
  float* recurrent = reinterpret_cast<float*>(ctx.scratch + st.recurrent_at);
  float* h = reinterpret_cast<float*>(ctx.scratch + st.h_at);
  float* c = reinterpret_cast<float*>(ctx.scratch + st.c_at);
  float* reset_h = reinterpret_cast<float*>(ctx.scratch + st.reset_h_at);
  uint8_t* gemm_scratch = ctx.scratch + st.gemm_at;

  // Element offsets by layout: X / projection rows, Y rows, state rows.
  const auto x_row = [&](int64_t t, int64_t b) { return s.batch_first ? b * S + t : t * B + b; };
  const auto y_row = [&](int64_t t, int64_t d, int64_t b) { return s.batch_first ? (b * S + t) * D + d : (t * D + d) * B + b; };
  const auto state_row = [&](int64_t d, int64_t b) { return s.batch_first ? b * D + d : d * B + b; };
  const float clip = st.clip;

  for (int64_t d = 0; d < D; ++d) {
    const Direction& dir = st.directions[d];
    const bool reverse = s.reverse_only || d == 1;
    if (S * B > 0) dir.input->run(S * B, x, s.input, projection, W, gemm_scratch, ctx.pool);
    for (int64_t b = 0; b < B; ++b) {
      float* hb = h + b * H;
      if (initial_h) std::memcpy(hb, initial_h + state_row(d, b) * H, static_cast<size_t>(H) * sizeof(float));
      else std::fill(hb, hb + H, 0.0f);
      if (s.cell != Cell::kLstm) continue;
      float* cb = c + b * H;
      if (initial_c) std::memcpy(cb, initial_c + state_row(d, b) * H, static_cast<size_t>(H) * sizeof(float));
      else std::fill(cb, cb + H, 0.0f);
    }
    const float* pi = peepholes ? peepholes + d * 3 * H : nullptr;
    const float* po = pi ? pi + H : nullptr;
    const float* pf = pi ? pi + 2 * H : nullptr;

    for (int64_t step_index = 0; step_index < S; ++step_index) {
      // Rows past their sequence still go through the GEMM (one call for the batch); their results are unused.
      // GRU without linear_before_reset: this fills the z and r columns only.
      dir.recurrent->run(B, h, H, recurrent, W, gemm_scratch, ctx.pool);
      // Pass 1 (GRU without linear_before_reset): z, r and r ⊙ H, then (r ⊙ H)·Rh^T for the batch.
      if (s.cell == Cell::kGru && !st.variant) {
        for (int64_t b = 0; b < B; ++b) {
          const int64_t len = length_of(b);
          float* rb = recurrent + b * W;
          if (step_index >= len) continue;
          const int64_t t = reverse ? len - 1 - step_index : step_index;
          gate(rb, projection + x_row(t, b) * W, 2 * H, clip, dir.f);
          const float* reset = rb + H;
          const float* hb = h + b * H;
          float* out = reset_h + b * H;
          for (int64_t j = 0; j < H; ++j) out[j] = reset[j] * hb[j];
        }
        dir.reset_h->run(B, reset_h, H, recurrent + 2 * H, W, gemm_scratch, ctx.pool);
      }
      for (int64_t b = 0; b < B; ++b) {
        const int64_t len = length_of(b);
        float* hb = h + b * H;
        if (step_index >= len) {
          // Outputs past a sequence's end are 0.
          if (y) std::fill_n(y + y_row(step_index, d, b) * H, H, 0.0f);
          continue;
        }
        const int64_t t = reverse ? len - 1 - step_index : step_index;
        const float* xw = projection + x_row(t, b) * W;
        float* rb = recurrent + b * W;
        switch (s.cell) {
          case Cell::kRnn:
            gate(rb, xw, H, clip, dir.f);
            std::memcpy(hb, rb, static_cast<size_t>(H) * sizeof(float));
            break;
          case Cell::kGru: {
            float* z = rb;
            float* reset = rb + H;
            float* candidate = rb + 2 * H;
            if (st.variant) {
              // linear_before_reset: h~ = g(Xt·Wh^T + Wbh + r ⊙ (H·Rh^T + Rbh)).
              gate(rb, xw, 2 * H, clip, dir.f);
              for (int64_t j = 0; j < H; ++j) candidate[j] = xw[2 * H + j] + reset[j] * candidate[j];
              clip_values(candidate, H, clip);
              activate(dir.g, candidate, H);
            } else {
              gate(candidate, xw + 2 * H, H, clip, dir.g);  // z, r done in pass 1
            }
            for (int64_t j = 0; j < H; ++j) hb[j] = (1.0f - z[j]) * candidate[j] + z[j] * hb[j];
            break;
          }
          case Cell::kLstm: {
            float* in = rb;
            float* out = rb + H;
            float* forget = rb + 2 * H;
            float* cell = rb + 3 * H;
            float* cb = c + b * H;
            for (int64_t j = 0; j < 4 * H; ++j) rb[j] += xw[j];
            if (pi) for (int64_t j = 0; j < H; ++j) in[j] += pi[j] * cb[j];
            clip_values(in, H, clip);
            activate(dir.f, in, H);
            if (st.variant) {
              for (int64_t j = 0; j < H; ++j) forget[j] = 1.0f - in[j];  // input_forget couples f to i
            } else {
              if (pf) for (int64_t j = 0; j < H; ++j) forget[j] += pf[j] * cb[j];
              clip_values(forget, H, clip);
              activate(dir.f, forget, H);
            }
            clip_values(cell, H, clip);
            activate(dir.g, cell, H);
            for (int64_t j = 0; j < H; ++j) cb[j] = forget[j] * cb[j] + in[j] * cell[j];
            if (po) for (int64_t j = 0; j < H; ++j) out[j] += po[j] * cb[j];
            clip_values(out, H, clip);
            activate(dir.f, out, H);
            std::memcpy(hb, cb, static_cast<size_t>(H) * sizeof(float));
            activate(dir.h, hb, H);
            for (int64_t j = 0; j < H; ++j) hb[j] *= out[j];
            break;
          }
        }
        if (y) std::memcpy(y + y_row(t, d, b) * H, hb, static_cast<size_t>(H) * sizeof(float));
      }
    }
    // Final states: the last valid step of each sequence; an empty sequence gives 0.
    for (int64_t b = 0; b < B; ++b) {
      const bool empty = length_of(b) == 0;
      if (y_h) {
        float* dst = y_h + state_row(d, b) * H;
        if (empty) std::fill_n(dst, H, 0.0f);
        else std::memcpy(dst, h + b * H, static_cast<size_t>(H) * sizeof(float));
      }
      if (y_c) {
        float* dst = y_c + state_row(d, b) * H;
        if (empty) std::fill_n(dst, H, 0.0f);
        else std::memcpy(dst, c + b * H, static_cast<size_t>(H) * sizeof(float));
      }
    }
  }
}

}  // namespace

void register_rnn_ops(std::vector<OpDef>& ops) {
  for (const char* name : {"RNN", "GRU", "LSTM"}) ops.push_back(OpDef{name, &rnn_validate, &rnn_prepare, &rnn_run});
}

}  // namespace edgeinfer::runtime
