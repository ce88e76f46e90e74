// The QDQ plan ops (QLinearMatMul / QLinearGemm / QLinearConv / QuantizeDequantize) against a float reference
// of what the QDQ graph computes: dequantize(quantize(x)) times the dequantized weights plus bias, then the
// activation. Static activations (uint8 and int8 zero points) and dynamic ones, int8 weights and uint8 ones
// with zero point 128, per-tensor and per-channel scales, Gemm transA / transB / alpha / beta, Conv 2-D with
// stride / pads / groups and 1-D with dilation; 1 and 3 threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/error.h"
#include "edgeinfer/runtime.h"
#include "tests/check.h"
#include "tests/plan_builder.h"

using namespace edgeinfer;
using edgeinfer::testing::PlanBuilder;

namespace {

constexpr DType F32 = DType::kFloat32, U8 = DType::kUint8, I8 = DType::kInt8;

std::vector<float> random_floats(size_t n, uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
std::vector<T> random_ints(size_t n, uint32_t seed, int lo, int hi) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(n);
  for (T& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// QuantizeLinear then DequantizeLinear of one value (ONNX: round half to even, saturate).
float fake_quant(float x, float scale, int32_t zp, int32_t lo, int32_t hi) {
  const float q = std::clamp(std::nearbyint(x / scale) + static_cast<float>(zp), static_cast<float>(lo), static_cast<float>(hi));
  return (q - static_cast<float>(zp)) * scale;
}

std::vector<float> run(PlanBuilder& b, const std::vector<float>& x, int threads) {
  ModelOptions o;
  o.threads = threads;
  auto model = Model::create(b.plan, o);
  std::vector<float> y(static_cast<size_t>(b.plan.tensors[b.plan.outputs[0]].elements()));
  const void* ins[] = {x.data()};
  void* outs[] = {y.data()};
  model->run(ins, outs);
  return y;
}

// |got - want| <= tol * max|want| everywhere (the INT8 sums are exact: only float rounding differs).
void check_close(const std::vector<float>& got, const std::vector<float>& want, float tol, const std::string& what) {
  EI_CHECK_MSG(got.size() == want.size(), what + ": size");
  float max_abs = 0.0f, worst = 0.0f;
  for (float v : want) max_abs = std::max(max_abs, std::fabs(v));
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
  EI_CHECK_MSG(max_abs > 0.0f && worst <= tol * max_abs,
               what + ": max |diff| " + std::to_string(worst) + " vs max |want| " + std::to_string(max_abs));
}

}  // namespace

EI_TEST("qlinear: MatMul, static uint8 activations, per-channel int8 weights, bias, Relu") {
  const int64_t rows = 6, k = 37, n = 19;
  const float xs = 0.02f;
  const int32_t xz = 131;
  const auto xv = random_floats(static_cast<size_t>(rows * k), 1, -3.0f, 3.0f);  // saturates on both sides
  const auto wv = random_ints<int8_t>(static_cast<size_t>(k * n), 2, -128, 127);
  const auto ws = random_floats(static_cast<size_t>(n), 3, 0.001f, 0.01f);
  const auto bias = random_floats(static_cast<size_t>(n), 4, -0.5f, 0.5f);
  std::vector<float> want(static_cast<size_t>(rows * n));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias[static_cast<size_t>(j)];
      for (int64_t q = 0; q < k; ++q)
        s += double(fake_quant(xv[static_cast<size_t>(i * k + q)], xs, xz, 0, 255)) * wv[static_cast<size_t>(q * n + j)] *
             ws[static_cast<size_t>(j)];
      want[static_cast<size_t>(i * n + j)] = std::max(0.0f, static_cast<float>(s));
    }
  for (int threads : {1, 3}) {
    PlanBuilder b;
    const int32_t x = b.input(F32, {2, 3, k});
    const int32_t s = b.constant<float>(F32, {}, {xs});
    const int32_t z = b.constant<uint8_t>(U8, {}, {static_cast<uint8_t>(xz)});
    const int32_t w = b.constant(I8, {k, n}, wv);
    const int32_t wsc = b.constant(F32, {n}, ws);
    const int32_t wz = b.constant(I8, {n}, std::vector<int8_t>(static_cast<size_t>(n), 0));
    const int32_t bc = b.constant(F32, {n}, bias);
    const int32_t y = b.output(F32, {2, 3, n});
    b.step("QLinearMatMul", {x, s, z, w, wsc, wz, bc}, {y}, {1, 1});
    check_close(run(b, xv, threads), want, 1e-5f, "matmul, threads " + std::to_string(threads));
  }
}

EI_TEST("qlinear: Gemm transA / transB, alpha / beta, uint8 weights (zero point 128), int8 activations") {
  const int64_t m = 5, k = 21, n = 9;
  const float xs = 0.03f, alpha = 0.5f, beta = 2.0f;
  const int32_t xz = -7;
  const auto xt = random_floats(static_cast<size_t>(k * m), 11, -4.0f, 4.0f);  // x^T: [k, m]
  const auto wt = random_ints<uint8_t>(static_cast<size_t>(n * k), 12, 0, 255);  // w^T: [n, k]
  const float ws = 0.004f;
  const float c = 0.25f;
  std::vector<float> want(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t q = 0; q < k; ++q)
        s += double(fake_quant(xt[static_cast<size_t>(q * m + i)], xs, xz, -128, 127)) *
             (int32_t{wt[static_cast<size_t>(j * k + q)]} - 128) * ws;
      want[static_cast<size_t>(i * n + j)] = static_cast<float>(alpha * s + beta * c);
    }
  PlanBuilder b;
  const int32_t x = b.input(F32, {k, m});
  const int32_t s = b.constant<float>(F32, {}, {xs});
  const int32_t z = b.constant<int8_t>(I8, {}, {static_cast<int8_t>(xz)});
  const int32_t w = b.constant(U8, {n, k}, wt);
  const int32_t wsc = b.constant<float>(F32, {1}, {ws});
  const int32_t wz = b.constant<uint8_t>(U8, {1}, {128});
  const int32_t cc = b.constant<float>(F32, {}, {c});
  const int32_t y = b.output(F32, {m, n});
  b.step("QLinearGemm", {x, s, z, w, wsc, wz, cc}, {y}, {1, 1, 0, 0}, {alpha, beta});
  check_close(run(b, xt, 1), want, 1e-5f, "gemm");
}

