// FP32 element-wise maps (kernels/elementwise/): every variant this CPU runs against the reference, on odd
// lengths, unaligned and in-place views, dense sweeps, log-uniform random magnitudes over the whole float
// range and special values (NaN, +-inf, +-0, denormals, FLT_MAX, the exp over/underflow edges); then the
// runtime steps that use them (kernel names, thread splits, broadcast rows).
//
// Tolerances:
//   Relu, LeakyRelu, Clip, Neg, Abs, Floor, Ceil, Sqrt, Reciprocal, and binary Add / Sub / Mul / Div:
//     bit-exact against the reference (NaN: NaN in the same places; the payload is not compared).
//   Exp, Log, Sigmoid, Tanh, Erf: every variant (the reference included) against the double-precision
//     function, |got - want| <= rel |want| + abs with
//       exp      rel 1e-6, abs 2^-147 (denormal results: a few of their ulps)
//       log      rel 1e-6, abs 0
//       sigmoid  rel 1e-6, abs 2^-126 (below x ~ -87 the true value is a denormal; variants may flush it)
//       tanh     rel 1e-6, abs 2^-126
//       erf      rel 1e-6, abs 2^-126
//     (1e-6 is ~17 float ulps; measured on AVX2, AVX-512, NEON (qemu) and the reference: exp, log <= 1.4
//     ulp, sigmoid <= 2.9, tanh <= 6.2, erf <= 7.4). An infinity must be an infinity of the same sign,
//     except that a result within rel of FLT_MAX may stand for the overflow the double gives (Exp right at
//     ln FLT_MAX); NaN exactly where the reference has NaN.
//   Exactly specified for every variant: Relu(NaN) = NaN, Relu(-0) = -0, Relu(-inf) = 0, Sigmoid(-inf) = 0,
//   Sigmoid(+inf) = 1, Exp(+inf) = +inf, Exp(89) = +inf, Exp(-inf) = Exp(-200) = 0, Log(+-0) = -inf,
//   Log(x < 0) = NaN, Log(+inf) = +inf, Log(1) = 0, Tanh(+-inf) = Erf(+-inf) = +-1, Tanh / Erf / Sqrt of
//   +-0 keep the sign, Reciprocal(+-0) = +-inf, and NaN in -> NaN out for every op.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/kernels.h"
#include "kernels/elementwise/elementwise_f32_common.h"
#include "edgeinfer/runtime.h"
#include "tests/check.h"
#include "tests/plan_builder.h"

using namespace edgeinfer;
using edgeinfer::elementwise_detail::binary_name;
using edgeinfer::elementwise_detail::unary_name;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kDenorm = std::numeric_limits<float>::denorm_min();
constexpr float kMax = std::numeric_limits<float>::max();
constexpr float kMin = std::numeric_limits<float>::min();

const UnaryF32 kAllUnary[] = {UnaryF32::kRelu, UnaryF32::kLeakyRelu, UnaryF32::kClip, UnaryF32::kNeg,
                              UnaryF32::kAbs,  UnaryF32::kFloor,     UnaryF32::kCeil, UnaryF32::kSqrt,
                              UnaryF32::kReciprocal, UnaryF32::kExp, UnaryF32::kLog,  UnaryF32::kSigmoid,
                              UnaryF32::kTanh, UnaryF32::kErf, UnaryF32::kHardSigmoid, UnaryF32::kHardSwish};
const BinaryF32 kAllBinary[] = {BinaryF32::kAdd, BinaryF32::kSub, BinaryF32::kMul, BinaryF32::kDiv};

bool exact_op(UnaryF32 op) {
  return op != UnaryF32::kExp && op != UnaryF32::kLog && op != UnaryF32::kSigmoid && op != UnaryF32::kTanh &&
         op != UnaryF32::kErf && op != UnaryF32::kHardSigmoid && op != UnaryF32::kHardSwish;
}

