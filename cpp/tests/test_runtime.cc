// Native executor: small hand-built plans per op against expected values, If, int64 shape ops, the
// thread pool, >= 30 malformed plans that must be rejected with kModelInvalid, and no heap allocation
// per run (counting operator new).
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/runtime.h"
#include "runtime/thread_pool.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"
#include "tests/plan_builder.h"

// ------------------------------------------------------------ allocation counting (no-heap test)

using namespace edgeinfer;
using edgeinfer::testing::PlanBuilder;

namespace {

constexpr DType F32 = DType::kFloat32, I64 = DType::kInt64, I32 = DType::kInt32, BOOL = DType::kBool;

std::unique_ptr<Model> make(PlanBuilder& b, int threads = 1, Precision precision = Precision::kFloat32) {
  ModelOptions o;
  o.threads = threads;
  o.precision = precision;
  return Model::create(b.plan, o);
}

// Runs a plan with one output of T.
template <typename T>
std::vector<T> run1(PlanBuilder& b, std::vector<const void*> inputs, int threads = 1,
                    Precision precision = Precision::kFloat32) {
  auto model = make(b, threads, precision);
  std::vector<T> out(static_cast<size_t>(b.plan.tensors[b.plan.outputs[0]].elements()));
  void* outs[] = {out.data()};
  model->run(inputs.data(), outs);
  return out;
}

bool near(float a, float b, float tol) { return std::fabs(a - b) <= tol * std::max(1.0f, std::fabs(b)); }

template <typename T>
void check_equal(const std::vector<T>& got, const std::vector<T>& want, const char* what) {
  EI_CHECK_MSG(got.size() == want.size(), what);
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    EI_CHECK_MSG(got[i] == want[i], std::string(what) + " [" + std::to_string(i) + "] = " + std::to_string(got[i]) +
                                        ", want " + std::to_string(want[i]));
}

void check_near(const std::vector<float>& got, const std::vector<float>& want, float tol, const char* what) {
  EI_CHECK_MSG(got.size() == want.size(), what);
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    EI_CHECK_MSG(near(got[i], want[i], tol), std::string(what) + " [" + std::to_string(i) + "] = " + std::to_string(got[i]) +
                                                 ", want " + std::to_string(want[i]));
}

std::vector<float> iota(size_t n, float start = 0.0f, float step = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = start + step * static_cast<float>(i);
  return v;
}

std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

}  // namespace

// ------------------------------------------------------------------ element-wise
EI_TEST("runtime: binary broadcast [2,3,1] + [1,4], Sub scalar, Mul int64, Div int by zero") {
  {
    PlanBuilder b;
    const int32_t x = b.input(F32, {2, 3, 1});
    const int32_t y = b.constant<float>(F32, {1, 4}, {0, 10, 20, 30});
    const int32_t t = b.arena(F32, {2, 3, 4});
    const int32_t s = b.constant<float>(F32, {}, {1.5f});
    const int32_t out = b.output(F32, {2, 3, 4});
    b.step("Add", {x, y}, {t});
    b.step("Sub", {t, s}, {out});
    const auto xv = iota(6);
    const auto got = run1<float>(b, {xv.data()});
    std::vector<float> want;
    for (int i = 0; i < 6; ++i)
      for (int j = 0; j < 4; ++j) want.push_back(static_cast<float>(i) + 10.0f * j - 1.5f);
    check_near(got, want, 0, "add/sub");
  }
  {
    PlanBuilder b;
    const int32_t x = b.input(I64, {3, 1});
    const int32_t y = b.input(I64, {2});
    const int32_t t = b.arena(I64, {3, 2});
    const int32_t out = b.output(I64, {3, 2});
    b.step("Mul", {x, y}, {t});
    b.step("Div", {t, y}, {out});
    std::vector<int64_t> xv = {1, -7, 5}, yv = {0, 3};
    check_equal(run1<int64_t>(b, {xv.data(), yv.data()}), std::vector<int64_t>{0, 1, 0, -7, 0, 5}, "int64 mul/div");
  }
  {
    PlanBuilder b;  // Mod: python-style for ints, fmod flag
    const int32_t x = b.input(I32, {4});
    const int32_t y = b.constant<int32_t>(I32, {4}, {3, -3, 3, 0});
    const int32_t o1 = b.output(I32, {4});
    b.step("Mod", {x, y}, {o1});
    std::vector<int32_t> xv = {-7, 7, 7, 5};
    check_equal(run1<int32_t>(b, {xv.data()}), std::vector<int32_t>{2, -2, 1, 0}, "mod");
  }
  {
    PlanBuilder b;  // Pow float^int64, Max, Min
    const int32_t x = b.input(F32, {3});
    const int32_t e = b.constant<int64_t>(I64, {1}, {2});
    const int32_t p = b.arena(F32, {3});
    const int32_t c = b.constant<float>(F32, {1}, {2.0f});
    const int32_t m = b.arena(F32, {3});
    const int32_t out = b.output(F32, {3});
    b.step("Pow", {x, e}, {p});
    b.step("Max", {p, c}, {m});
    b.step("Min", {m, c}, {out});  // all 2 except < 2
    std::vector<float> xv = {-3, 1, 0.5f};
    check_near(run1<float>(b, {xv.data()}), {2, 2, 2}, 0, "pow/max/min");
  }
}

EI_TEST("runtime: comparisons, logic and Where with broadcasting") {
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3});
  const int32_t th = b.constant<float>(F32, {3}, {0, 1, 2});
  const int32_t gt = b.arena(BOOL, {2, 3});
  const int32_t eq = b.arena(BOOL, {2, 3});
  const int32_t either = b.arena(BOOL, {2, 3});
  const int32_t notv = b.arena(BOOL, {2, 3});
  const int32_t zero = b.constant<float>(F32, {1}, {-1.0f});
  const int32_t out = b.output(F32, {2, 3});
  b.step("Greater", {x, th}, {gt});
  b.step("Equal", {x, th}, {eq});
  b.step("Or", {gt, eq}, {either});  // x >= th
  b.step("Not", {either}, {notv});   // x < th
  b.step("Where", {notv, zero, x}, {out});
  std::vector<float> xv = {1, 1, 1, -5, 2, 3};
  check_near(run1<float>(b, {xv.data()}), {1, 1, -1, -1, 2, 3}, 0, "where");
}

EI_TEST("runtime: unary math against libm") {
  const std::vector<float> xv = {-100.0f, -20.0f, -5.5f, -1.0f, -0.3f, -1e-4f, 0.0f, 1e-4f, 0.25f, 1.0f, 3.0f, 9.0f, 20.0f, 80.0f};
  const int64_t n = static_cast<int64_t>(xv.size());
  struct Case {
    const char* op;
    std::function<float(float)> ref;
    float tol;
  };
  const std::vector<Case> cases = {
      {"Relu", [](float x) { return x > 0 ? x : 0.0f; }, 0},
      {"Sigmoid", [](float x) { return 1.0f / (1.0f + std::exp(-x)); }, 2e-6f},
      {"Tanh", [](float x) { return std::tanh(x); }, 2e-6f},
      {"Exp", [](float x) { return std::exp(x); }, 4e-7f},
      {"Erf", [](float x) { return std::erf(x); }, 2e-6f},
      {"Neg", [](float x) { return -x; }, 0},
      {"Abs", [](float x) { return std::fabs(x); }, 0},
      {"Floor", [](float x) { return std::floor(x); }, 0},
      {"Ceil", [](float x) { return std::ceil(x); }, 0},
  };
  for (const Case& c : cases) {
    PlanBuilder b;
    const int32_t x = b.input(F32, {n});
    const int32_t out = b.output(F32, {n});
    b.step(c.op, {x}, {out});
    const auto got = run1<float>(b, {xv.data()});
    for (size_t i = 0; i < xv.size(); ++i) {
      const float want = c.ref(xv[i]);
      const bool ok = std::isinf(want) ? got[i] == want : std::fabs(got[i] - want) <= c.tol * std::max(1.0f, std::fabs(want)) ||
                                                             (want != 0 && std::fabs(got[i] - want) <= 4e-7f * std::fabs(want));
      EI_CHECK_MSG(ok, std::string(c.op) + "(" + std::to_string(xv[i]) + ") = " + std::to_string(got[i]) + ", want " +
                           std::to_string(want));
    }
  }
  {
    PlanBuilder b;  // LeakyRelu, Clip, Sqrt, Log, Reciprocal on positive values
    const int32_t x = b.input(F32, {4});
    const int32_t l = b.arena(F32, {4});
    const int32_t c = b.output(F32, {4});
    b.step("LeakyRelu", {x}, {l}, {}, {0.1f});
    b.step("Clip", {l}, {c}, {}, {-0.15f, 2.0f});
    std::vector<float> xv2 = {-1.0f, -3.0f, 1.0f, 5.0f};
    check_near(run1<float>(b, {xv2.data()}), {-0.1f, -0.15f, 1.0f, 2.0f}, 1e-7f, "leaky/clip");
  }
}

EI_TEST("runtime: Cast between dtypes, saturating and NaN-safe") {
  PlanBuilder b;
  const int32_t x = b.input(F32, {6});
  const int32_t i32 = b.output(I32, {6});
  const int32_t bl = b.output(BOOL, {6});
  const int32_t h = b.arena(DType::kFloat16, {6});
  const int32_t back = b.output(F32, {6});
  const int32_t i64 = b.arena(I64, {6});
  const int32_t f = b.output(F32, {6});
  b.step("Cast", {x}, {i32});
  b.step("Cast", {x}, {bl});
  b.step("Cast", {x}, {h});
  b.step("Cast", {h}, {back});
  b.step("Cast", {i32}, {i64});
  b.step("Cast", {i64}, {f});
  auto model = make(b);
  std::vector<float> xv = {-2.7f, 0.0f, 3.9f, 1e20f, std::nanf(""), 65504.0f};
  std::vector<int32_t> o_i32(6);
  std::vector<uint8_t> o_b(6);
  std::vector<float> o_back(6), o_f(6);
  void* outs[] = {o_i32.data(), o_b.data(), o_back.data(), o_f.data()};
  const void* ins[] = {xv.data()};
  model->run(ins, outs);
  check_equal(o_i32, std::vector<int32_t>{-2, 0, 3, std::numeric_limits<int32_t>::max(), 0, 65504}, "f32->i32");
  check_equal(o_b, std::vector<uint8_t>{1, 0, 1, 1, 1, 1}, "f32->bool");
  EI_CHECK(near(o_back[0], -2.69921875f, 0) && o_back[1] == 0.0f && std::isinf(o_back[3]) && std::isnan(o_back[4]) &&
           o_back[5] == 65504.0f);
  EI_CHECK(o_f[0] == -2.0f && o_f[3] == 2147483647.0f);
}