EI_TEST("qlinear: Conv 2-D (stride, asymmetric pads, groups) and 1-D (dilation), static activations") {
  struct Case {
    int64_t c, h, w, m, group, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
  };
  const Case cases[] = {
      {4, 9, 7, 6, 1, 3, 3, 2, 2, 1, 0, 1, 2, 1, 1},  // 2-D
      {6, 5, 6, 4, 2, 2, 3, 1, 2, 0, 1, 1, 1, 1, 1},  // 2-D, group 2
      {4, 1, 15, 8, 1, 1, 3, 1, 1, 0, 2, 0, 2, 1, 2},  // 1-D, dilation 2
      {8, 9, 7, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // depthwise (the direct dwconv_s8 path)
      {6, 11, 13, 12, 6, 3, 3, 2, 2, 1, 0, 1, 1, 1, 1},  // depthwise, multiplier 2, stride 2, asymmetric pads
      {5, 25, 5, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // depthwise, narrow rows (speech)
      {5, 1, 30, 5, 5, 1, 5, 1, 1, 0, 2, 0, 2, 1, 2},  // 1-D depthwise, dilation 2
  };
  int index = 0;
  for (const Case& t : cases) {
    const bool one_d = t.h == 1 && t.kh == 1;
    const int64_t oh = (t.h + t.pt + t.pb - t.dh * (t.kh - 1) - 1) / t.sh + 1;
    const int64_t ow = (t.w + t.pl + t.pr - t.dw * (t.kw - 1) - 1) / t.sw + 1;
    const int64_t cg = t.c / t.group, mg = t.m / t.group;
    const float xs = 0.05f;
    const int32_t xz = 90;
    const auto xv = random_floats(static_cast<size_t>(2 * t.c * t.h * t.w), 21 + index, -4.0f, 4.0f);
    const auto wv = random_ints<int8_t>(static_cast<size_t>(t.m * cg * t.kh * t.kw), 22 + index, -127, 127);
    const auto ws = random_floats(static_cast<size_t>(t.m), 23 + index, 0.002f, 0.02f);
    const auto bias = random_floats(static_cast<size_t>(t.m), 24 + index, -1.0f, 1.0f);
    std::vector<float> want(static_cast<size_t>(2 * t.m * oh * ow));
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t o = 0; o < t.m; ++o)
        for (int64_t y0 = 0; y0 < oh; ++y0)
          for (int64_t x0 = 0; x0 < ow; ++x0) {
            double s = bias[static_cast<size_t>(o)];
            const int64_t g = o / mg;
            for (int64_t ci = 0; ci < cg; ++ci)
              for (int64_t r = 0; r < t.kh; ++r)
                for (int64_t q = 0; q < t.kw; ++q) {
                  const int64_t iy = y0 * t.sh - t.pt + r * t.dh, ix = x0 * t.sw - t.pl + q * t.dw;
                  if (iy < 0 || iy >= t.h || ix < 0 || ix >= t.w) continue;
                  const float xval = xv[static_cast<size_t>(((b * t.c + g * cg + ci) * t.h + iy) * t.w + ix)];
                  s += double(fake_quant(xval, xs, xz, 0, 255)) *
                       wv[static_cast<size_t>(((o * cg + ci) * t.kh + r) * t.kw + q)] * ws[static_cast<size_t>(o)];
                }
            want[static_cast<size_t>(((b * t.m + o) * oh + y0) * ow + x0)] = static_cast<float>(s);
          }
    PlanBuilder b;
    const std::vector<int64_t> xdims = one_d ? std::vector<int64_t>{2, t.c, t.w} : std::vector<int64_t>{2, t.c, t.h, t.w};
    const std::vector<int64_t> wdims = one_d ? std::vector<int64_t>{t.m, cg, t.kw} : std::vector<int64_t>{t.m, cg, t.kh, t.kw};
    const std::vector<int64_t> ydims = one_d ? std::vector<int64_t>{2, t.m, ow} : std::vector<int64_t>{2, t.m, oh, ow};
    const int32_t x = b.input(F32, xdims);
    const int32_t s = b.constant<float>(F32, {}, {xs});
    const int32_t z = b.constant<uint8_t>(U8, {}, {static_cast<uint8_t>(xz)});
    const int32_t w = b.constant(I8, wdims, wv);
    const int32_t wsc = b.constant(F32, {t.m}, ws);
    const int32_t bc = b.constant(F32, {t.m}, bias);
    const int32_t y = b.output(F32, ydims);
    std::vector<int64_t> ints = {t.group, 0};
    if (one_d) {
      ints.insert(ints.end(), {t.kw, t.sw, t.pl, t.pr, t.dw, 0});
    } else {
      ints.insert(ints.end(), {t.kh, t.kw, t.sh, t.sw, t.pt, t.pl, t.pb, t.pr, t.dh, t.dw, 0});
    }
    b.step("QLinearConv", {x, s, z, w, wsc, -1, bc}, {y}, ints);
    for (int threads : {1, 3})
      check_close(run(b, xv, threads), want, 1e-5f, "conv case " + std::to_string(index) + ", threads " + std::to_string(threads));
    ++index;
  }
}

EI_TEST("qlinear: dynamic activations (no x_scale) stay within the activation rounding bound") {
  const int64_t rows = 4, k = 50, n = 12;
  const auto xv = random_floats(static_cast<size_t>(rows * k), 31, -1.0f, 2.0f);
  const auto wv = random_ints<int8_t>(static_cast<size_t>(k * n), 32, -127, 127);
  const float ws = 0.01f;
  PlanBuilder b;
  const int32_t x = b.input(F32, {rows, k});
  const int32_t w = b.constant(I8, {k, n}, wv);
  const int32_t wsc = b.constant<float>(F32, {}, {ws});
  const int32_t y = b.output(F32, {rows, n});
  b.step("QLinearMatMul", {x, -1, -1, w, wsc, -1, -1}, {y}, {0, 1});
  const auto got = run(b, xv, 1);
  // Each activation is off by at most half a step of the per-tensor range / 255 (the scale may widen up to 2x
  // so the minimum lands on a level): |error| <= step * sum_k |w|.
  const float step = 3.0f / 255.0f;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double exact = 0, bound = 0;
      for (int64_t q = 0; q < k; ++q) {
        const double wq = double(wv[static_cast<size_t>(q * n + j)]) * ws;
        exact += xv[static_cast<size_t>(i * k + q)] * wq;
        bound += std::fabs(wq) * step;
      }
      EI_CHECK_MSG(std::fabs(got[static_cast<size_t>(i * n + j)] - exact) <= bound, "row " + std::to_string(i));
    }
}