// (alpha, unused) for LeakyRelu, (min, max) for Clip, (alpha, beta) for HardSigmoid / HardSwish.
void params(UnaryF32 op, float& p0, float& p1) {
  p0 = op == UnaryF32::kLeakyRelu ? 0.01f : op == UnaryF32::kClip ? -1.5f : op == UnaryF32::kHardSigmoid ? 0.2f
       : op == UnaryF32::kHardSwish ? 1.0f / 6.0f : 0.0f;
  p1 = op == UnaryF32::kClip ? 6.0f : op == UnaryF32::kHardSigmoid || op == UnaryF32::kHardSwish ? 0.5f : 0.0f;
}

const ElementwiseF32Variant& ref() { return *elementwise_f32_variants().front(); }

std::string hex(float v) {
  char buf[48];
  uint32_t u;
  std::memcpy(&u, &v, 4);
  std::snprintf(buf, sizeof buf, "%.9g (0x%08x)", static_cast<double>(v), u);
  return buf;
}

bool same_bits_or_nan(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  uint32_t ua, ub;
  std::memcpy(&ua, &a, 4);
  std::memcpy(&ub, &b, 4);
  return ua == ub;
}

std::vector<float> special_values() {
  std::vector<float> v = {0.0f,    -0.0f,   kNaN,      -kNaN,    kInf,     -kInf,    kDenorm,   -kDenorm,
                          1e-40f,  -1e-40f, kMin,      -kMin,    kMax,     -kMax,    1.0f,      -1.0f,
                          0.5f,    -0.5f,   2.0f,      -2.0f,    1.5f,     -1.5f,    2.5f,      -2.5f,
                          6.0f,    6.5f,    -1.75f,    88.72f,   88.7228f, 88.73f,   89.0f,     -87.3f,
                          -87.5f,  -88.0f,  -89.0f,    -100.0f,  -103.9f,  -104.0f,  -104.5f,   -150.0f,
                          -200.0f, 200.0f,  17.0f,     -17.0f,   3.9f,     4.0f,     -4.0f,     7.9f,
                          8.0f,    9.5f,    10.0f,     -10.0f,   1e-8f,    -1e-8f,   1e-20f,    -1e-20f,
                          0.0625f, 0.1f,    -0.1f,     0.3f,     1e30f,    -1e30f,   8388608.5f, 16777217.0f,
                          0.70710677f, 0.70710683f, 1.4142135f, 0.99999994f, 1.0000001f};
  return v;
}

// Dense sweep plus log-uniform magnitudes of both signs over the whole float range, then the specials.
std::vector<float> test_inputs() {
  std::vector<float> v;
  for (int i = -4000; i <= 4000; ++i) v.push_back(static_cast<float>(i) * 0.005f);  // [-20, 20]
  for (int i = -1100; i <= 1100; ++i) v.push_back(static_cast<float>(i) * 0.1f);    // [-110, 110]
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> e(-149.0f, 128.0f);
  for (int i = 0; i < 20000; ++i) {
    const float m = std::exp2(e(rng));
    v.push_back(i % 2 ? m : -m);
  }
  for (float s : special_values()) v.push_back(s);
  return v;
}

double truth(UnaryF32 op, double x) {
  switch (op) {
    case UnaryF32::kExp: return std::exp(x);
    case UnaryF32::kLog: return std::log(x);
    case UnaryF32::kSigmoid: return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
    case UnaryF32::kTanh: return std::tanh(x);
    case UnaryF32::kHardSigmoid: return std::isnan(x) ? x : std::min(1.0, std::max(0.0, double(0.2f) * x + 0.5));
    case UnaryF32::kHardSwish: return std::isnan(x) ? x : x * std::min(1.0, std::max(0.0, double(1.0f / 6.0f) * x + 0.5));
    default: return std::erf(x);
  }
}

void tolerance(UnaryF32 op, double& rel, double& abs) {
  switch (op) {
    case UnaryF32::kExp: rel = 1e-6; abs = std::ldexp(1.0, -147); return;
    case UnaryF32::kLog: rel = 1e-6; abs = 0.0; return;
    // alpha x + beta rounds (or fuses) before the clamp: an absolute error of a few ulps of beta, times |x|
    // for HardSwish (within the clamp |x| < 3).
    case UnaryF32::kHardSigmoid: rel = 1e-6; abs = 2e-7; return;
    case UnaryF32::kHardSwish: rel = 1e-6; abs = 6e-7; return;
    default: rel = 1e-6; abs = std::ldexp(1.0, -126); return;
  }
}