EI_TEST("runtime: Gelu and LayerNorm (+GELU) through the kernel table") {
  const int64_t rows = 3, width = 37;
  const auto xv = random_floats(static_cast<size_t>(rows * width), 1, -3, 3);
  const auto gamma = random_floats(static_cast<size_t>(width), 2, 0.5f, 1.5f);
  const auto beta = random_floats(static_cast<size_t>(width), 3);
  PlanBuilder b;
  const int32_t x = b.input(F32, {rows, 1, width});
  const int32_t g = b.constant(F32, {width}, gamma);
  const int32_t be = b.constant(F32, {width}, beta);
  const int32_t ln = b.output(F32, {rows, 1, width});
  const int32_t lng = b.output(F32, {rows, 1, width});
  const int32_t ge = b.output(F32, {rows, 1, width});
  b.step("LayerNorm", {x, g, be}, {ln}, {1, 0}, {1e-5f});  // axis 1: dims[1..] = one row
  b.step("LayerNorm", {x, g, -1}, {lng}, {2, 2}, {1e-5f});
  b.step("Gelu", {x}, {ge}, {0});
  auto model = make(b);
  std::vector<float> o1(xv.size()), o2(xv.size()), o3(xv.size());
  void* outs[] = {o1.data(), o2.data(), o3.data()};
  const void* ins[] = {xv.data()};
  model->run(ins, outs);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < width; ++i) mean += xv[static_cast<size_t>(r * width + i)];
    mean /= width;
    for (int64_t i = 0; i < width; ++i) var += std::pow(xv[static_cast<size_t>(r * width + i)] - mean, 2);
    var /= width;
    for (int64_t i = 0; i < width; ++i) {
      const size_t k = static_cast<size_t>(r * width + i);
      const double norm = (xv[k] - mean) / std::sqrt(var + 1e-5);
      const double want1 = norm * gamma[static_cast<size_t>(i)] + beta[static_cast<size_t>(i)];
      const double z = norm * gamma[static_cast<size_t>(i)];
      const double want2 = 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
      const double want3 = 0.5 * xv[k] * (1 + std::erf(xv[k] / std::sqrt(2.0)));
      EI_CHECK(std::fabs(o1[k] - want1) < 1e-4);
      EI_CHECK(std::fabs(o2[k] - want2) < 1e-4);
      EI_CHECK(std::fabs(o3[k] - want3) < 1e-5);
    }
  }
}

// ------------------------------------------------------------------ NaN / +-inf like ONNX Runtime
namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN(), kInf = std::numeric_limits<float>::infinity();
constexpr float kBig = 3.4e38f;

// NaN where want is NaN, the same infinity, else within tol (relative above 1).
void check_special(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  EI_CHECK_MSG(got.size() == want.size(), what);
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    const bool ok = std::isnan(want[i])   ? std::isnan(got[i])
                    : std::isinf(want[i]) ? got[i] == want[i]
                                          : std::isfinite(got[i]) && near(got[i], want[i], 1e-6f);
    EI_CHECK_MSG(ok, what + " [" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", want " + std::to_string(want[i]));
  }
}

std::vector<float> run_unary(const char* op, const std::vector<float>& xv, std::vector<int64_t> ints = {},
                             std::vector<float> floats = {}) {
  PlanBuilder b;
  const int64_t n = static_cast<int64_t>(xv.size());
  const int32_t x = b.input(F32, {n});
  const int32_t y = b.output(F32, {n});
  b.step(op, {x}, {y}, std::move(ints), std::move(floats));
  return run1<float>(b, {xv.data()});
}
}  // namespace

EI_TEST("runtime: NaN / +-inf through element-wise ops as ONNX Runtime 1.30 returns them") {
  // The expected rows were measured with onnxruntime-node 1.30 on single-op models (test/nonfinite.test.ts
  // runs whole models against it); 3.4e38 is a large finite value.
  const std::vector<float> x = {kNaN, kInf, -kInf, 1.0f, -1.0f, 0.0f, kBig, -kBig};
  check_special(run_unary("Relu", x), {kNaN, kInf, 0, 1, 0, 0, kBig, 0}, "Relu");
  check_special(run_unary("LeakyRelu", x, {}, {0.2f}), {kNaN, kInf, -kInf, 1, -0.2f, 0, kBig, -0.2f * kBig}, "LeakyRelu");
  check_special(run_unary("Clip", x, {}, {-1.0f, 1.0f}), {kNaN, 1, -1, 1, -1, 0, 1, -1}, "Clip");
  // A missing max is FLT_MAX (so +inf becomes FLT_MAX, as in ORT); a NaN bound is no bound.
  const float fmax = std::numeric_limits<float>::max();
  check_special(run_unary("Clip", x, {}, {0.0f, fmax}), {kNaN, fmax, 0, 1, 0, 0, kBig, 0}, "Clip(min 0)");
  check_special(run_unary("Clip", x, {}, {kNaN, 1.0f}), {kNaN, 1, -kInf, 1, -1, 0, 1, -kBig}, "Clip(NaN, 1)");
  check_special(run_unary("Clip", x, {}, {-1.0f, kNaN}), {kNaN, kInf, -1, 1, -1, 0, kBig, -1}, "Clip(-1, NaN)");
  check_special(run_unary("Sigmoid", x), {kNaN, 1, 0, 0.7310586f, 0.26894143f, 0.5f, 1, 0}, "Sigmoid");
  check_special(run_unary("Tanh", x), {kNaN, 1, -1, 0.7615942f, -0.7615942f, 0, 1, -1}, "Tanh");
  check_special(run_unary("Erf", x), {kNaN, 1, -1, 0.8427008f, -0.8427008f, 0, 1, -1}, "Erf");
  check_special(run_unary("Exp", x), {kNaN, kInf, 0, 2.7182817f, 0.36787945f, 1, kInf, 0}, "Exp");
  check_special(run_unary("Sqrt", x), {kNaN, kInf, kNaN, 1, kNaN, 0, std::sqrt(kBig), kNaN}, "Sqrt");
  check_special(run_unary("Log", x), {kNaN, kInf, kNaN, 0, kNaN, -kInf, std::log(kBig), kNaN}, "Log");
  // Gelu (kernel table): -inf -> NaN (-inf * 0), -3.4e38 -> -0 (ORT: 0).
  check_special(run_unary("Gelu", x, {0}), {kNaN, kInf, kNaN, 0.8413447f, -0.15865526f, 0, kBig, 0}, "Gelu");
  check_special(run_unary("Gelu", x, {1}), {kNaN, kInf, kNaN, 0.841192f, -0.158808f, 0, kBig, 0}, "Gelu tanh");
  // Max / Min: NaN in either input gives NaN; with ints [1] (a Clip bound computed at run time) a NaN
  // bound is ignored and a NaN in x stays.
  const auto binary = [&](const char* op, const std::vector<float>& a, const std::vector<float>& c,
                          std::vector<int64_t> ints = {}) {
    PlanBuilder b;
    const int64_t n = static_cast<int64_t>(a.size());
    const int32_t xa = b.input(F32, {n});
    const int32_t xc = b.input(F32, {static_cast<int64_t>(c.size())});
    const int32_t y = b.output(F32, {n});
    b.step(op, {xa, xc}, {y}, std::move(ints));
    return run1<float>(b, {a.data(), c.data()});
  };
  const std::vector<float> zero = {0.0f}, nan1 = {kNaN};
  check_special(binary("Max", x, zero), {kNaN, kInf, 0, 1, 0, 0, kBig, 0}, "Max(x, 0)");
  check_special(binary("Min", x, zero), {kNaN, 0, -kInf, 0, -1, 0, 0, -kBig}, "Min(x, 0)");
  check_special(binary("Max", x, nan1), std::vector<float>(x.size(), kNaN), "Max(x, NaN)");
  check_special(binary("Min", x, nan1), std::vector<float>(x.size(), kNaN), "Min(x, NaN)");
  check_special(binary("Max", x, nan1, {1}), x, "clip Max(x, NaN)");
  check_special(binary("Min", x, nan1, {1}), x, "clip Min(x, NaN)");
  check_special(binary("Max", x, zero, {1}), {kNaN, kInf, 0, 1, 0, 0, kBig, 0}, "clip Max(x, 0)");
  const std::vector<float> row = {0.5f, -2.0f, 3.0f, 0.0f, 1.0f, 2.0f, 7.0f, -7.0f};
  check_special(binary("Max", row, x), {kNaN, kInf, 3, 1, 1, 2, kBig, -7}, "Max(row, x)");
  check_special(binary("Min", row, x), {kNaN, -2, -kInf, 0, -1, 0, 7, -kBig}, "Min(row, x)");
}