EI_TEST("qlinear: QuantizeDequantize per axis (int8) and per tensor (uint8, no zero point)") {
  const auto xv = random_floats(2 * 3 * 4, 41, -9.0f, 9.0f);
  const std::vector<float> scales = {0.05f, 0.1f, 0.02f};
  const std::vector<int8_t> zps = {-3, 0, 10};
  PlanBuilder b;
  const int32_t x = b.input(F32, {2, 3, 4});
  const int32_t s = b.constant(F32, {3}, scales);
  const int32_t z = b.constant(I8, {3}, zps);
  const int32_t su = b.constant<float>(F32, {}, {0.03f});
  const int32_t y1 = b.output(F32, {2, 3, 4});
  const int32_t y2 = b.output(F32, {2, 3, 4});
  b.step("QuantizeDequantize", {x, s, z}, {y1}, {1});
  b.step("QuantizeDequantize", {x, su, -1}, {y2}, {0});
  ModelOptions o;
  auto model = Model::create(b.plan, o);
  std::vector<float> o1(xv.size()), o2(xv.size());
  const void* ins[] = {xv.data()};
  void* outs[] = {o1.data(), o2.data()};
  model->run(ins, outs);
  for (size_t i = 0; i < xv.size(); ++i) {
    const size_t c = (i / 4) % 3;
    EI_CHECK(o1[i] == fake_quant(xv[i], scales[c], zps[c], -128, 127));
    EI_CHECK(o2[i] == fake_quant(xv[i], 0.03f, 0, 0, 255));
  }
}