// got for x against the double-precision function (want rounded to float: beyond FLT_MAX it is inf).
bool close_to_truth(UnaryF32 op, float x, float got, std::string& why) {
  double rel, abs;
  tolerance(op, rel, abs);
  const double w = truth(op, static_cast<double>(x));
  const double want = std::fabs(w) > 3.4028235677973366e38 ? std::copysign(INFINITY, w) : w;
  if (std::isnan(want) || std::isnan(got)) {
    why = "NaN mismatch";
    return std::isnan(want) && std::isnan(got);
  }
  if (std::isinf(want) || std::isinf(got)) {
    const double other = std::isinf(want) ? got : want;
    const double inf = std::isinf(want) ? want : got;
    why = "infinity mismatch";
    return (std::isinf(other) && other == inf) ||
           (!std::isinf(other) && std::fabs(other) >= kMax * (1.0 - rel) && std::signbit(other) == std::signbit(inf));
  }
  why = "outside tolerance";
  return std::fabs(static_cast<double>(got) - want) <= rel * std::fabs(want) + abs;
}

std::vector<float> run_unary(const ElementwiseF32Variant& v, UnaryF32 op, const std::vector<float>& xs) {
  float p0, p1;
  params(op, p0, p1);
  std::vector<float> out(xs.size());
  v.unary(op, xs.data(), out.data(), static_cast<int64_t>(xs.size()), p0, p1);
  return out;
}

EI_TEST("unary variants match the reference (exact ops bit-exact, math ops within tolerance of double)") {
  const std::vector<float> xs = test_inputs();
  for (UnaryF32 op : kAllUnary) {
    const std::vector<float> want = run_unary(ref(), op, xs);
    for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
      if (!isa_supported(v->isa)) continue;
      const std::vector<float> got = run_unary(*v, op, xs);
      int bad = 0;
      for (size_t i = 0; i < xs.size() && bad < 5; ++i) {
        if (exact_op(op)) {
          if (!same_bits_or_nan(got[i], want[i])) {
            ++bad;
            EI_CHECK_MSG(false, std::string(v->name) + " " + unary_name(op) + "(" + hex(xs[i]) + ") = " +
                                    hex(got[i]) + ", reference " + hex(want[i]));
          }
          continue;
        }
        std::string why;
        const bool nan_agrees = std::isnan(got[i]) == std::isnan(want[i]);
        if (!nan_agrees || !close_to_truth(op, xs[i], got[i], why)) {
          ++bad;
          EI_CHECK_MSG(false, std::string(v->name) + " " + unary_name(op) + "(" + hex(xs[i]) + ") = " +
                                  hex(got[i]) + ", reference " + hex(want[i]) + ", double " +
                                  std::to_string(truth(op, xs[i])) + ": " + (nan_agrees ? why : "NaN differs"));
        }
      }
    }
  }
}

EI_TEST("unary odd lengths, unaligned views and in place give the same values, nothing written outside") {
  const std::vector<float> base = test_inputs();
  const int64_t lengths[] = {0, 1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 257, 1027};
  constexpr float kGuard = -12345.0f;
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (UnaryF32 op : kAllUnary) {
      float p0, p1;
      params(op, p0, p1);
      for (int64_t n : lengths)
        for (int64_t offset = 0; offset < 4; ++offset) {
          const int64_t start = (n * 37 + offset * 11) % static_cast<int64_t>(base.size() - n);
          std::vector<float> x(n + 8, 0.0f), y(n + 8, kGuard), expect(n);
          std::copy(base.begin() + start, base.begin() + start + n, x.begin() + offset);
          v->unary(op, x.data() + offset, expect.data(), n, p0, p1);  // aligned-output reference call
          v->unary(op, x.data() + offset, y.data() + offset + 1, n, p0, p1);
          bool ok = true;
          for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(y[offset + 1 + i], expect[i]);
          for (int64_t i = 0; i < offset + 1; ++i) ok &= y[i] == kGuard;
          for (int64_t i = offset + 1 + n; i < n + 8; ++i) ok &= y[i] == kGuard;
          // In place.
          std::vector<float> z(x);
          v->unary(op, z.data() + offset, z.data() + offset, n, p0, p1);
          for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(z[offset + i], expect[i]);
          EI_CHECK_MSG(ok, std::string(v->name) + " " + unary_name(op) + " n=" + std::to_string(n) +
                               " offset=" + std::to_string(offset));
        }
    }
  }
}