EI_TEST("runtime: NaN / +-inf through reductions, pooling, Softmax, LayerNorm and fused Gemm / MatMul") {
  // ReduceMax / ReduceMin / GlobalMaxPool / MaxPool: a NaN anywhere in the window gives NaN (ORT 1.30 on x86
  // keeps it only at some positions; see reduce.cc / pool_f32.cc); +-inf are ordinary values.
  {
    PlanBuilder b;
    const int32_t x = b.input(F32, {4, 4});
    const int32_t mx = b.output(F32, {4}), mn = b.output(F32, {4}), mxc = b.output(F32, {4}), mean = b.output(F32, {4});
    b.step("ReduceMax", {x}, {mx}, {0, 1});
    b.step("ReduceMin", {x}, {mn}, {0, 1});
    b.step("ReduceMax", {x}, {mxc}, {0, 0});
    b.step("ReduceMean", {x}, {mean}, {0, 1});
    const std::vector<float> xv = {kNaN, kInf, -kInf, 1,  -1, 0, kBig, -kBig,  5, -5, 2, -2,  0.5f, kNaN, 7, -7};
    auto model = make(b);
    std::vector<float> o1(4), o2(4), o3(4), o4(4);
    void* outs[] = {o1.data(), o2.data(), o3.data(), o4.data()};
    const void* ins[] = {xv.data()};
    model->run(ins, outs);
    check_special(o1, {kNaN, kBig, 5, kNaN}, "ReduceMax rows");
    check_special(o2, {kNaN, -kBig, -5, kNaN}, "ReduceMin rows");
    check_special(o3, {kNaN, kNaN, kBig, 1}, "ReduceMax columns");
    check_special(o4, {kNaN, 0, 0, kNaN}, "ReduceMean rows");
  }
  {
    PlanBuilder b;
    const int32_t x = b.input(F32, {1, 2, 4, 4});
    const int32_t mp = b.output(F32, {1, 2, 2, 2}), gp = b.output(F32, {1, 2, 1, 1});
    b.step("MaxPool", {x}, {mp}, {0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1});
    b.step("GlobalMaxPool", {x}, {gp});
    std::vector<float> xv = {kNaN, kInf, -kInf, 1,  -1, 0, kBig, -kBig,  5, -5, 2, -2,  0.5f, kNaN, 7, -7};
    for (int i = 0; i < 16; ++i) xv.push_back(static_cast<float>(i % 5) - (i == 9 ? kInf : 0.0f));
    auto model = make(b);
    std::vector<float> o1(8), o2(2);
    void* outs[] = {o1.data(), o2.data()};
    const void* ins[] = {xv.data()};
    model->run(ins, outs);
    check_special(o1, {kNaN, kBig, kNaN, 7,  4, 3, 3, 4}, "MaxPool");
    check_special(o2, {kNaN, 4}, "GlobalMaxPool");
  }
  {
    // Softmax / LogSoftmax, rows and an inner axis: a NaN or +inf in a row makes it all NaN (exp(inf - inf)),
    // -inf gives 0 / -inf, huge finite values stay ordered (ORT: [0, 0, 1, 0] and [-3.4e38, -3.4e38, 0, -inf]).
    PlanBuilder b;
    const int32_t x = b.input(F32, {4, 4});
    const int32_t sr = b.output(F32, {4, 4}), lr = b.output(F32, {4, 4}), sc = b.output(F32, {4, 4});
    b.step("Softmax", {x}, {sr}, {1});
    b.step("LogSoftmax", {x}, {lr}, {1});
    b.step("Softmax", {x}, {sc}, {0});
    const std::vector<float> xv = {kNaN, kInf, -kInf, 1,  -1, 0, kBig, -kBig,  0, -kInf, 0, -kInf,  0.5f, kNaN, 7, -7};
    auto model = make(b);
    std::vector<float> o1(16), o2(16), o3(16);
    void* outs[] = {o1.data(), o2.data(), o3.data()};
    const void* ins[] = {xv.data()};
    model->run(ins, outs);
    const std::vector<float> nan4(4, kNaN);
    check_special(o1, {kNaN, kNaN, kNaN, kNaN,  0, 0, 1, 0,  0.5f, 0, 0.5f, 0,  kNaN, kNaN, kNaN, kNaN}, "Softmax rows");
    check_special(o2, {kNaN, kNaN, kNaN, kNaN,  -kBig, -kBig, 0, -kInf,  -0.6931472f, -kInf, -0.6931472f, -kInf,
                       kNaN, kNaN, kNaN, kNaN}, "LogSoftmax rows");
    // Columns: [NaN, -1, 0, 0.5] NaN; [inf, 0, -inf, NaN] NaN; [-inf, 3.4e38, 0, 7]; [1, -3.4e38, -inf, -7].
    const float e8 = std::exp(-8.0f) / (1 + std::exp(-8.0f)), e1 = 1 / (1 + std::exp(-8.0f));
    check_special(o3, {kNaN, kNaN, 0, e1,  kNaN, kNaN, 1, 0,  kNaN, kNaN, 0, 0,  kNaN, kNaN, 0, e8}, "Softmax columns");
  }
  {
    // LayerNorm (kernel table): a row with NaN / inf is all NaN; a row of huge equal values normalises to
    // beta (ORT's Welford keeps the mean finite).
    PlanBuilder b;
    const int32_t x = b.input(F32, {4, 5});
    const int32_t g = b.constant(F32, {5}, std::vector<float>(5, 2.0f));
    const int32_t be = b.constant(F32, {5}, std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f, 0.5f});
    const int32_t y = b.output(F32, {4, 5});
    b.step("LayerNorm", {x, g, be}, {y}, {1, 0}, {1e-5f});
    const std::vector<float> xv = {1, 2, kNaN, 4, 5,  1, kInf, 3, 4, 5,  -kInf, 2, 3, 4, 5,  kBig, kBig, kBig, kBig, kBig};
    std::vector<float> want(15, kNaN);
    for (float v : {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}) want.push_back(v);
    check_special(run1<float>(b, {xv.data()}), want, "LayerNorm");
  }
  {
    // Gemm + fused Relu / Clip and MatMul + fused Relu: an inf input row gives +-inf / NaN through the
    // product, Relu keeps NaN (ORT), Clip maps +-inf to its bounds and keeps NaN.
    const int64_t m = 3, k = 4, n = 5;
    const auto wv = random_floats(static_cast<size_t>(k * n), 41, 0.1f, 1.0f);  // positive: row sums keep a sign
    std::vector<float> xv = random_floats(static_cast<size_t>(m * k), 42);
    xv[0] = kNaN;       // row 0: NaN everywhere
    xv[k] = kInf;       // row 1: +inf everywhere
    xv[2 * k] = -kInf;  // row 2: -inf everywhere
    for (int variant = 0; variant < 3; ++variant) {
      PlanBuilder b;
      const int32_t x = b.input(F32, {m, k});
      const int32_t w = b.constant(F32, {k, n}, wv);
      const int32_t y = b.output(F32, {m, n});
      if (variant == 0) b.step("Gemm", {x, w}, {y}, {0, 0, 1}, {1.0f, 1.0f});                   // Relu
      if (variant == 1) b.step("Gemm", {x, w}, {y}, {0, 0, 6}, {1.0f, 1.0f, -0.5f, 0.5f});      // Clip
      if (variant == 2) b.step("MatMul", {x, w}, {y}, {1});                                     // Relu
      for (Precision precision : {Precision::kFloat32, Precision::kInt8}) {
        const auto got = run1<float>(b, {xv.data()}, 1, precision);
        std::vector<float> want;
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            if (precision == Precision::kInt8) want.push_back(kNaN);  // dynamic range NaN / inf: all NaN
            else if (i == 0) want.push_back(kNaN);
            else if (variant == 1) want.push_back(i == 1 ? 0.5f : -0.5f);
            else want.push_back(i == 1 ? kInf : 0.0f);
          }
        check_special(got, want, std::string("fused activation ") + std::to_string(variant) +
                                     (precision == Precision::kInt8 ? " int8" : " fp32"));
      }
    }
  }
}

// ------------------------------------------------------------------ data movement
EI_TEST("runtime: Transpose, Concat, Split, Expand, Reshape alias") {
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3, 4});
  const int32_t t = b.output(F32, {4, 2, 3});
  b.step("Transpose", {x}, {t}, {2, 0, 1});
  const int32_t c = b.output(F32, {2, 5, 4});
  const int32_t k = b.constant<float>(F32, {2, 2, 4}, iota(16, 100));
  b.step("Concat", {x, k}, {c}, {1});
  const int32_t s0 = b.output(F32, {2, 3, 1});
  const int32_t s1 = b.output(F32, {2, 3, 3});
  b.step("Split", {x}, {s0, s1}, {2});
  const int32_t e = b.output(F32, {2, 2, 3});
  const int32_t small = b.constant<float>(F32, {2, 1, 3}, {1, 2, 3, 4, 5, 6});
  b.step("Expand", {small}, {e});
  const int32_t r1 = b.arena(F32, {6, 4});
  const int32_t r2 = b.arena_at(F32, {24}, b.plan.tensors[r1].offset);  // same bytes: skipped
  const int32_t r3 = b.output(F32, {4, 6});
  b.step("Identity", {x}, {r1});
  b.step("Reshape", {r1}, {r2});
  b.step("Reshape", {r2}, {r3});
  auto model = make(b);
  EI_CHECK(model->stats().steps[5].kernel == "skip");
  const auto xv = iota(24);
  std::vector<float> ot(24), oc(40), os0(6), os1(18), oe(12), or3(24);
  void* outs[] = {ot.data(), oc.data(), os0.data(), os1.data(), oe.data(), or3.data()};
  const void* ins[] = {xv.data()};
  model->run(ins, outs);
  for (int i = 0; i < 4; ++i)
    for (int a = 0; a < 2; ++a)
      for (int j = 0; j < 3; ++j) EI_CHECK(ot[static_cast<size_t>(i * 6 + a * 3 + j)] == xv[static_cast<size_t>(a * 12 + j * 4 + i)]);
  for (int a = 0; a < 2; ++a)
    for (int j = 0; j < 5; ++j)
      for (int i = 0; i < 4; ++i) {
        const float want = j < 3 ? xv[static_cast<size_t>(a * 12 + j * 4 + i)] : 100.0f + static_cast<float>(a * 8 + (j - 3) * 4 + i);
        EI_CHECK(oc[static_cast<size_t>(a * 20 + j * 4 + i)] == want);
      }
  for (int r = 0; r < 6; ++r) {
    EI_CHECK(os0[static_cast<size_t>(r)] == xv[static_cast<size_t>(r * 4)]);
    for (int i = 0; i < 3; ++i) EI_CHECK(os1[static_cast<size_t>(r * 3 + i)] == xv[static_cast<size_t>(r * 4 + 1 + i)]);
  }
  check_near(oe, {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6}, 0, "expand");
  check_near(or3, xv, 0, "reshape chain");
}

