// RNN / GRU / LSTM steps (runtime/ops/rnn.cc) against a double-precision transcription of the ONNX equations:
// both GRU variants, LSTM with peepholes, bidirectional, layout 1, mixed sequence lengths; no heap allocation
// per run; malformed steps rejected with kModelInvalid.
#include <cmath>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/runtime.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"
#include "tests/plan_builder.h"

using namespace edgeinfer;
using edgeinfer::testing::PlanBuilder;

namespace {

constexpr DType F32 = DType::kFloat32, I32 = DType::kInt32;
constexpr int64_t kSigmoid = 5, kTanh = 7;

struct Config {
  const char* op = "GRU";
  int64_t direction = 0, layout = 0, variant = 0;
  int64_t seq = 4, batch = 2, input = 3, hidden = 5;
  std::vector<int32_t> lengths = {};  // empty: full
  bool peepholes = false;
  float clip = 0.0f;
};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

struct Data {
  std::vector<float> x, w, r, b, h0, c0, p;
};

int64_t gates_of(const Config& c) { return std::string(c.op) == "LSTM" ? 4 : std::string(c.op) == "GRU" ? 3 : 1; }
int64_t dirs_of(const Config& c) { return c.direction == 2 ? 2 : 1; }

Data make_data(const Config& c) {
  const int64_t g = gates_of(c), d = dirs_of(c), h = c.hidden;
  Data data;
  data.x = random_floats(static_cast<size_t>(c.seq * c.batch * c.input), 1, 2.0f);
  data.w = random_floats(static_cast<size_t>(d * g * h * c.input), 2, 0.6f);
  data.r = random_floats(static_cast<size_t>(d * g * h * h), 3, 0.6f);
  data.b = random_floats(static_cast<size_t>(d * 2 * g * h), 4, 0.5f);
  data.h0 = random_floats(static_cast<size_t>(d * c.batch * h), 5, 1.0f);
  data.c0 = random_floats(static_cast<size_t>(d * c.batch * h), 6, 1.0f);
  data.p = random_floats(static_cast<size_t>(d * 3 * h), 7, 0.5f);
  return data;
}

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }
double clipped(const Config& c, double v) { return c.clip > 0 ? std::min<double>(std::max<double>(v, -c.clip), c.clip) : v; }