struct Special {
  UnaryF32 op;
  float x, want;  // want NaN: any NaN
};

EI_TEST("specified values: NaN / inf / signed zero / overflow edges, every variant") {
  const Special cases[] = {
      {UnaryF32::kRelu, kNaN, kNaN},          {UnaryF32::kRelu, -0.0f, -0.0f},       {UnaryF32::kRelu, -kInf, 0.0f},
      {UnaryF32::kRelu, kInf, kInf},          {UnaryF32::kLeakyRelu, kNaN, kNaN},    {UnaryF32::kLeakyRelu, -kInf, -kInf},
      {UnaryF32::kClip, kNaN, kNaN},          {UnaryF32::kClip, kInf, 6.0f},         {UnaryF32::kClip, -kInf, -1.5f},
      {UnaryF32::kSigmoid, -kInf, 0.0f},      {UnaryF32::kSigmoid, kInf, 1.0f},      {UnaryF32::kSigmoid, kNaN, kNaN},
      {UnaryF32::kSigmoid, 0.0f, 0.5f},       {UnaryF32::kSigmoid, -0.0f, 0.5f},     {UnaryF32::kSigmoid, 30.0f, 1.0f},
      {UnaryF32::kExp, kInf, kInf},           {UnaryF32::kExp, 89.0f, kInf},         {UnaryF32::kExp, 1000.0f, kInf},
      {UnaryF32::kExp, -kInf, 0.0f},          {UnaryF32::kExp, -200.0f, 0.0f},       {UnaryF32::kExp, kNaN, kNaN},
      {UnaryF32::kExp, 0.0f, 1.0f},           {UnaryF32::kExp, -0.0f, 1.0f},         {UnaryF32::kLog, 0.0f, -kInf},
      {UnaryF32::kLog, -0.0f, -kInf},         {UnaryF32::kLog, -1.0f, kNaN},         {UnaryF32::kLog, -kDenorm, kNaN},
      {UnaryF32::kLog, -kInf, kNaN},          {UnaryF32::kLog, kInf, kInf},          {UnaryF32::kLog, kNaN, kNaN},
      {UnaryF32::kLog, 1.0f, 0.0f},           {UnaryF32::kTanh, kInf, 1.0f},         {UnaryF32::kTanh, -kInf, -1.0f},
      {UnaryF32::kTanh, 0.0f, 0.0f},          {UnaryF32::kTanh, -0.0f, -0.0f},       {UnaryF32::kTanh, kNaN, kNaN},
      {UnaryF32::kTanh, 20.0f, 1.0f},         {UnaryF32::kErf, kInf, 1.0f},          {UnaryF32::kErf, -kInf, -1.0f},
      {UnaryF32::kErf, 0.0f, 0.0f},           {UnaryF32::kErf, -0.0f, -0.0f},        {UnaryF32::kErf, kNaN, kNaN},
      {UnaryF32::kErf, 5.0f, 1.0f},           {UnaryF32::kSqrt, -1.0f, kNaN},        {UnaryF32::kSqrt, -0.0f, -0.0f},
      {UnaryF32::kSqrt, kInf, kInf},          {UnaryF32::kReciprocal, 0.0f, kInf},   {UnaryF32::kReciprocal, -0.0f, -kInf},
      {UnaryF32::kReciprocal, kInf, 0.0f},    {UnaryF32::kNeg, 0.0f, -0.0f},         {UnaryF32::kAbs, -kInf, kInf},
      {UnaryF32::kFloor, -0.5f, -1.0f},       {UnaryF32::kFloor, -0.0f, -0.0f},      {UnaryF32::kCeil, -0.5f, -0.0f},
      {UnaryF32::kCeil, kNaN, kNaN},          {UnaryF32::kFloor, kInf, kInf},        {UnaryF32::kAbs, kNaN, kNaN},
  };
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (const Special& c : cases) {
      // Lane 5 of a 21-float run, so the main loop, not only the tail, sees the value.
      std::vector<float> x(21, 0.25f), y(21);
      x[5] = c.x;
      float p0, p1;
      params(c.op, p0, p1);
      v->unary(c.op, x.data(), y.data(), 21, p0, p1);
      EI_CHECK_MSG(same_bits_or_nan(y[5], c.want), std::string(v->name) + " " + unary_name(c.op) + "(" + hex(c.x) +
                                                       ") = " + hex(y[5]) + ", want " + hex(c.want));
    }
  }
}