// NCHW -> NHWC as the channels-last pass makes it: 2 to 4 channels take the planes-interleave path, others the
// tiled walk; 1-, 4- and 8-byte elements, batch 2, planes of odd sizes.
template <class T>
void check_nchw_to_nhwc(DType dtype, int64_t channels, int64_t h, int64_t w) {
  PlanBuilder b;
  const int64_t n = 2, plane = h * w, count = n * channels * plane;
  const int32_t x = b.input(dtype, {n, channels, h, w});
  const int32_t y = b.output(dtype, {n, h, w, channels});
  b.step("Transpose", {x}, {y}, {0, 2, 3, 1});
  auto model = make(b);
  std::vector<T> in(static_cast<size_t>(count)), out(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) in[static_cast<size_t>(i)] = static_cast<T>(i * 7 + 3);
  const void* ins[] = {in.data()};
  void* outs[] = {out.data()};
  model->run(ins, outs);
  for (int64_t b0 = 0; b0 < n; ++b0)
    for (int64_t p = 0; p < plane; ++p)
      for (int64_t c = 0; c < channels; ++c)
        EI_CHECK(out[static_cast<size_t>((b0 * plane + p) * channels + c)] == in[static_cast<size_t>((b0 * channels + c) * plane + p)]);
}

EI_TEST("runtime: Transpose NCHW -> NHWC for 1 to 6 channels (planes interleaved for 2 to 4)") {
  for (int64_t channels = 1; channels <= 6; ++channels) {
    check_nchw_to_nhwc<float>(F32, channels, 7, 9);
    check_nchw_to_nhwc<uint8_t>(DType::kUint8, channels, 5, 3);
    check_nchw_to_nhwc<int64_t>(I64, channels, 1, 33);
  }
}

EI_TEST("runtime: Slice with steps (negative too) and Pad constant / reflect / edge / negative") {
  {
    PlanBuilder b;
    const int32_t x = b.input(F32, {3, 5});
    const int32_t s = b.output(F32, {2, 2});
    b.step("Slice", {x}, {s}, {2, 4, -2, -3});  // rows 2, 0; cols 4, 1
    const auto xv = iota(15);
    check_near(run1<float>(b, {xv.data()}), {14, 11, 4, 1}, 0, "slice");
  }
  const std::vector<float> xv = {1, 2, 3, 4, 5, 6};  // [2, 3]
  const auto pad = [&](int64_t mode, std::vector<int64_t> pads, std::vector<int64_t> out_dims) {
    PlanBuilder b;
    const int32_t x = b.input(F32, {2, 3});
    const int32_t o = b.output(F32, out_dims);
    std::vector<int64_t> ints = {mode};
    ints.insert(ints.end(), pads.begin(), pads.end());
    b.step("Pad", {x}, {o}, ints, {9.0f});
    return run1<float>(b, {xv.data()});
  };
  check_near(pad(0, {0, 1, 1, 2}, {3, 6}), {9, 1, 2, 3, 9, 9, 9, 4, 5, 6, 9, 9, 9, 9, 9, 9, 9, 9}, 0, "pad constant");
  check_near(pad(1, {0, 2, 0, 2}, {2, 7}), {3, 2, 1, 2, 3, 2, 1, 6, 5, 4, 5, 6, 5, 4}, 0, "pad reflect");
  check_near(pad(2, {1, 1, 0, 0}, {3, 4}), {1, 1, 2, 3, 1, 1, 2, 3, 4, 4, 5, 6}, 0, "pad edge");
  check_near(pad(0, {0, -1, 0, 0}, {2, 2}), {2, 3, 5, 6}, 0, "pad negative");
}

EI_TEST("runtime: Gather with negative indices, constant and runtime, out of range fails") {
  PlanBuilder b;
  const int32_t data = b.constant<float>(F32, {4, 3}, iota(12));
  const int32_t idx = b.input(I64, {2, 2});
  const int32_t rows = b.output(F32, {2, 2, 3});
  b.step("Gather", {data, idx}, {rows}, {0});
  const int32_t cidx = b.constant<int32_t>(I32, {3}, {-1, 0, 2});
  const int32_t cols = b.output(F32, {4, 3});
  b.step("Gather", {data, cidx}, {cols}, {1});
  auto model = make(b);
  std::vector<int64_t> iv = {-1, 0, 2, -4};
  std::vector<float> o1(12), o2(12);
  void* outs[] = {o1.data(), o2.data()};
  const void* ins[] = {iv.data()};
  model->run(ins, outs);
  check_near(o1, {9, 10, 11, 0, 1, 2, 6, 7, 8, 0, 1, 2}, 0, "gather rows");
  check_near(o2, {2, 0, 2, 5, 3, 5, 8, 6, 8, 11, 9, 11}, 0, "gather cols");
  iv[2] = 4;
  bool threw = false;
  try {
    model->run(ins, outs);
  } catch (const Error& e) {
    threw = e.code() == ErrorCode::kInvalidArgument;
  }
  EI_CHECK(threw);
  iv[2] = -5;
  EI_CHECK_THROWS(model->run(ins, outs));
}

EI_TEST("runtime: int64 shape arithmetic (Concat, Gather, Slice, Equal, Where, ReduceProd)") {
  PlanBuilder b;
  const int32_t shape = b.input(I64, {3});
  const int32_t extra = b.constant<int64_t>(I64, {1}, {-1});
  const int32_t cat = b.arena(I64, {4});
  const int32_t idx = b.constant<int64_t>(I64, {}, {1});
  const int32_t one = b.output(I64, {});
  const int32_t tail = b.output(I64, {2});
  const int32_t is_neg = b.arena(BOOL, {4});
  const int32_t fixed = b.output(I64, {4});
  const int32_t prod = b.output(I64, {1});
  b.step("Concat", {shape, extra}, {cat}, {0});
  b.step("Gather", {cat, idx}, {one}, {0});
  b.step("Slice", {cat}, {tail}, {2, 1});
  b.step("Equal", {cat, extra}, {is_neg});
  b.step("Where", {is_neg, shape /*dummy broadcast not allowed*/, cat}, {fixed});
  b.step("ReduceProd", {shape}, {prod}, {1, 0});
  // Where needs x broadcastable to [4]: replace `shape` with a scalar constant.
  const int32_t seven = b.constant<int64_t>(I64, {1}, {7});
  b.plan.steps[4].inputs[1] = seven;
  auto model = make(b);
  std::vector<int64_t> sv = {2, 3, 5};
  std::vector<int64_t> o1(1), o2(2), o3(4), o4(1);
  void* outs[] = {o1.data(), o2.data(), o3.data(), o4.data()};
  const void* ins[] = {sv.data()};
  model->run(ins, outs);
  EI_CHECK(o1[0] == 3);
  check_equal(o2, std::vector<int64_t>{5, -1}, "slice");
  check_equal(o3, std::vector<int64_t>{2, 3, 5, 7}, "where");
  EI_CHECK(o4[0] == 30);
}

// ------------------------------------------------------------------ reductions and softmax
EI_TEST("runtime: reductions over several axes with and without keepdims") {
  const auto xv = iota(24, -5.0f, 0.5f);  // [2, 3, 4]
  const auto at = [&](int a, int j, int i) { return xv[static_cast<size_t>(a * 12 + j * 4 + i)]; };
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3, 4});
  const int32_t mean02 = b.output(F32, {3});
  const int32_t mean02k = b.output(F32, {1, 3, 1});
  const int32_t max2 = b.output(F32, {2, 3, 1});
  const int32_t sum_all = b.output(F32, {});
  const int32_t l2_1 = b.output(F32, {2, 4});
  const int32_t min01 = b.output(F32, {4});
  b.step("ReduceMean", {x}, {mean02}, {0, 0, 2});
  b.step("ReduceMean", {x}, {mean02k}, {1, 0, 2});
  b.step("ReduceMax", {x}, {max2}, {1, 2});
  b.step("ReduceSum", {x}, {sum_all}, {0});
  b.step("ReduceL2", {x}, {l2_1}, {0, 1});
  b.step("ReduceMin", {x}, {min01}, {0, 0, 1});
  auto model = make(b);
  std::vector<float> o1(3), o2(3), o3(6), o4(1), o5(8), o6(4);
  void* outs[] = {o1.data(), o2.data(), o3.data(), o4.data(), o5.data(), o6.data()};
  const void* ins[] = {xv.data()};
  model->run(ins, outs);
  for (int j = 0; j < 3; ++j) {
    float s = 0;
    for (int a = 0; a < 2; ++a)
      for (int i = 0; i < 4; ++i) s += at(a, j, i);
    EI_CHECK(near(o1[static_cast<size_t>(j)], s / 8, 1e-6f) && near(o2[static_cast<size_t>(j)], s / 8, 1e-6f));
  }
  for (int a = 0; a < 2; ++a)
    for (int j = 0; j < 3; ++j) EI_CHECK(o3[static_cast<size_t>(a * 3 + j)] == at(a, j, 3));
  float total = 0;
  for (float v : xv) total += v;
  EI_CHECK(near(o4[0], total, 1e-6f));
  for (int a = 0; a < 2; ++a)
    for (int i = 0; i < 4; ++i) {
      float s = 0;
      for (int j = 0; j < 3; ++j) s += at(a, j, i) * at(a, j, i);
      EI_CHECK(near(o5[static_cast<size_t>(a * 4 + i)], std::sqrt(s), 1e-6f));
    }
  for (int i = 0; i < 4; ++i) EI_CHECK(o6[static_cast<size_t>(i)] == at(0, 0, i));
}

EI_TEST("runtime: Softmax / LogSoftmax on the last and on an inner axis") {
  const auto xv = random_floats(24, 7, -4, 4);  // [2, 3, 4]
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3, 4});
  const int32_t s2 = b.output(F32, {2, 3, 4});
  const int32_t s1 = b.output(F32, {2, 3, 4});
  const int32_t l1 = b.output(F32, {2, 3, 4});
  b.step("Softmax", {x}, {s2}, {2});
  b.step("Softmax", {x}, {s1}, {1});
  b.step("LogSoftmax", {x}, {l1}, {1});
  auto model = make(b);
  std::vector<float> o2(24), o1(24), ol(24);
  void* outs[] = {o2.data(), o1.data(), ol.data()};
  const void* ins[] = {xv.data()};
  model->run(ins, outs);
  for (int a = 0; a < 2; ++a) {
    for (int j = 0; j < 3; ++j) {
      double sum = 0;
      for (int i = 0; i < 4; ++i) sum += std::exp(xv[static_cast<size_t>(a * 12 + j * 4 + i)]);
      for (int i = 0; i < 4; ++i) {
        const size_t k = static_cast<size_t>(a * 12 + j * 4 + i);
        EI_CHECK(std::fabs(o2[k] - std::exp(xv[k]) / sum) < 1e-6);
      }
    }
    for (int i = 0; i < 4; ++i) {
      double sum = 0;
      for (int j = 0; j < 3; ++j) sum += std::exp(xv[static_cast<size_t>(a * 12 + j * 4 + i)]);
      for (int j = 0; j < 3; ++j) {
        const size_t k = static_cast<size_t>(a * 12 + j * 4 + i);
        EI_CHECK(std::fabs(o1[k] - std::exp(xv[k]) / sum) < 1e-6);
        EI_CHECK(std::fabs(ol[k] - (xv[k] - std::log(sum))) < 1e-5);
      }
    }
  }
}