// The ONNX definitions, one sequence at a time; outputs in the step's layout.
void reference(const Config& c, const Data& data, std::vector<float>& y, std::vector<float>& y_h, std::vector<float>& y_c) {
  const int64_t g = gates_of(c), D = dirs_of(c), H = c.hidden, S = c.seq, B = c.batch, I = c.input;
  const std::string op = c.op;
  y.assign(static_cast<size_t>(S * D * B * H), 0.0f);
  y_h.assign(static_cast<size_t>(D * B * H), 0.0f);
  y_c.assign(static_cast<size_t>(D * B * H), 0.0f);
  const bool bf = c.layout == 1;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = c.direction == 1 || d == 1;
    const float* w = data.w.data() + d * g * H * I;
    const float* r = data.r.data() + d * g * H * H;
    const float* wb = data.b.data() + d * 2 * g * H;
    const float* rb = wb + g * H;
    const float* p = data.p.data() + d * 3 * H;
    for (int64_t b = 0; b < B; ++b) {
      const int64_t len = c.lengths.empty() ? S : c.lengths[static_cast<size_t>(b)];
      const int64_t state_at = (bf ? b * D + d : d * B + b) * H;
      std::vector<double> h(data.h0.begin() + state_at, data.h0.begin() + state_at + H);
      std::vector<double> cell(data.c0.begin() + state_at, data.c0.begin() + state_at + H);
      for (int64_t s = 0; s < len; ++s) {
        const int64_t t = reverse ? len - 1 - s : s;
        const float* xt = data.x.data() + (bf ? b * S + t : t * B + b) * I;
        auto xw = [&](int64_t row) { double a = 0; for (int64_t k = 0; k < I; ++k) a += xt[k] * w[row * I + k]; return a; };
        auto hr = [&](int64_t row, const std::vector<double>& v) { double a = 0; for (int64_t k = 0; k < H; ++k) a += v[static_cast<size_t>(k)] * r[row * H + k]; return a; };
        std::vector<double> next(static_cast<size_t>(H));
        if (op == "GRU") {
          std::vector<double> z(static_cast<size_t>(H)), rr(static_cast<size_t>(H)), rh(static_cast<size_t>(H));
          for (int64_t j = 0; j < H; ++j) {
            z[j] = sigmoid(clipped(c, xw(j) + hr(j, h) + wb[j] + rb[j]));
            rr[j] = sigmoid(clipped(c, xw(H + j) + hr(H + j, h) + wb[H + j] + rb[H + j]));
            rh[j] = rr[j] * h[j];
          }
          for (int64_t j = 0; j < H; ++j) {
            const double pre = c.variant ? xw(2 * H + j) + rr[j] * (hr(2 * H + j, h) + rb[2 * H + j]) + wb[2 * H + j]
                                         : xw(2 * H + j) + hr(2 * H + j, rh) + rb[2 * H + j] + wb[2 * H + j];
            const double cand = std::tanh(clipped(c, pre));
            next[j] = (1 - z[j]) * cand + z[j] * h[j];
          }
        } else if (op == "LSTM") {
          for (int64_t j = 0; j < H; ++j) {
            const auto pre = [&](int64_t gate) { return xw(gate * H + j) + hr(gate * H + j, h) + wb[gate * H + j] + rb[gate * H + j]; };
            const double i = sigmoid(clipped(c, pre(0) + (c.peepholes ? p[j] * cell[j] : 0)));
            const double f = c.variant ? 1 - i : sigmoid(clipped(c, pre(2) + (c.peepholes ? p[2 * H + j] * cell[j] : 0)));
            const double cc = std::tanh(clipped(c, pre(3)));
            cell[j] = f * cell[j] + i * cc;
            const double o = sigmoid(clipped(c, pre(1) + (c.peepholes ? p[H + j] * cell[j] : 0)));
            next[j] = o * std::tanh(cell[j]);
          }
        } else {
          for (int64_t j = 0; j < H; ++j) next[j] = std::tanh(clipped(c, xw(j) + hr(j, h) + wb[j] + rb[j]));
        }
        h = next;
        const int64_t y_at = (bf ? (b * S + t) * D + d : (t * D + d) * B + b) * H;
        for (int64_t j = 0; j < H; ++j) y[static_cast<size_t>(y_at + j)] = static_cast<float>(h[j]);
      }
      for (int64_t j = 0; j < H; ++j) {
        y_h[static_cast<size_t>(state_at + j)] = len == 0 ? 0.0f : static_cast<float>(h[j]);
        y_c[static_cast<size_t>(state_at + j)] = len == 0 ? 0.0f : static_cast<float>(cell[j]);
      }
    }
  }
}