EI_TEST("every op: NaN in gives NaN out, for every variant") {
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (UnaryF32 op : kAllUnary) {
      std::vector<float> x(19, kNaN), y(19);
      float p0, p1;
      params(op, p0, p1);
      v->unary(op, x.data(), y.data(), 19, p0, p1);
      bool ok = true;
      for (float f : y) ok &= std::isnan(f);
      EI_CHECK_MSG(ok, std::string(v->name) + " " + unary_name(op) + "(NaN)");
    }
  }
}

EI_TEST("binary variants are bit-exact with the reference: same shape, by a scalar either side, in place") {
  std::vector<float> a = test_inputs(), b = test_inputs();
  std::mt19937 rng(3);
  std::shuffle(b.begin(), b.end(), rng);
  const int64_t lengths[] = {0, 1, 3, 7, 8, 15, 16, 17, 33, 63, 64, 65, 127, 129, 1001, static_cast<int64_t>(a.size()) - 8};
  constexpr float kGuard = -12345.0f;
  const float scalars[] = {2.5f, -0.0f, 0.0f, kInf, kNaN, 1e-40f, -3.0f};
  for (BinaryF32 op : kAllBinary)
    for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
      if (!isa_supported(v->isa)) continue;
      for (int64_t n : lengths)
        for (int steps = 0; steps < 4; ++steps) {
          const int64_t as = steps & 1 ? 0 : 1, bs = steps & 2 ? 0 : 1;
          for (float scalar : scalars) {
            const int64_t offset = (n + steps) % 4;
            std::vector<float> aa(a.begin(), a.begin() + n + 8), bb(b.begin(), b.begin() + n + 8);
            if (as == 0) aa[offset] = scalar;
            if (bs == 0) bb[offset + 1] = scalar;
            std::vector<float> want(n), y(n + 8, kGuard);
            ref().binary(op, aa.data() + offset, as, bb.data() + offset + 1, bs, want.data(), n);
            v->binary(op, aa.data() + offset, as, bb.data() + offset + 1, bs, y.data() + 2, n);
            bool ok = y[0] == kGuard && y[1] == kGuard;
            for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(y[2 + i], want[i]);
            for (int64_t i = 2 + n; i < n + 8; ++i) ok &= y[i] == kGuard;
            if (as == 1) {  // in place over a
              std::vector<float> z(aa);
              v->binary(op, z.data() + offset, 1, bb.data() + offset + 1, bs, z.data() + offset, n);
              for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(z[offset + i], want[i]);
            }
            EI_CHECK_MSG(ok, std::string(v->name) + " " + binary_name(op) + " n=" + std::to_string(n) + " steps=" +
                                 std::to_string(as) + "," + std::to_string(bs) + " scalar=" + hex(scalar));
            if (as == 1 && bs == 1) break;  // the scalar is unused
          }
        }
    }
}