// ------------------------------------------------------------------ control flow
EI_TEST("runtime: If runs the chosen branch and copies its outputs") {
  PlanBuilder b;
  const int32_t x = b.input(F32, {3});
  const int32_t cond = b.input(BOOL, {});
  const int32_t out = b.output(F32, {3});
  const int32_t then_t = b.arena(F32, {3});
  const int32_t else_t = b.arena(F32, {3});
  const int32_t two = b.constant<float>(F32, {1}, {2.0f});
  b.plan.subplans.resize(2);
  b.step("Mul", {x, two}, {then_t}, {}, {}, &b.plan.subplans[0].steps);
  b.plan.subplans[0].outputs = {then_t};
  b.step("Neg", {x}, {else_t}, {}, {}, &b.plan.subplans[1].steps);
  b.plan.subplans[1].outputs = {else_t};
  b.step("If", {cond}, {out}, {0, 1});
  auto model = make(b);
  std::vector<float> xv = {1, -2, 3}, o(3);
  uint8_t c = 1;
  const void* ins[] = {xv.data(), &c};
  void* outs[] = {o.data()};
  model->run(ins, outs);
  check_near(o, {2, -4, 6}, 0, "then");
  c = 0;
  model->run(ins, outs);
  check_near(o, {-1, 2, -3}, 0, "else");
}

// ------------------------------------------------------------------ linear algebra
namespace {
std::vector<float> ref_matmul(const std::vector<float>& a, const std::vector<float>& b, int64_t batch_a, int64_t batch_b,
                              int64_t m, int64_t k, int64_t n) {
  const int64_t batch = std::max(batch_a, batch_b);
  std::vector<float> y(static_cast<size_t>(batch * m * n));
  for (int64_t z = 0; z < batch; ++z)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t q = 0; q < k; ++q)
          s += static_cast<double>(a[static_cast<size_t>((batch_a == 1 ? 0 : z) * m * k + i * k + q)]) *
               b[static_cast<size_t>((batch_b == 1 ? 0 : z) * k * n + q * n + j)];
        y[static_cast<size_t>(z * m * n + i * n + j)] = static_cast<float>(s);
      }
  return y;
}
}  // namespace

EI_TEST("runtime: MatMul batched with a runtime B, and with a constant B (GemmF32)") {
  const int64_t m = 5, k = 19, n = 7;
  const auto av = random_floats(static_cast<size_t>(3 * m * k), 11);
  const auto bv = random_floats(static_cast<size_t>(k * n), 12);
  for (int threads : {1, 3}) {
    PlanBuilder b;
    const int32_t a = b.input(F32, {3, m, k});
    const int32_t bin = b.input(F32, {1, k, n});
    const int32_t bc = b.constant(F32, {k, n}, bv);
    const int32_t y1 = b.output(F32, {3, m, n});
    const int32_t y2 = b.output(F32, {3, m, n});
    const int32_t y3 = b.output(F32, {3, m, n});
    b.step("MatMul", {a, bin}, {y1}, {0});
    b.step("MatMul", {a, bc}, {y2}, {1});  // fused relu
    b.step("MatMulS8Dynamic", {a, bc}, {y3}, {0});
    auto model = make(b, threads);
    std::vector<float> o1(static_cast<size_t>(3 * m * n)), o2(o1.size()), o3(o1.size());
    const void* ins[] = {av.data(), bv.data()};
    void* outs[] = {o1.data(), o2.data(), o3.data()};
    model->run(ins, outs);
    const auto want = ref_matmul(av, bv, 3, 1, m, k, n);
    std::vector<float> want_relu = want;
    for (float& v : want_relu) v = std::max(v, 0.0f);
    check_near(o1, want, 1e-5f, "matmul runtime B");
    check_near(o2, want_relu, 1e-5f, "matmul constant B relu");
    float max_err = 0, max_abs = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      max_err = std::max(max_err, std::fabs(o3[i] - want[i]));
      max_abs = std::max(max_abs, std::fabs(want[i]));
    }
    EI_CHECK_MSG(max_err < 0.03f * max_abs, "int8 matmul error " + std::to_string(max_err));
  }
}

EI_TEST("runtime: constants copied into packed weights are freed; ones read at run time stay") {
  const int64_t m = 3, k = 8, n = 5;
  const auto av = random_floats(static_cast<size_t>(m * k), 21);
  const auto wv = random_floats(static_cast<size_t>(k * n), 22);
  PlanBuilder b;
  const int32_t a = b.input(F32, {m, k});
  const int32_t packed_only = b.constant(F32, {k, n}, wv);  // read by two MatMuls, both pack it
  const int32_t shared = b.constant(F32, {k, n}, wv);       // packed by one MatMul, read by an Add at run
  const int32_t y1 = b.output(F32, {m, n});
  const int32_t y2 = b.output(F32, {m, n});
  const int32_t y3 = b.output(F32, {m, n});
  const int32_t y4 = b.output(F32, {k, n});
  b.step("MatMul", {a, packed_only}, {y1}, {0});
  b.step("MatMulF16", {a, packed_only}, {y2}, {0});
  b.step("MatMul", {a, shared}, {y3}, {0});
  b.step("Add", {shared, shared}, {y4});
  auto model = make(b, 1);
  const ModelStats stats = model->stats();
  EI_CHECK_MSG(stats.constant_bytes == k * n * 4, "only the constant the Add reads stays: " + std::to_string(stats.constant_bytes));
  std::vector<float> o1(static_cast<size_t>(m * n)), o2(o1.size()), o3(o1.size()), o4(static_cast<size_t>(k * n));
  const void* ins[] = {av.data()};
  void* outs[] = {o1.data(), o2.data(), o3.data(), o4.data()};
  model->run(ins, outs);
  const auto want = ref_matmul(av, wv, 1, 1, m, k, n);
  check_near(o1, want, 1e-5f, "matmul after its constant was freed");
  check_near(o2, want, 2e-3f, "fp16 matmul");
  check_near(o3, want, 1e-5f, "matmul beside a run-time reader");
  std::vector<float> doubled(wv.size());
  for (size_t i = 0; i < wv.size(); ++i) doubled[i] = 2 * wv[i];
  check_near(o4, doubled, 1e-6f, "the kept constant");
}

EI_TEST("runtime: Gemm transA / transB / c broadcast, constant and runtime B") {
  const int64_t m = 4, k = 6, n = 5;
  const auto at = random_floats(static_cast<size_t>(k * m), 21);  // a^T: [k, m]
  const auto bt = random_floats(static_cast<size_t>(n * k), 22);  // b^T: [n, k]
  const auto cv = random_floats(static_cast<size_t>(m), 23);      // c: [m, 1]
  const auto bias = random_floats(static_cast<size_t>(n), 24);    // [n]
  std::vector<float> want(static_cast<size_t>(m * n)), want_bias(want.size());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t q = 0; q < k; ++q) s += at[static_cast<size_t>(q * m + i)] * bt[static_cast<size_t>(j * k + q)];
      want[static_cast<size_t>(i * n + j)] = static_cast<float>(0.5 * s + 2.0 * cv[static_cast<size_t>(i)]);
      want_bias[static_cast<size_t>(i * n + j)] = std::max(0.0f, static_cast<float>(0.5 * s + 2.0 * bias[static_cast<size_t>(j)]));
    }
  PlanBuilder b;
  const int32_t a = b.input(F32, {k, m});
  const int32_t brt = b.input(F32, {n, k});
  const int32_t bc = b.constant(F32, {n, k}, bt);
  const int32_t c = b.constant(F32, {m, 1}, cv);
  const int32_t cb = b.constant(F32, {n}, bias);
  const int32_t y1 = b.output(F32, {m, n});
  const int32_t y2 = b.output(F32, {m, n});
  const int32_t y3 = b.output(F32, {m, n});
  b.step("Gemm", {a, brt, c}, {y1}, {1, 1, 0}, {0.5f, 2.0f});
  b.step("Gemm", {a, bc, c}, {y2}, {1, 1, 0}, {0.5f, 2.0f});
  b.step("Gemm", {a, bc, cb}, {y3}, {1, 1, 1}, {0.5f, 2.0f});
  auto model = make(b);
  std::vector<float> o1(want.size()), o2(want.size()), o3(want.size());
  const void* ins[] = {at.data(), bt.data()};
  void* outs[] = {o1.data(), o2.data(), o3.data()};
  model->run(ins, outs);
  check_near(o1, want, 1e-5f, "gemm runtime B");
  check_near(o2, want, 1e-5f, "gemm constant B, c [m,1]");
  check_near(o3, want_bias, 1e-5f, "gemm constant B, bias, relu");
}