PlanBuilder build(const Config& c, const Data& data) {
  const int64_t g = gates_of(c), D = dirs_of(c), H = c.hidden;
  const bool lstm = std::string(c.op) == "LSTM";
  PlanBuilder b;
  const std::vector<int64_t> state = c.layout ? std::vector<int64_t>{c.batch, D, H} : std::vector<int64_t>{D, c.batch, H};
  const int32_t x = b.input(F32, c.layout ? std::vector<int64_t>{c.batch, c.seq, c.input} : std::vector<int64_t>{c.seq, c.batch, c.input});
  const int32_t h0 = b.input(F32, state);
  const int32_t c0 = lstm ? b.input(F32, state) : -1;
  const int32_t lens = c.lengths.empty() ? -1 : b.input(I32, {c.batch});
  const int32_t w = b.constant(F32, {D, g * H, c.input}, data.w);
  const int32_t r = b.constant(F32, {D, g * H, H}, data.r);
  const int32_t bias = b.constant(F32, {D, 2 * g * H}, data.b);
  const int32_t p = c.peepholes ? b.constant(F32, {D, 3 * H}, data.p) : -1;
  const int32_t y = b.output(F32, c.layout ? std::vector<int64_t>{c.batch, c.seq, D, H} : std::vector<int64_t>{c.seq, D, c.batch, H});
  const int32_t y_h = b.output(F32, state);
  std::vector<int32_t> inputs = {x, w, r, bias, lens, h0};
  std::vector<int32_t> outputs = {y, y_h};
  if (lstm) {
    inputs.push_back(c0);
    inputs.push_back(p);
    outputs.push_back(b.output(F32, state));
  }
  std::vector<int64_t> ints = {c.direction, H, c.layout, c.variant};
  for (int64_t d = 0; d < D; ++d) {
    ints.push_back(std::string(c.op) == "RNN" ? kTanh : kSigmoid);
    if (std::string(c.op) != "RNN") ints.push_back(kTanh);
    if (lstm) ints.push_back(kTanh);
  }
  b.step(c.op, inputs, outputs, ints, {c.clip});
  return b;
}

void check_case(const char* what, const Config& c) {
  const Data data = make_data(c);
  PlanBuilder b = build(c, data);
  std::vector<float> want_y, want_h, want_c;
  reference(c, data, want_y, want_h, want_c);
  const bool lstm = std::string(c.op) == "LSTM";
  ModelOptions options;
  auto model = Model::create(b.plan, options);
  std::vector<float> y(want_y.size(), -7.0f), y_h(want_h.size(), -7.0f), y_c(want_c.size(), -7.0f);
  std::vector<const void*> inputs = {data.x.data(), data.h0.data()};
  if (lstm) inputs.push_back(data.c0.data());
  if (!c.lengths.empty()) inputs.push_back(c.lengths.data());
  void* outputs[] = {y.data(), y_h.data(), y_c.data()};
  const long before = edgeinfer::testing::heap_allocations().load();
  model->run(inputs.data(), outputs);
  model->run(inputs.data(), outputs);  // twice: no state carried between runs
  EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, std::string(what) + ": allocated during run");
  const auto compare = [&](const std::vector<float>& got, const std::vector<float>& want, const char* name) {
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(double(got[i]) - want[i]));
    EI_CHECK_MSG(worst <= 2e-5, std::string(what) + " " + name + ": max |diff| " + std::to_string(worst));
  };
  compare(y, want_y, "Y");
  compare(y_h, want_h, "Y_h");
  if (lstm) compare(y_c, want_c, "Y_c");
}

}  // namespace

EI_TEST("rnn: GRU (both linear_before_reset), LSTM (peepholes, input_forget), RNN match the ONNX equations") {
  check_case("GRU forward lbr 0", {.op = "GRU"});
  check_case("GRU reverse lbr 1", {.op = "GRU", .direction = 1, .variant = 1, .hidden = 9});
  check_case("GRU bidirectional, lengths, layout 1", {.op = "GRU", .direction = 2, .layout = 1, .seq = 5, .batch = 3, .hidden = 11, .lengths = {5, 2, 0}});
  check_case("GRU clip", {.op = "GRU", .variant = 1, .clip = 0.7f});
  check_case("LSTM bidirectional, peepholes, lengths", {.op = "LSTM", .direction = 2, .batch = 3, .hidden = 7, .lengths = {4, 1, 3}, .peepholes = true});
  check_case("LSTM input_forget, layout 1", {.op = "LSTM", .layout = 1, .variant = 1, .hidden = 17});
  check_case("RNN bidirectional", {.op = "RNN", .direction = 2, .hidden = 6});
}