// A one-step plan on the runtime: returns the output and the step's kernel name.
std::vector<float> run_step(const char* op, const std::vector<std::vector<int64_t>>& in_dims,
                            const std::vector<std::vector<float>>& ins, const std::vector<int64_t>& out_dims,
                            int threads, std::vector<float> floats, std::string& kernel) {
  edgeinfer::testing::PlanBuilder b;
  std::vector<int32_t> ids;
  for (const auto& d : in_dims) ids.push_back(b.input(DType::kFloat32, d));
  const int32_t y = b.output(DType::kFloat32, out_dims);
  b.step(op, ids, {y}, {}, std::move(floats));
  ModelOptions o;
  o.threads = threads;
  auto model = Model::create(b.plan, o);
  std::vector<float> out(static_cast<size_t>(b.plan.tensors[y].elements()));
  std::vector<const void*> inputs;
  for (const auto& v : ins) inputs.push_back(v.data());
  void* outs[] = {out.data()};
  model->run(inputs.data(), outs);
  kernel = model->stats().steps[0].kernel;
  return out;
}

EI_TEST("runtime: float32 steps name their elementwise variant; 1 and 3 threads give the same bits") {
  const std::string isa = [] {
    const std::string n = kernels().elementwise_f32->name;
    return n.substr(n.rfind("__"));
  }();
  const int64_t n = 3 * 16384 + 77;  // above the parallel threshold, not a multiple of the block
  std::vector<float> x(n), w(n), s(8 * 5);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 4.0f);
  for (auto& v : x) v = nd(rng);
  for (auto& v : w) v = nd(rng);
  for (auto& v : s) v = nd(rng);
  x[100] = kNaN, x[n - 1] = -kInf, x[n - 2] = kInf;
  struct Case {
    const char* op;
    std::vector<float> floats;
    UnaryF32 kernel_op;
  };
  const Case cases[] = {{"Sigmoid", {}, UnaryF32::kSigmoid}, {"Tanh", {}, UnaryF32::kTanh}, {"Exp", {}, UnaryF32::kExp},
                        {"Relu", {}, UnaryF32::kRelu},       {"Clip", {0.0f, 6.0f}, UnaryF32::kClip},
                        {"LeakyRelu", {0.1f}, UnaryF32::kLeakyRelu}};
  for (const Case& c : cases) {
    std::string k1, k3;
    const auto one = run_step(c.op, {{1, n}}, {x}, {1, n}, 1, c.floats, k1);
    const auto three = run_step(c.op, {{1, n}}, {x}, {1, n}, 3, c.floats, k3);
    EI_CHECK_MSG(k1 == std::string("f32_v") + unary_name(c.kernel_op) + isa, c.op + std::string(": ") + k1);
    std::vector<float> want(n);
    float p0, p1;
    p0 = c.floats.empty() ? 0.0f : c.floats[0];
    p1 = c.floats.size() < 2 ? 0.0f : c.floats[1];
    kernels().elementwise_f32->unary(c.kernel_op, x.data(), want.data(), n, p0, p1);
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(one[i], want[i]) && same_bits_or_nan(three[i], want[i]);
    EI_CHECK_MSG(ok, c.op);
  }
  // Mul same shape, by a scalar, and the SE-block broadcast [8, 5, H*W] * [8, 5, 1] (rows of a scalar).
  {
    std::string k1, k3;
    const auto one = run_step("Mul", {{n}, {n}}, {x, w}, {n}, 1, {}, k1);
    const auto three = run_step("Mul", {{n}, {n}}, {x, w}, {n}, 3, {}, k3);
    EI_CHECK_MSG(k1 == "f32_vmul" + isa, k1);
    bool ok = true;
    for (int64_t i = 0; i < n; ++i) ok &= same_bits_or_nan(one[i], x[i] * w[i]) && same_bits_or_nan(three[i], x[i] * w[i]);
    EI_CHECK(ok);
  }
  {
    const int64_t hw = 1231;
    std::vector<float> a(8 * 5 * hw);
    for (auto& v : a) v = nd(rng);
    for (int threads : {1, 3}) {
      std::string k;
      const auto got = run_step("Mul", {{8, 5, hw}, {8, 5, 1}}, {a, s}, {8, 5, hw}, threads, {}, k);
      const auto got_rev = run_step("Sub", {{8, 5, 1}, {8, 5, hw}}, {s, a}, {8, 5, hw}, threads, {}, k);
      bool ok = true;
      for (int64_t r = 0; r < 8 * 5; ++r)
        for (int64_t i = 0; i < hw; ++i) {
          ok &= same_bits_or_nan(got[r * hw + i], a[r * hw + i] * s[r]);
          ok &= same_bits_or_nan(got_rev[r * hw + i], s[r] - a[r * hw + i]);
        }
      EI_CHECK_MSG(ok, "broadcast rows, threads " + std::to_string(threads));
      EI_CHECK_MSG(k == "f32_vsub" + isa, k);
    }
  }
  {  // [4, 1] + [1, 3]: inner rows of 3 stay on the plain loop (too short for a kernel call per row)
    std::string k;
    const auto got = run_step("Add", {{4, 1}, {1, 3}}, {{1, 2, 3, 4}, {10, 20, 30}}, {4, 3}, 1, {}, k);
    EI_CHECK(got == (std::vector<float>{11, 21, 31, 12, 22, 32, 13, 23, 33, 14, 24, 34}));
    EI_CHECK_MSG(k == "ref", k);
  }
}