EI_TEST("runtime: Conv 1-D / 2-D with stride, pads, dilation, groups; pooling") {
  // 2-D: x [1, 4, 6, 5], w [6, 2, 3, 2], group 2, stride [2, 1], pads [1, 0, 1, 1], dilation [1, 2].
  const int64_t C = 4, H = 6, W = 5, O = 6, G = 2, KH = 3, KW = 2;
  const int64_t sh = 2, sw = 1, pt = 1, pl = 0, pb = 1, pr = 1, dh = 1, dw = 2;
  const int64_t OH = (H + pt + pb - dh * (KH - 1) - 1) / sh + 1, OW = (W + pl + pr - dw * (KW - 1) - 1) / sw + 1;
  const auto xv = random_floats(static_cast<size_t>(C * H * W), 31);
  const auto wv = random_floats(static_cast<size_t>(O * (C / G) * KH * KW), 32);
  const auto bv = random_floats(static_cast<size_t>(O), 33);
  std::vector<float> want(static_cast<size_t>(O * OH * OW));
  for (int64_t o = 0; o < O; ++o)
    for (int64_t y = 0; y < OH; ++y)
      for (int64_t x = 0; x < OW; ++x) {
        double s = bv[static_cast<size_t>(o)];
        const int64_t g = o / (O / G);
        for (int64_t ci = 0; ci < C / G; ++ci)
          for (int64_t ky = 0; ky < KH; ++ky)
            for (int64_t kx = 0; kx < KW; ++kx) {
              const int64_t iy = y * sh - pt + ky * dh, ix = x * sw - pl + kx * dw;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += xv[static_cast<size_t>((g * (C / G) + ci) * H * W + iy * W + ix)] *
                   wv[static_cast<size_t>(((o * (C / G) + ci) * KH + ky) * KW + kx)];
            }
        want[static_cast<size_t>((o * OH + y) * OW + x)] = static_cast<float>(s);
      }
  PlanBuilder b;
  const int32_t x = b.input(F32, {1, C, H, W});
  const int32_t w = b.constant(F32, {O, C / G, KH, KW}, wv);
  const int32_t bias = b.constant(F32, {O}, bv);
  const int32_t y = b.output(F32, {1, O, OH, OW});
  b.step("Conv", {x, w, bias}, {y}, {G, 0, KH, KW, sh, sw, pt, pl, pb, pr, dh, dw});
  // 1-D conv over the rows flattened: x1 [1, 4, 30], w1 [2, 4, 3], stride 2, pads 1/1.
  const int32_t x1 = b.arena(F32, {1, C, H * W});
  b.step("Reshape", {x}, {x1});
  const auto w1v = random_floats(static_cast<size_t>(2 * C * 3), 34);
  const int32_t w1 = b.constant(F32, {2, C, 3}, w1v);
  const int64_t L = H * W, OL = (L + 2 - 3) / 2 + 1;
  const int32_t y1 = b.output(F32, {1, 2, OL});
  b.step("Conv", {x1, w1, -1}, {y1}, {1, 0, 3, 2, 1, 1, 1});
  // MaxPool 2x2 stride 2 ceil mode on x: H 6 -> 3, W 5 -> 3 (ceil); AveragePool 3 stride 1 pad 1.
  const int32_t mp = b.output(F32, {1, C, 3, 3});
  b.step("MaxPool", {x}, {mp}, {0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1});
  const int32_t ap = b.output(F32, {1, C, H, W});
  b.step("AveragePool", {x}, {ap}, {0, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
  const int32_t gp = b.output(F32, {1, C, 1, 1});
  b.step("GlobalAveragePool", {x}, {gp});
  auto model = make(b, 2);
  std::vector<float> o(want.size()), o1(static_cast<size_t>(2 * OL)), omp(static_cast<size_t>(C * 9)), oap(xv.size()), ogp(4);
  const void* ins[] = {xv.data()};
  void* outs[] = {o.data(), o1.data(), omp.data(), oap.data(), ogp.data()};
  model->run(ins, outs);
  check_near(o, want, 1e-4f, "conv2d");
  for (int64_t oc = 0; oc < 2; ++oc)
    for (int64_t t = 0; t < OL; ++t) {
      double s = 0;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t q = 0; q < 3; ++q) {
          const int64_t i = t * 2 - 1 + q;
          if (i >= 0 && i < L) s += xv[static_cast<size_t>(c * L + i)] * w1v[static_cast<size_t>((oc * C + c) * 3 + q)];
        }
      EI_CHECK(std::fabs(o1[static_cast<size_t>(oc * OL + t)] - s) < 1e-4);
    }
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t yy = 0; yy < 3; ++yy)
      for (int64_t xx = 0; xx < 3; ++xx) {
        float m = -1e30f;
        for (int64_t i = 2 * yy; i < std::min(H, 2 * yy + 2); ++i)
          for (int64_t j = 2 * xx; j < std::min(W, 2 * xx + 2); ++j) m = std::max(m, xv[static_cast<size_t>(c * H * W + i * W + j)]);
        EI_CHECK(omp[static_cast<size_t>(c * 9 + yy * 3 + xx)] == m);
      }
    for (int64_t yy = 0; yy < H; ++yy)
      for (int64_t xx = 0; xx < W; ++xx) {
        double s = 0;
        int cnt = 0;
        for (int64_t i = yy - 1; i <= yy + 1; ++i)
          for (int64_t j = xx - 1; j <= xx + 1; ++j)
            if (i >= 0 && i < H && j >= 0 && j < W) {
              s += xv[static_cast<size_t>(c * H * W + i * W + j)];
              ++cnt;
            }
        EI_CHECK(std::fabs(oap[static_cast<size_t>(c * H * W + yy * W + xx)] - s / cnt) < 1e-5);
      }
    double s = 0;
    for (int64_t i = 0; i < H * W; ++i) s += xv[static_cast<size_t>(c * H * W + i)];
    EI_CHECK(std::fabs(ogp[static_cast<size_t>(c)] - s / (H * W)) < 1e-5);
  }
}

EI_TEST("runtime: QuantizeLinear / DequantizeLinear per tensor and per axis") {
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3});
  const int32_t s = b.constant<float>(F32, {}, {0.5f});
  const int32_t zp = b.constant<uint8_t>(DType::kUint8, {}, {10});
  const int32_t q = b.output(DType::kUint8, {2, 3});
  const int32_t back = b.output(F32, {2, 3});
  b.step("QuantizeLinear", {x, s, zp}, {q}, {1});
  b.step("DequantizeLinear", {q, s, zp}, {back}, {1});
  const int32_t sa = b.constant<float>(F32, {3}, {1.0f, 0.1f, 2.0f});
  const int32_t qa = b.output(DType::kInt8, {2, 3});
  b.step("QuantizeLinear", {x, sa, -1}, {qa}, {1});
  auto model = make(b);
  std::vector<float> xv = {-1.0f, 0.26f, 200.0f, 3.0f, -0.05f, -7.0f};
  std::vector<uint8_t> oq(6);
  std::vector<float> ob(6);
  std::vector<int8_t> oqa(6);
  const void* ins[] = {xv.data()};
  void* outs[] = {oq.data(), ob.data(), oqa.data()};
  model->run(ins, outs);
  check_equal(oq, std::vector<uint8_t>{8, 11, 255, 16, 10, 0}, "quantize u8");
  check_near(ob, {-1.0f, 0.5f, 122.5f, 3.0f, 0.0f, -5.0f}, 0, "dequantize");
  check_equal(oqa, std::vector<int8_t>{-1, 3, 100, 3, 0, -4}, "quantize s8 per axis");
}

// ------------------------------------------------------------------ thread pool
EI_TEST("runtime: thread pool covers every index once, nested calls run inline") {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t count : {1, 7, 100, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(count));
      for (int rep = 0; rep < 20; ++rep) {
        pool.parallel_for(count, 3, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
          pool.parallel_for(2, 1, [](int64_t, int64_t) {});  // nested: inline, no deadlock
        });
      }
      bool ok = true;
      for (auto& h : hits) ok = ok && h.load() == 20;
      EI_CHECK_MSG(ok, "threads " + std::to_string(threads) + ", count " + std::to_string(count));
    }
  }
}

EI_TEST("runtime: thread pool inside run scopes (workers spinning) and between them (asleep): every index once") {
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(64);
    int runs = 0;
    for (int run = 0; run < 300; ++run, ++runs) {
      const ThreadPool::RunScope scope(&pool);
      for (int op = 0; op < 8; ++op) {
        pool.parallel_for(64, 1, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
        // Now and then a gap longer than the spin: workers fall asleep inside a scope and must wake again.
        if (run % 50 == 0 && op == 3) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      if (run % 60 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // asleep between runs
    }
    bool ok = true;
    for (auto& h : hits) ok = ok && h.load() == runs * 8;
    EI_CHECK_MSG(ok, "threads " + std::to_string(threads));
  }
}

// ------------------------------------------------------------------ validation
namespace {

// A valid base plan: x [2,3] input; Add(x, c) -> t (arena); Relu(t) -> y output.
PlanBuilder base_plan() {
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3});
  const int32_t c = b.constant<float>(F32, {3}, {1, 2, 3});
  const int32_t t = b.arena(F32, {2, 3});
  const int32_t y = b.output(F32, {2, 3});
  b.step("Add", {x, c}, {t});
  b.step("Relu", {t}, {y});
  return b;
}

void expect_invalid(const char* what, const std::function<void(PlanBuilder&)>& mutate,
                    ErrorCode code = ErrorCode::kModelInvalid) {
  PlanBuilder b = base_plan();
  mutate(b);
  bool ok = false;
  std::string message = "no throw";
  try {
    validate_plan(b.plan);
    ModelOptions o;
    Model::create(b.plan, o);
  } catch (const Error& e) {
    ok = e.code() == code;
    message = e.what();
  } catch (const std::exception& e) {
    message = std::string("other exception: ") + e.what();
  }
  EI_CHECK_MSG(ok, std::string(what) + ": " + message);
  if (std::getenv("EDGEINFER_TEST_VERBOSE")) std::printf("    %-45s -> %s\n", what, message.c_str());
}

int g_invalid_cases = 0;
#define INVALID(what, ...) (++g_invalid_cases, expect_invalid(what, [&](PlanBuilder & b) __VA_ARGS__))

}  // namespace

EI_TEST("runtime: the base plan of the validation cases is valid") {
  PlanBuilder b = base_plan();
  std::vector<float> xv = {-5, 0, 1, 2, -3, 4};
  check_near(run1<float>(b, {xv.data()}), {0, 2, 4, 3, 0, 7}, 0, "base");
}