EI_TEST("rnn: malformed steps are rejected with kModelInvalid") {
  const Config c{.op = "LSTM", .direction = 2, .lengths = {4, 2}, .peepholes = true};
  const Data data = make_data(c);
  const auto expect_invalid = [&](const char* what, const std::function<void(PlanBuilder&)>& mutate) {
    PlanBuilder b = build(c, data);
    mutate(b);
    bool ok = false;
    std::string message = "no throw";
    try {
      ModelOptions o;
      Model::create(b.plan, o);
    } catch (const Error& e) {
      ok = e.code() == ErrorCode::kModelInvalid;
      message = e.what();
    }
    EI_CHECK_MSG(ok, std::string(what) + ": " + message);
  };
  {  // the base is valid
    PlanBuilder b = build(c, data);
    ModelOptions o;
    EI_CHECK(Model::create(b.plan, o) != nullptr);
  }
  const auto step = [](PlanBuilder& b) -> Step& { return b.plan.steps[0]; };
  expect_invalid("direction 3", [&](PlanBuilder& b) { step(b).ints[0] = 3; });
  expect_invalid("hidden_size 0", [&](PlanBuilder& b) { step(b).ints[1] = 0; });
  expect_invalid("hidden_size mismatch", [&](PlanBuilder& b) { step(b).ints[1] = 6; });
  expect_invalid("layout 2", [&](PlanBuilder& b) { step(b).ints[2] = 2; });
  expect_invalid("variant 2", [&](PlanBuilder& b) { step(b).ints[3] = 2; });
  expect_invalid("too few activations", [&](PlanBuilder& b) { step(b).ints.pop_back(); });
  expect_invalid("unknown activation", [&](PlanBuilder& b) { step(b).ints[4] = 2; });
  expect_invalid("NaN clip", [&](PlanBuilder& b) { step(b).floats[0] = NAN; });
  expect_invalid("negative clip", [&](PlanBuilder& b) { step(b).floats[0] = -1; });
  expect_invalid("no clip float", [&](PlanBuilder& b) { step(b).floats.clear(); });
  expect_invalid("W not constant", [&](PlanBuilder& b) { step(b).inputs[1] = step(b).inputs[0]; });
  expect_invalid("W wrong dims", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[1])].dims[1] = 3; });
  expect_invalid("B wrong dims", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[3])].dims = {2, 5}; });
  expect_invalid("P wrong dims", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[7])].dims = {2, 14}; });
  expect_invalid("sequence_lens float", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[4])].dtype = F32; });
  expect_invalid("initial_h wrong dims", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[5])].dims = {1, 2, 5}; });
  expect_invalid("Y wrong dims", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).outputs[0])].dims = {4, 1, 2, 5}; });
  expect_invalid("too many outputs", [&](PlanBuilder& b) { step(b).outputs.push_back(step(b).outputs[2]); });
  expect_invalid("X rank 2", [&](PlanBuilder& b) { b.plan.tensors[static_cast<size_t>(step(b).inputs[0])].dims = {4, 6}; });
  expect_invalid("constant sequence_lens out of range", [&](PlanBuilder& b) {
    step(b).inputs[4] = b.constant(I32, {2}, std::vector<int32_t>{4, 5});
  });
  expect_invalid("GRU with 8 inputs", [&](PlanBuilder& b) { step(b).op = "GRU"; });
}

EI_TEST("rnn: a run-time sequence length outside [0, seq] fails the run with kInvalidArgument") {
  const Config c{.op = "GRU", .lengths = {4, 2}};
  const Data data = make_data(c);
  PlanBuilder b = build(c, data);
  ModelOptions options;
  auto model = Model::create(b.plan, options);
  std::vector<float> y(static_cast<size_t>(4 * 2 * 5)), y_h(static_cast<size_t>(2 * 5));
  const std::vector<int32_t> bad = {4, 5};
  std::vector<const void*> inputs = {data.x.data(), data.h0.data(), bad.data()};
  void* outputs[] = {y.data(), y_h.data()};
  bool ok = false;
  try {
    model->run(inputs.data(), outputs);
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kInvalidArgument;
  }
  EI_CHECK(ok);
}

EI_TEST_MAIN()