// Softmax / LogSoftmax rows of every variant against double precision: lengths around the vector widths,
// in place and not, nothing written past the rows, and the NaN rules (NaN or +inf in a row, or only -inf).
EI_TEST("softmax_rows of every variant: double-precision values, NaN rows, in place, nothing written outside") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
  int checked = 0;
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (int64_t n : {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 150, 1000}) {
      for (int log_softmax = 0; log_softmax < 2; ++log_softmax) {
        for (int in_place = 0; in_place < 2; ++in_place) {
          const int64_t rows = 5;
          std::vector<float> x(static_cast<size_t>(rows * n + 2), 0.0f);
          for (auto& e : x) e = dist(rng);
          if (n > 2) {
            x[static_cast<size_t>(1 + 1 * n + n / 2)] = kNaN;                      // row 1: a NaN
            x[static_cast<size_t>(1 + 2 * n)] = kInf;                              // row 2: +inf
            for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(1 + 3 * n + i)] = -kInf;  // row 3: -inf only
          }
          std::vector<float> y(x.size(), 12345.0f);
          if (in_place) y = x;
          v->softmax_rows(x.data() + 1, (in_place ? y.data() : y.data()) + 1, rows, n, log_softmax != 0);
          if (in_place) {
            // x was copied into y first; run on y in place.
            std::vector<float> z = x;
            v->softmax_rows(z.data() + 1, z.data() + 1, rows, n, log_softmax != 0);
            y = z;
          }
          EI_CHECK_MSG(in_place ? y.front() == x.front() && y.back() == x.back() : y.front() == 12345.0f && y.back() == 12345.0f,
                       std::string(v->name) + " softmax wrote outside its rows");
          for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x.data() + 1 + r * n;
            const float* yr = y.data() + 1 + r * n;
            const bool nan_row = n > 2 && (r == 1 || r == 2 || r == 3);
            double m = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; ++i) m = std::max<double>(m, xr[i]);
            for (int64_t i = 0; i < n; ++i) sum += std::exp(double(xr[i]) - m);
            int bad = 0;
            for (int64_t i = 0; i < n; ++i) {
              ++checked;
              if (nan_row) {
                if (!std::isnan(yr[i]) && bad++ == 0) EI_CHECK_MSG(false, std::string(v->name) + " row " + std::to_string(r) + " should be NaN");
                continue;
              }
              const double want = log_softmax ? double(xr[i]) - m - std::log(sum) : std::exp(double(xr[i]) - m) / sum;
              // x - m rounds to float (half an ulp of |x - m|, an absolute error of the exponent) and the sum gathers
              // n roundings: relative error ~ (|x - m| + n) * 2^-23 beside the exp's own few ulps.
              const double rel = 2e-6 + 1.2e-7 * (std::fabs(double(xr[i]) - m) + double(n));
              const double tol = log_softmax ? rel * (1 + std::fabs(want)) : rel * want + 1e-37;
              if (!(std::fabs(yr[i] - want) <= tol) && bad++ == 0)
                EI_CHECK_MSG(false, std::string(v->name) + (log_softmax ? " log" : "") + " n " + std::to_string(n) + " got " +
                                        std::to_string(double(yr[i]) / want) + "x want " + std::to_string(want) + " at " + std::to_string(i) + " row " + std::to_string(r));
            }
          }
        }
      }
    }
  }
  EI_CHECK(checked > 0);
}