EI_TEST("runtime: >= 30 malformed plans are rejected with kModelInvalid") {
  // Tensor table.
  INVALID("unknown dtype", { b.plan.tensors[2].dtype = static_cast<DType>(42); });
  INVALID("negative dim", { b.plan.tensors[2].dims = {-2, 3}; });
  INVALID("element count overflow", { b.plan.tensors[2].dims = {int64_t{1} << 30, int64_t{1} << 30}; });
  INVALID("rank above 8", { b.plan.tensors[2].dims = {1, 1, 1, 1, 1, 1, 1, 1, 2, 3}; });
  INVALID("misaligned arena offset", { b.plan.tensors[2].offset = 8; });
  INVALID("negative arena offset", { b.plan.tensors[2].offset = -64; });
  INVALID("arena range past arena_bytes", { b.plan.arena_bytes = 16; });
  INVALID("huge offset", { b.plan.tensors[2].offset = int64_t{1} << 62; });
  INVALID("constant size mismatch", { b.plan.tensors[1].dims = {4}; });
  INVALID("constant without data", { b.plan.tensors[1].constant.reset(); });
  INVALID("unknown storage", { b.plan.tensors[2].storage = static_cast<Storage>(9); });
  INVALID("input binding out of range", { b.plan.tensors[0].binding = 3; });
  INVALID("duplicate input binding", {
    b.input(F32, {1});
    b.plan.tensors.back().binding = 0;
  });
  INVALID("plan output slot out of range", { b.plan.outputs[0] = 99; });
  INVALID("plan output is not an output slot", { b.plan.outputs[0] = 2; });
  // Steps: indices and counts.
  INVALID("step input slot out of range", { b.plan.steps[0].inputs[1] = 57; });
  INVALID("step input slot below -1", { b.plan.steps[0].inputs[1] = -3; });
  INVALID("step output slot out of range", { b.plan.steps[1].outputs[0] = 57; });
  INVALID("step writes a constant", { b.plan.steps[0].outputs[0] = 1; });
  INVALID("step writes an input", { b.plan.steps[0].outputs[0] = 0; });
  INVALID("too many inputs", { b.plan.steps[1].inputs.push_back(0); });
  INVALID("missing required input", { b.plan.steps[0].inputs[1] = -1; });
  INVALID("attribute length: Relu with ints", { b.plan.steps[1].ints = {1}; });
  INVALID("attribute length: LeakyRelu without alpha", { b.plan.steps[1].op = "LeakyRelu"; });
  INVALID("wrong output dims for broadcast", { b.plan.tensors[2].dims = {3, 2}; });
  INVALID("inputs that do not broadcast", {
    b.plan.tensors[1].dims = {2};
    b.plan.tensors[1].constant = std::make_shared<std::vector<uint8_t>>(8);
  });
  INVALID("dtype mismatch", { b.plan.tensors[1].dtype = I32; });
  // Order: use before definition, clobbering, cycles.
  INVALID("use before def (steps swapped)", { std::swap(b.plan.steps[0], b.plan.steps[1]); });
  INVALID("self cycle: output is its own input", { b.plan.steps[1].inputs[0] = 3; });
  INVALID("arena tensor overwritten before its read", {
    const int32_t other = b.arena_at(F32, {2, 3}, 0);  // shares t's bytes
    const int32_t x = b.plan.inputs[0];
    Step s;
    s.op = "Neg";
    s.name = "clobber";
    s.inputs = {x};
    s.outputs = {other};
    b.plan.steps.insert(b.plan.steps.begin() + 1, s);
  });
  INVALID("output never written", {
    b.output(F32, {1});
  });
  INVALID("partial overlap of output and input", {
    const int32_t t2 = b.arena_at(F32, {2, 4}, 0);
    b.plan.steps[1].op = "Neg";
    b.plan.steps.push_back(b.plan.steps[1]);
    b.plan.steps[2].inputs = {2};
    b.plan.steps[2].outputs = {t2};
    b.plan.tensors[t2].offset = 0;
    b.plan.tensors[2].dims = {2, 3};
    b.plan.tensors[t2].dims = {3, 4};  // 48 bytes from offset 0: overlaps t's 24 bytes partially
  });
  // Op-specific semantics.
  INVALID("Transpose perm not a permutation", {
    b.plan.steps[1].op = "Transpose";
    b.plan.steps[1].ints = {0, 0};
  });
  INVALID("Softmax axis out of range", {
    b.plan.steps[1].op = "Softmax";
    b.plan.steps[1].ints = {2};
  });
  INVALID("Concat sum mismatch", {
    b.plan.steps[1].op = "Concat";
    b.plan.steps[1].inputs = {2, 2};
    b.plan.steps[1].ints = {1};
  });
  INVALID("Slice leaves the input", {
    b.plan.steps[1].op = "Slice";
    b.plan.steps[1].ints = {0, 1, 1, 1};  // cols 1..3 of 3
  });
  INVALID("Slice step 0", {
    b.plan.steps[1].op = "Slice";
    b.plan.steps[1].ints = {0, 0, 1, 0};
  });
  INVALID("Gather with float indices", {
    b.plan.steps[1].op = "Gather";
    b.plan.steps[1].inputs = {2, 2};
    b.plan.steps[1].ints = {0};
  });
  INVALID("Gather constant index out of range", {
    const int32_t idx = b.constant<int64_t>(I64, {1}, {5});
    b.plan.tensors[3].dims = {1, 3};
    b.plan.steps[1].op = "Gather";
    b.plan.steps[1].inputs = {2, idx};
    b.plan.steps[1].ints = {0};
  });
  INVALID("Reduce repeated axis", {
    b.plan.steps[1].op = "ReduceSum";
    b.plan.steps[1].ints = {1, 1, 1};
  });
  INVALID("Reduce wrong output dims", {
    b.plan.steps[1].op = "ReduceSum";
    b.plan.steps[1].ints = {0, 1};  // -> [2], output is [2, 3]
  });
  INVALID("Pad dims mismatch", {
    b.plan.steps[1].op = "Pad";
    b.plan.steps[1].ints = {0, 0, 1, 0, 0};
    b.plan.steps[1].floats = {0};
  });
  INVALID("Conv output size mismatch", {
    const int32_t x4 = b.input(F32, {1, 1, 4, 4});
    const int32_t w = b.constant<float>(F32, {1, 1, 3, 3}, std::vector<float>(9, 1));
    const int32_t y = b.output(F32, {1, 1, 3, 3});  // should be 2x2
    b.step("Conv", {x4, w, -1}, {y}, {1, 0, 3, 3, 1, 1, 0, 0, 0, 0, 1, 1});
  });
  INVALID("Conv group does not divide channels", {
    const int32_t x4 = b.input(F32, {1, 3, 4, 4});
    const int32_t w = b.constant<float>(F32, {2, 1, 1, 1}, std::vector<float>(2, 1));
    const int32_t y = b.output(F32, {1, 2, 4, 4});
    b.step("Conv", {x4, w, -1}, {y}, {2, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1});
  });
  INVALID("MaxPool output beyond ceil mode", {
    const int32_t x4 = b.input(F32, {1, 1, 4, 4});
    const int32_t y = b.output(F32, {1, 1, 4, 4});
    b.step("MaxPool", {x4}, {y}, {0, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1});
  });
  INVALID("MatMul inner dims differ", {
    const int32_t w = b.constant<float>(F32, {2, 3}, std::vector<float>(6, 1));
    const int32_t y = b.output(F32, {2, 3});
    b.step("MatMul", {2, w}, {y}, {0});
  });
  INVALID("Gemm unknown activation", {
    const int32_t w = b.constant<float>(F32, {3, 3}, std::vector<float>(9, 1));
    const int32_t y = b.output(F32, {2, 3});
    b.step("Gemm", {2, w, -1}, {y}, {0, 0, 42}, {1, 1});
  });
  // QLinear (QDQ) steps: a valid QLinearMatMul of t [2, 3] by int8 w [3, 4], then one corruption each.
  const auto qlinear = [](PlanBuilder& b, const std::function<void(Step&)>& corrupt) {
    const int32_t xs = b.constant<float>(F32, {}, {0.05f});
    const int32_t xz = b.constant<uint8_t>(DType::kUint8, {}, {128});
    const int32_t w = b.constant<int8_t>(DType::kInt8, {3, 4}, std::vector<int8_t>(12, 3));
    const int32_t ws = b.constant<float>(F32, {4}, {0.1f, 0.2f, 0.3f, 0.4f});
    const int32_t y = b.output(F32, {2, 4});
    corrupt(b.step("QLinearMatMul", {2, xs, xz, w, ws, -1, -1}, {y}, {0, 1}));
  };
  INVALID("QLinearMatMul w_axis out of range", { qlinear(b, [](Step& s) { s.ints[1] = 2; }); });
  INVALID("QLinearMatMul per-channel scales along the input axis", { qlinear(b, [](Step& s) { s.ints[1] = 0; }); });
  INVALID("QLinearMatMul activation zero point without scale", { qlinear(b, [](Step& s) { s.inputs[1] = -1; }); });
  INVALID("QLinearMatMul weights not constant", { qlinear(b, [](Step& s) { s.inputs[3] = 2; }); });
  INVALID("QLinearMatMul float weights", { qlinear(b, [](Step& s) { s.inputs[3] = 1; }); });
  INVALID("QLinearMatMul negative weight scale", {
    qlinear(b, [&](Step& s) { s.inputs[4] = b.constant<float>(F32, {4}, {0.1f, -0.2f, 0.3f, 0.4f}); });
  });
  INVALID("QLinearMatMul bias of the wrong size", { qlinear(b, [](Step& s) { s.inputs[6] = 1; }); });
  INVALID("QLinearMatMul missing w_axis", { qlinear(b, [](Step& s) { s.ints.pop_back(); }); });
  expect_invalid("QLinearMatMul weight zero point 5", [&](PlanBuilder& b) {
    qlinear(b, [&](Step& s) { s.inputs[5] = b.constant<int8_t>(DType::kInt8, {4}, {0, 0, 5, 0}); });
  }, ErrorCode::kUnsupportedOp);
  INVALID("QLinearGemm alpha 0", {
    qlinear(b, [](Step& s) {
      s.op = "QLinearGemm";
      s.ints = {0, 0, 0, 1};
      s.floats = {0.0f, 1.0f};
    });
  });
  INVALID("QLinearConv on a 2-D input", {
    qlinear(b, [](Step& s) {
      s.op = "QLinearConv";
      s.ints = {1, 0, 1, 1, 0, 0, 1, 0};
    });
  });
  INVALID("QuantizeDequantize with an int32 zero point", {
    const int32_t sc = b.constant<float>(F32, {}, {0.5f});
    const int32_t zp = b.constant<int32_t>(I32, {}, {0});
    const int32_t y = b.output(F32, {2, 3});
    b.step("QuantizeDequantize", {2, sc, zp}, {y}, {0});
  });
  // If.
  INVALID("If subplan index out of range", {
    const int32_t cond = b.input(BOOL, {});
    const int32_t y = b.output(F32, {2, 3});
    b.step("If", {cond}, {y}, {0, 1});
  });
  INVALID("If subplan contains itself", {
    const int32_t cond = b.input(BOOL, {});
    const int32_t y = b.output(F32, {2, 3});
    b.plan.subplans.resize(1);
    b.step("If", {cond}, {2}, {0, 0}, {}, &b.plan.subplans[0].steps);
    b.plan.subplans[0].outputs = {2};
    b.step("If", {cond}, {y}, {0, 0});
  });
  INVALID("If branch output count mismatch", {
    const int32_t cond = b.input(BOOL, {});
    const int32_t y = b.output(F32, {2, 3});
    b.plan.subplans.resize(1);
    b.plan.subplans[0].outputs = {2, 2};
    b.step("If", {cond}, {y}, {0, 0});
  });
  INVALID("If branch output never written", {
    const int32_t cond = b.input(BOOL, {});
    const int32_t fresh = b.arena(F32, {2, 3});
    const int32_t y = b.output(F32, {2, 3});
    b.plan.subplans.resize(1);
    b.plan.subplans[0].outputs = {fresh};
    b.step("If", {cond}, {y}, {0, 0});
  });
  INVALID("If condition not bool", {
    const int32_t y = b.output(F32, {2, 3});
    b.plan.subplans.resize(1);
    b.plan.subplans[0].outputs = {2};
    b.step("If", {0}, {y}, {0, 0});
  });
  INVALID("subplan with its own tensors", {
    b.plan.subplans.resize(1);
    b.plan.subplans[0].tensors.resize(1);
  });
  // Found by cpp/fuzz/fuzz_plan: a subplan no If uses was never validated, but Model::create prepared it
  // (null OpDef for an unknown op, out-of-range slots read in prepare).
  INVALID("subplan that no If step uses", {
    b.plan.subplans.resize(1);
    b.step("NoSuchOp", {7}, {9}, {}, {}, &b.plan.subplans[0].steps);
  });
  expect_invalid("unknown op", [](PlanBuilder& b) { b.plan.steps[1].op = "NoSuchOp"; }, ErrorCode::kUnsupportedOp);
  EI_CHECK_MSG(g_invalid_cases >= 30, std::to_string(g_invalid_cases) + " cases");
  std::printf("  %d malformed plans rejected\n", g_invalid_cases);
}

