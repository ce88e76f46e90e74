// Header-only vector math used by kernels and GEMM epilogues, tested directly (not only through the
// LayerNorm / GELU variants): cpp/kernels/common/vector_math_neon.h on AArch64. (The x86 headers are swept
// in test_layernorm_gelu.cc.) Against double-precision std functions:
//   erf_ps, tanh_ps          : |got - ref| <= 1e-6 |ref| + 1e-38
//   exp_ps                   : |got - ref| <= 1e-6 |ref| on [-87, 88.7]; +inf above 88.73, 0 / denormal
//                              (|got - ref| <= 2^-149) below -87.3
//   gelu_erf_ps, gelu_tanh_ps: |got - ref| <= 1e-6 |ref| + 1e-37 (relative for every x, incl. x < 0)
// on dense sweeps, log-uniform random magnitudes over the whole float range, and special values.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "tests/check.h"

#if defined(__aarch64__)
#include "kernels/common/vector_math_neon.h"

namespace {

enum class Fn { kExp, kErf, kTanh, kGeluErf, kGeluTanh };
const char* fn_name(Fn fn) {
  switch (fn) {
    case Fn::kExp: return "exp";
    case Fn::kErf: return "erf";
    case Fn::kTanh: return "tanh";
    case Fn::kGeluErf: return "gelu_erf";
    default: return "gelu_tanh";
  }
}

std::vector<float> eval(const std::vector<float>& xs, Fn fn) {
  using namespace edgeinfer;
  std::vector<float> in(xs), out(xs.size() + 4);
  in.resize(xs.size() + 4, 0.0f);
  for (size_t i = 0; i < xs.size(); i += 4) {
    const float32x4_t x = vld1q_f32(&in[i]);
    float32x4_t y;
    switch (fn) {
      case Fn::kExp: y = vmneon::exp_ps(x); break;
      case Fn::kErf: y = vmneon::erf_ps(x); break;
      case Fn::kTanh: y = vmneon::tanh_ps(x); break;
      case Fn::kGeluErf: y = vmneon::gelu_erf_ps(x); break;
      default: y = vmneon::gelu_tanh_ps(x); break;
    }
    vst1q_f32(&out[i], y);
  }
  out.resize(xs.size());
  return out;
}

double ref(Fn fn, double x) {
  switch (fn) {
    case Fn::kExp: {  // beyond FLT_MAX (plus half an ulp) the float result is +inf
      const double e = std::exp(x);
      return e > 3.4028235677973366e38 ? std::numeric_limits<double>::infinity() : e;
    }
    case Fn::kErf: return std::erf(x);
    case Fn::kTanh: return std::tanh(x);
    case Fn::kGeluErf:  // gelu(-inf) = -inf * 0 = NaN, as ONNX Runtime returns it
      if (std::isinf(x)) return x > 0 ? x : std::nan("");
      return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    default: {
      if (std::isinf(x)) return x > 0 ? x : std::nan("");
      const double z = 2.0 * std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
      return z >= 0 ? x / (1.0 + std::exp(-z)) : x * std::exp(z) / (1.0 + std::exp(z));
    }
  }
}

double tol(Fn fn, double want) {
  switch (fn) {
    case Fn::kExp: return std::max(1e-6 * want, std::ldexp(1.0, -149));
    case Fn::kErf:
    case Fn::kTanh: return 1e-6 * std::fabs(want) + 1e-38;
    default: return 1e-6 * std::fabs(want) + 1e-37;
  }
}

std::string g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

bool close(float got, double want, double t) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return static_cast<double>(got) == want;
  if (!std::isfinite(got)) return false;
  return std::fabs(static_cast<double>(got) - want) <= t;
}

// Checks fn on xs; prints the worst relative error over |ref| > 1e-30.
void check_fn(Fn fn, const std::vector<float>& xs, const char* what) {
  const std::vector<float> got = eval(xs, fn);
  double worst = 0, worst_x = 0;
  int bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double x = xs[i];
    const double want = ref(fn, x);
    if (!close(got[i], want, tol(fn, want))) {
      if (++bad <= 3)
        EI_CHECK_MSG(false, std::string(fn_name(fn)) + " (" + what + ") x=" + g(x) + " got=" + g(got[i]) +
                                " want=" + g(want));
    } else if (std::isfinite(want) && std::fabs(want) > 1e-30) {
      const double rel = std::fabs(got[i] - want) / std::fabs(want);
      if (rel > worst) worst = rel, worst_x = x;
    }
  }
  std::printf("    neon %-9s %-10s max relative error %.3g (x = %g)\n", fn_name(fn), what, worst, worst_x);
}

}  // namespace

EI_TEST("vector math (neon): dense sweeps") {
  std::vector<float> wide;  // [-14, 14]: covers the clamps of erf (4), tanh (7.9), gelu_tanh (10.75), gelu_erf (13.2)
  for (int i = -140000; i <= 140000; ++i) wide.push_back(static_cast<float>(i) * 1e-4f);
  for (Fn fn : {Fn::kErf, Fn::kTanh, Fn::kGeluErf, Fn::kGeluTanh}) check_fn(fn, wide, "[-14,14]");
  std::vector<float> e;
  for (int i = -87000; i <= 88700; ++i) e.push_back(static_cast<float>(i) * 1e-3f);
  check_fn(Fn::kExp, e, "[-87,88.7]");
  std::vector<float> under;  // gradual underflow, and overflow to +inf
  for (int i = -1040; i <= -870; ++i) under.push_back(static_cast<float>(i) * 0.1f);
  for (float v : {88.73f, 88.8f, 89.0f, 100.0f, 1e10f, -200.0f, -1e10f}) under.push_back(v);
  check_fn(Fn::kExp, under, "<-87,>88.7");
}

EI_TEST("vector math (neon): log-uniform magnitudes over the float range, both signs") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> expo(-45.0f, 38.5f);
  std::vector<float> xs(200000);
  for (size_t i = 0; i < xs.size(); ++i) {
    const float m = std::pow(10.0f, expo(rng));
    xs[i] = (i % 2 ? -m : m);
  }
  for (Fn fn : {Fn::kErf, Fn::kTanh, Fn::kGeluErf, Fn::kGeluTanh}) check_fn(fn, xs, "log-random");
}

EI_TEST("vector math (neon): special values") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> xs = {0.0f, -0.0f, inf, -inf, nan, -nan, 1e-45f, -1e-45f,
                                 std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                                 std::numeric_limits<float>::min(), -std::numeric_limits<float>::min()};
  for (Fn fn : {Fn::kExp, Fn::kErf, Fn::kTanh, Fn::kGeluErf, Fn::kGeluTanh}) {
    const std::vector<float> got = eval(xs, fn);
    for (size_t i = 0; i < xs.size(); ++i) {
      const double want = ref(fn, xs[i]);
      EI_CHECK_MSG(close(got[i], want, tol(fn, want)),
                   std::string(fn_name(fn)) + " x=" + g(xs[i]) + " got=" + g(got[i]) + " want=" + g(want));
    }
  }
}

#else

EI_TEST("vector math (neon): skipped, vector_math_neon.h is AArch64-only") {
  std::printf("  skipped: not an AArch64 build (the x86 headers are swept in test_layernorm_gelu)\n");
}

#endif

EI_TEST_MAIN()