EI_TEST("qlinear: weights that are not symmetric are unsupported") {
  auto build = [](DType dtype, int zp) {
    PlanBuilder b;
    const int32_t x = b.input(F32, {2, 4});
    const int32_t w = b.constant(dtype, {4, 3}, std::vector<uint8_t>(12, 1));
    const int32_t ws = b.constant<float>(F32, {}, {0.1f});
    const int32_t wz = dtype == I8 ? b.constant<int8_t>(I8, {}, {static_cast<int8_t>(zp)})
                                   : b.constant<uint8_t>(U8, {}, {static_cast<uint8_t>(zp)});
    const int32_t y = b.output(F32, {2, 3});
    b.step("QLinearMatMul", {x, -1, -1, w, ws, zp < 0 ? -1 : wz, -1}, {y}, {0, 1});
    return b;
  };
  struct Bad {
    DType dtype;
    int zp;  // -1: no zero point input
  };
  for (const Bad bad : {Bad{I8, 3}, Bad{U8, 0}, Bad{U8, 127}, Bad{U8, -1}}) {
    PlanBuilder b = build(bad.dtype, bad.zp);
    bool unsupported = false;
    try {
      validate_plan(b.plan);
    } catch (const Error& e) {
      unsupported = e.code() == ErrorCode::kUnsupportedOp && std::string(e.what()).find("zero point") != std::string::npos;
    }
    EI_CHECK_MSG(unsupported, "zero point " + std::to_string(bad.zp));
  }
  PlanBuilder ok = build(U8, 128);
  validate_plan(ok.plan);
}

EI_TEST_MAIN()