// ------------------------------------------------------------------ fuzz findings (cpp/fuzz, npm run fuzz)
EI_TEST("runtime: integer + - * wrap, int Clip with NaN / inf bounds, INT8 weights refuse NaN (fuzz findings)") {
  {
    PlanBuilder b;  // signed overflow was undefined behaviour: two's complement wrap-around, like Pow
    const int32_t x = b.input(I64, {2});
    const int32_t mul = b.output(I64, {2});
    const int32_t add = b.output(I64, {2});
    const int32_t pow = b.output(I64, {2});
    b.step("Mul", {x, x}, {mul});
    b.step("Add", {x, x}, {add});
    b.step("Pow", {x, b.constant<int64_t>(I64, {1}, {std::numeric_limits<int64_t>::min()})}, {pow});
    auto model = make(b);
    std::vector<int64_t> xv = {std::numeric_limits<int64_t>::max(), int64_t{-1}}, o1(2), o2(2), o3(2);
    const void* ins[] = {xv.data()};
    void* outs[] = {o1.data(), o2.data(), o3.data()};
    model->run(ins, outs);
    EI_CHECK(o1[0] == 1 && o1[1] == 1);
    EI_CHECK(o2[0] == -2 && o2[1] == -2);
    EI_CHECK(o3[0] == 0 && o3[1] == 1);  // (-1)^INT64_MIN: even exponent
  }
  {
    PlanBuilder b;  // a NaN bound is no bound; +-inf and out-of-range bounds saturate (casting them was UB)
    const int32_t x = b.input(I32, {3});
    const int32_t c1 = b.output(I32, {3});
    const int32_t c2 = b.output(I32, {3});
    b.step("Clip", {x}, {c1}, {}, {std::nanf(""), 2.0f});
    b.step("Clip", {x}, {c2}, {}, {-INFINITY, 1e10f});
    auto model = make(b);
    std::vector<int32_t> xv = {std::numeric_limits<int32_t>::min(), 1, 5}, o1(3), o2(3);
    const void* ins[] = {xv.data()};
    void* outs[] = {o1.data(), o2.data()};
    model->run(ins, outs);
    check_equal(o1, std::vector<int32_t>{std::numeric_limits<int32_t>::min(), 1, 2}, "clip NaN min");
    check_equal(o2, xv, "clip -inf / 1e10");
  }
  for (const char* op : {"MatMul", "MatMulS8Dynamic"}) {
    PlanBuilder b;  // NaN weights were skipped by std::max and cast to int8 (UB): refused like inf ones
    const int32_t a = b.input(F32, {2, 2});
    const int32_t w = b.constant<float>(F32, {2, 2}, {1.0f, std::nanf(""), 0.5f, 2.0f});
    b.step(op, {a, w}, {b.output(F32, {2, 2})}, {0});
    bool refused = false;
    try {
      make(b, 1, Precision::kInt8);
    } catch (const Error& e) {
      refused = e.code() == ErrorCode::kInvalidArgument;
    }
    EI_CHECK_MSG(refused, op);
  }
  {
    PlanBuilder b;  // weights so small that max / 127 underflows: all quantize to 0 (was a 0 scale, 0 / 0)
    const int32_t a = b.input(F32, {1, 3});
    const float tiny = std::numeric_limits<float>::denorm_min();
    const int32_t w = b.constant<float>(F32, {3, 2}, {tiny, 1.0f, 0.0f, 2.0f, 0.0f, -1.0f});
    const int32_t y = b.output(F32, {1, 2});
    b.step("MatMul", {a, w}, {y}, {0});
    const std::vector<float> av = {1.0f, 1.0f, 1.0f};
    const auto got = run1<float>(b, {av.data()}, 1, Precision::kInt8);
    EI_CHECK(got[0] == 0.0f && std::fabs(got[1] - 2.0f) < 0.05f);
  }
}

// ------------------------------------------------------------------ no allocation per run
EI_TEST("runtime: no heap allocation per run (1000 runs, 1 and 3 threads)") {
  for (int threads : {1, 3}) {
    const int64_t m = 8, k = 32, n = 16;
    PlanBuilder b;
    const int32_t x = b.input(F32, {m, k});
    const int32_t idx = b.input(I64, {4});
    const int32_t cond = b.input(BOOL, {});
    const int32_t w = b.constant(F32, {k, n}, random_floats(static_cast<size_t>(k * n), 41));
    const int32_t hf = b.arena(F32, {m, n});
    b.step("MatMul", {x, w}, {hf}, {1});
    // The QDQ ops: fake quantization, then a static INT8 MatMul, added to the float one.
    const int32_t qs = b.constant<float>(F32, {}, {0.02f});
    const int32_t qz = b.constant<uint8_t>(DType::kUint8, {}, {128});
    const int32_t xq = b.arena(F32, {m, k});
    b.step("QuantizeDequantize", {x, qs, qz}, {xq}, {0});
    const int32_t wq = b.constant<int8_t>(DType::kInt8, {k, n}, std::vector<int8_t>(static_cast<size_t>(k * n), 5));
    const int32_t ws = b.constant<float>(F32, {}, {0.01f});
    const int32_t hq = b.arena(F32, {m, n});
    b.step("QLinearMatMul", {xq, qs, qz, wq, ws, -1, -1}, {hq}, {0, 1});
    const int32_t h = b.arena(F32, {m, n});
    b.step("Add", {hf, hq}, {h});
    const int32_t ht = b.arena(F32, {n, m});
    b.step("Transpose", {h}, {ht}, {1, 0});
    const int32_t att = b.arena(F32, {m, m});
    b.step("MatMul", {h, ht}, {att}, {0});
    const int32_t sm = b.arena(F32, {m, m});
    b.step("Softmax", {att}, {sm}, {1});
    const int32_t g = b.arena(F32, {4, m});
    b.step("Gather", {sm, idx}, {g}, {0});
    const int32_t img = b.arena(F32, {1, 1, 4, m});
    b.step("Reshape", {g}, {img});
    const int32_t cw = b.constant(F32, {2, 1, 3, 3}, random_floats(18, 42));
    const int32_t conv = b.arena(F32, {1, 2, 4, m});
    b.step("Conv", {img, cw, -1}, {conv}, {1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1});
    const int32_t red = b.arena(F32, {1, 2, 1, 1});
    b.step("ReduceMean", {conv}, {red}, {1, 2, 3});
    const int32_t out = b.output(F32, {1, 2, 1, 1});
    const int32_t t_then = b.arena(F32, {1, 2, 1, 1});
    const int32_t t_else = b.arena(F32, {1, 2, 1, 1});
    b.plan.subplans.resize(2);
    b.step("Sigmoid", {red}, {t_then}, {}, {}, &b.plan.subplans[0].steps);
    b.plan.subplans[0].outputs = {t_then};
    b.step("Tanh", {red}, {t_else}, {}, {}, &b.plan.subplans[1].steps);
    b.plan.subplans[1].outputs = {t_else};
    b.step("If", {cond}, {out}, {0, 1});
    auto model = make(b, threads);
    const auto xv = random_floats(static_cast<size_t>(m * k), 43);
    std::vector<int64_t> iv = {0, -1, 3, 2};
    uint8_t c = 0;
    std::vector<float> o(2);
    const void* ins[] = {xv.data(), iv.data(), &c};
    void* outs[] = {o.data()};
    model->run(ins, outs);  // warm-up
    const long before = edgeinfer::testing::heap_allocations().load();
    for (int i = 0; i < 1000; ++i) {
      c = static_cast<uint8_t>(i & 1);
      model->run(ins, outs);
    }
    const long after = edgeinfer::testing::heap_allocations().load();
    EI_CHECK_MSG(after == before, std::to_string(threads) + " threads: " + std::to_string(after - before) + " allocations");
    EI_CHECK(model->stats().runs == 1001);
    EI_CHECK(std::isfinite(o[0]) && std::isfinite(o[1]));
  }
  const long before = edgeinfer::testing::heap_allocations().load();
  static std::vector<int>* volatile probe;
  probe = new std::vector<int>(3);
  delete probe;
  EI_CHECK(edgeinfer::testing::heap_allocations().load() > before);  // the counter works at all
}

EI_TEST_MAIN()