EI_TEST("pool_taps of every variant is bit-exact with the reference: max with NaN / -0 / -inf, sum, 0 taps, tails") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(-5.0f, 5.0f);
  const ElementwiseF32Variant* ref = elementwise_f32_variants().front();
  int checked = 0;
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (int64_t n : {1, 3, 4, 7, 8, 15, 16, 17, 31, 33, 64, 65, 100}) {
      for (int64_t taps : {0, 1, 2, 9, 25}) {
        for (int max = 0; max < 2; ++max) {
          // Taps at scattered offsets in one buffer with guard floats around every run.
          const int64_t stride = n + 5;
          std::vector<float> x(static_cast<size_t>(stride * (taps + 1) + 8));
          for (auto& e : x) e = dist(rng);
          std::vector<int64_t> offsets;
          for (int64_t t = 0; t < taps; ++t) offsets.push_back(((t * 7) % (taps + 1)) * stride + 2);
          if (taps >= 2 && n >= 3) {
            x[static_cast<size_t>(offsets[1] + n - 1)] = kNaN;   // NaN in a later tap, last channel
            x[static_cast<size_t>(offsets[0])] = kNaN;           // NaN in the first tap, first channel
            x[static_cast<size_t>(offsets[0] + 1)] = -0.0f;      // -0 against +0
            x[static_cast<size_t>(offsets[1] + 1)] = 0.0f;
            for (int64_t t = 0; t < taps; ++t) x[static_cast<size_t>(offsets[t] + n / 2)] = -kInf;
          }
          std::vector<float> want(static_cast<size_t>(n + 2), 777.0f), got(static_cast<size_t>(n + 2), 777.0f);
          ref->pool_taps(x.data(), offsets.data(), taps, n, want.data() + 1, max != 0);
          v->pool_taps(x.data(), offsets.data(), taps, n, got.data() + 1, max != 0);
          EI_CHECK_MSG(got.front() == 777.0f && got.back() == 777.0f, std::string(v->name) + " pool_taps wrote outside y");
          for (int64_t j = 0; j < n; ++j) {
            const float a = got[static_cast<size_t>(j + 1)], b = want[static_cast<size_t>(j + 1)];
            const bool same = (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, sizeof a) == 0;
            ++checked;
            if (!same) {
              EI_CHECK_MSG(false, std::string(v->name) + " pool_taps n " + std::to_string(n) + " taps " + std::to_string(taps) +
                                      (max ? " max" : " sum") + " at " + std::to_string(j) + ": " + std::to_string(a) + " vs " + std::to_string(b));
              break;
            }
          }
          if (taps >= 2 && n >= 3 && max) {
            EI_CHECK(std::isnan(want[1]) && std::isnan(want[static_cast<size_t>(n)]));  // NaN from tap 0 and from tap 1
          }
          if (taps == 0) EI_CHECK(want[1] == (max ? -kInf : 0.0f));
        }
      }
    }
  }
  EI_CHECK(checked > 0);
}

EI_TEST("the table picks a compiled, supported variant") {
  const ElementwiseF32Variant* chosen = kernels().elementwise_f32;
  EI_CHECK(chosen != nullptr);
  bool listed = false;
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) listed |= v == chosen;
  EI_CHECK(listed);
  EI_CHECK(isa_supported(chosen->isa));
  std::printf("elementwise_f32: %s\n", chosen->name);
}

}  // namespace

EI_TEST_MAIN()
