// LayerNorm (+ fused GELU) and GELU: every compiled, CPU-supported variant against the double-precision
// reference, plus accuracy sweeps of the header-only vector math (exp / erf / tanh) where the CPU has it.
//
// Tolerances (float outputs; ref is computed in double and rounded once):
//   erf_ps, tanh_ps     : |got - ref| <= 1e-6 |ref| + 1e-38            (relative, x in [-10, 10] + extremes)
//   exp_ps              : |got - ref| <= 1e-6 |ref|                     (x in [-87, 88])
//   GELU (erf and tanh forms): |got - ref| <= 1e-6 |ref| + 1e-37   (relative for every x: measured < 4.5e-7
//       over a dense sweep of all |x| < 14; the kernels compute 0.5 x erfc(-x/sqrt2) and x sigma(z) without
//       the 1 + erf / 1 + tanh cancellation for x < 0, and so does the reference; 1e-37 covers the underflow
//       region, x < ~-13, where the kernels return 0 or a value below 1e-38 in magnitude).
//   LayerNorm, kNone    : |got - ref| <= 1e-5 (1 + |ref|)   for rows with |mean| / std <= 100
//       (two-pass float mean / variance; the mean's rounding error scaled by 1/std dominates).
//   LayerNorm + GELU    : the LayerNorm bound (GELU's slope is within [-0.17, 1.13]) plus the GELU bound.
// Special values: NaN must give NaN, +-inf must be equal; gelu(-inf) = NaN (-inf * 0, as ONNX Runtime).
// LayerNorm rows with NaN / +-inf: all NaN; rows of huge finite values: as the float graph ORT runs (see
// "layer_norm: non-finite ..." below).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/kernels.h"
#include "tests/check.h"

using namespace edgeinfer;

namespace {

const LayerNormGeluVariant& ref() { return *layernorm_gelu_variants().front(); }

bool close(float got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return static_cast<double>(got) == want;
  if (!std::isfinite(got)) return false;
  return std::fabs(static_cast<double>(got) - want) <= tol;
}

double gelu_tol(double ref) { return 1e-6 * std::fabs(ref) + 1e-37; }

// Without the 1 + erf / 1 + tanh cancellation for x < 0 (see layernorm_gelu_ref.cc).
double gelu_erf_d(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double gelu_tanh_d(double x) {
  const double z = 2.0 * std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x);
  return z >= 0 ? x / (1.0 + std::exp(-z)) : x * std::exp(z) / (1.0 + std::exp(z));
}

std::vector<float> sweep_values() {
  std::vector<float> v;
  for (int i = -100000; i <= 100000; ++i) v.push_back(static_cast<float>(i) * 1e-4f);  // [-10, 10]
  const float inf = std::numeric_limits<float>::infinity();
  for (float e : {0.0f, -0.0f, 1e-45f, -1e-45f, 1e-39f, -1e-39f, 1e-30f, -1e-30f, 1e-10f, -1e-10f, 1e-4f, -1e-4f,
                  20.0f, -20.0f, 50.0f, -50.0f, 1e4f, -1e4f, 1e20f, -1e20f, std::numeric_limits<float>::max(),
                  -std::numeric_limits<float>::max(), inf, -inf, std::numeric_limits<float>::quiet_NaN()})
    v.push_back(e);
  return v;
}

}  // namespace

EI_TEST("gelu: every variant, dense sweep [-10, 10] + extremes, unaligned, in place") {
  const std::vector<float> xs = sweep_values();
  for (const LayerNormGeluVariant* v : layernorm_gelu_variants()) {
    if (!isa_supported(v->isa)) continue;
    std::printf("  variant %s\n", v->name);
    for (bool tanh_form : {false, true}) {
      for (int offset : {0, 3, 13}) {
        std::vector<float> in(xs.size() + 16), out(xs.size() + 16);
        std::copy(xs.begin(), xs.end(), in.begin() + offset);
        GeluArgs a;
        a.x = in.data() + offset;
        a.y = offset == 13 ? in.data() + offset : out.data() + offset;  // offset 13: in place
        a.n = static_cast<int64_t>(xs.size());
        a.tanh_approximation = tanh_form;
        v->gelu(a);
        double worst = 0, worst_rel = 0, worst_x = 0;
        int bad = 0;
        for (size_t i = 0; i < xs.size(); ++i) {
          const double x = xs[i];
          const double want = std::isinf(x) ? (x > 0 ? x : std::nan("")) : (tanh_form ? gelu_tanh_d(x) : gelu_erf_d(x));
          const float got = a.y[i];
          if (!close(got, want, gelu_tol(want))) {
            if (++bad <= 3)
              EI_CHECK_MSG(false, std::string(v->name) + (tanh_form ? " tanh" : " erf") + " x=" + std::to_string(x) +
                                      " got=" + std::to_string(got) + " want=" + std::to_string(want));
          } else if (std::isfinite(want) && std::fabs(want) > 1e-30) {
            worst = std::max(worst, std::fabs(got - want) / gelu_tol(want));
            const double rel = std::fabs(got - want) / std::fabs(want);
            if (rel > worst_rel) worst_rel = rel, worst_x = x;
          }
        }
        if (offset == 0)
          std::printf("    gelu %-4s worst error / tolerance = %.3f, max relative error %.3g (x = %g, |ref| > 1e-30)\n",
                      tanh_form ? "tanh" : "erf", worst, worst_rel, worst_x);
      }
      // Every length 0..70 (tails), compared with the reference variant.
      for (int64_t n = 0; n <= 70; ++n) {
        std::vector<float> in(n + 1), want(n + 1, 5.0f), got(n + 1, 5.0f);
        for (int64_t i = 0; i < n; ++i) in[i] = static_cast<float>(i) * 0.37f - 12.0f;
        GeluArgs a;
        a.x = in.data();
        a.n = n;
        a.tanh_approximation = tanh_form;
        a.y = want.data();
        ref().gelu(a);
        a.y = got.data();
        v->gelu(a);
        for (int64_t i = 0; i < n; ++i) EI_CHECK(close(got[i], want[i], gelu_tol(want[i])));
        EI_CHECK_MSG(got[n] == 5.0f, std::string(v->name) + " gelu wrote past the end n=" + std::to_string(n));
      }
    }
  }
}

namespace {

struct LnCase {
  int64_t rows, width;
  bool gamma, beta;
  float eps;
  Activation act;
  int x_off, y_off;
  bool in_place;
  float mean_shift, spread;
};

// mean_term = 4 * 2^-24 * |mean| * rstd * |gamma|: the float rounding of the row mean (and of its sum),
// scaled like every (x - mean); it is intrinsic to a float mean and dominates for |mean| >> std.
double ln_tol(double ref, double pre, Activation act, double mean_term) {
  const double ln = 1e-5 * (1.0 + std::fabs(pre)) + mean_term;
  if (act == Activation::kNone) return ln;
  return 1.13 * ln + gelu_tol(ref);
}

void run_ln_case(const LayerNormGeluVariant& v, const LnCase& c, std::mt19937& rng, double& worst) {
  const int64_t n = c.rows * c.width;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uni(0.5f, 1.5f), uni_b(-1.0f, 1.0f);
  std::vector<float> xb(n + 32), yb(n + 32, 9.0f), want(n), pre(n), gamma(c.width), beta(c.width);
  for (int64_t i = 0; i < n; ++i) xb[c.x_off + i] = c.mean_shift + c.spread * normal(rng);
  for (int64_t i = 0; i < c.width; ++i) {
    gamma[i] = uni(rng);
    beta[i] = uni_b(rng);
  }
  std::vector<double> mean_term(c.rows);
  for (int64_t r = 0; r < c.rows; ++r) {
    double s = 0, sq = 0;
    for (int64_t i = 0; i < c.width; ++i) s += xb[c.x_off + r * c.width + i];
    const double mean = s / c.width;
    for (int64_t i = 0; i < c.width; ++i) sq += std::pow(xb[c.x_off + r * c.width + i] - mean, 2);
    mean_term[r] = 4.0 * std::ldexp(1.0, -24) * std::fabs(mean) / std::sqrt(sq / c.width + c.eps);
  }
  LayerNormArgs a;
  a.x = xb.data() + c.x_off;
  a.rows = c.rows;
  a.width = c.width;
  a.gamma = c.gamma ? gamma.data() : nullptr;
  a.beta = c.beta ? beta.data() : nullptr;
  a.epsilon = c.eps;
  // Reference: with and without the activation (the pre-activation value sizes the tolerance).
  a.y = want.data();
  a.activation = c.act;
  ref().layer_norm(a);
  a.y = pre.data();
  a.activation = Activation::kNone;
  ref().layer_norm(a);
  a.activation = c.act;
  a.y = c.in_place ? xb.data() + c.x_off : yb.data() + c.y_off;
  v.layer_norm(a);
  int bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double tol = ln_tol(want[i], pre[i], c.act, mean_term[i / c.width] * (c.gamma ? gamma[i % c.width] : 1.0));
    if (!close(a.y[i], want[i], tol)) {
      if (++bad <= 3)
        EI_CHECK_MSG(false, std::string(v.name) + " rows=" + std::to_string(c.rows) + " width=" +
                                std::to_string(c.width) + " act=" + std::to_string(static_cast<int>(c.act)) +
                                " i=" + std::to_string(i) + " got=" + std::to_string(a.y[i]) +
                                " want=" + std::to_string(want[i]));
    } else {
      worst = std::max(worst, std::fabs(a.y[i] - want[i]) / tol);
    }
  }
  if (!c.in_place) {
    for (int i = 0; i < c.y_off; ++i) EI_CHECK_MSG(yb[i] == 9.0f, std::string(v.name) + " wrote before y");
    for (int64_t i = c.y_off + n; i < static_cast<int64_t>(yb.size()); ++i)
      EI_CHECK_MSG(yb[i] == 9.0f, std::string(v.name) + " wrote past y");
  }
}

}  // namespace

EI_TEST("layer_norm: every variant, widths 1..1000+, gamma/beta, eps, activations, unaligned, aliasing") {
  std::mt19937 rng(7);
  std::vector<int64_t> widths;
  for (int64_t w = 1; w <= 80; ++w) widths.push_back(w);
  for (int64_t w : {95, 100, 127, 128, 129, 255, 256, 257, 768, 1000, 1023, 4096, 4097, 9001}) widths.push_back(w);
  const Activation acts[] = {Activation::kNone, Activation::kGeluErf, Activation::kGeluTanh};
  for (const LayerNormGeluVariant* v : layernorm_gelu_variants()) {
    if (!isa_supported(v->isa)) continue;
    std::printf("  variant %s\n", v->name);
    double worst[3] = {0, 0, 0};
    int k = 0;
    for (int64_t w : widths)
      for (Activation act : acts) {
        ++k;
        LnCase c{1 + k % 3, w, k % 4 != 1, k % 4 >= 2, k % 5 == 0 ? 1e-3f : 1e-5f, act,
                 k % 16, (k * 7) % 16, k % 6 == 0, k % 7 == 0 ? 100.0f : (k % 2 ? 0.5f : -3.0f), k % 3 ? 1.0f : 4.0f};
        run_ln_case(*v, c, rng, worst[static_cast<int>(act) == 0 ? 0 : static_cast<int>(act) - 1]);
      }
    std::printf("    worst error / tolerance: none %.3f  gelu_erf %.3f  gelu_tanh %.3f\n", worst[0], worst[1], worst[2]);
  }
}

EI_TEST("layer_norm: constant rows (variance 0) and big epsilon") {
  for (const LayerNormGeluVariant* v : layernorm_gelu_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (int64_t w : {1, 7, 16, 33}) {
      std::vector<float> x(w, 3.25f), y(w, 0.0f), beta(w, 0.75f);
      LayerNormArgs a;
      a.x = x.data();
      a.y = y.data();
      a.rows = 1;
      a.width = w;
      a.beta = beta.data();
      a.epsilon = 0.5f;
      a.activation = Activation::kGeluErf;
      v->layer_norm(a);
      for (float got : y) EI_CHECK(close(got, gelu_erf_d(0.75), 1e-6));
    }
  }
}

EI_TEST("layer_norm / gelu: NaN, +inf, -inf and huge finite rows, every variant, every activation") {
  // ONNX Runtime 1.30 (LayerNormalization, Welford; measured): a row holding NaN or +-inf is all NaN; a row
  // of equal huge values (3.4e38: its float sum overflows) has a finite mean and variance 0, so y = beta;
  // a row whose squared deviations overflow (one 3e38 among small values) has rstd = 0, so y = beta too.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float big = 3.4e38f;
  struct Row {
    const char* what;
    std::vector<float> x;
    bool all_nan;
  };
  for (int64_t w : {5, 16, 37, 300}) {
    auto row = [&](float fill) { return std::vector<float>(static_cast<size_t>(w), fill); };
    std::vector<Row> rows;
    for (int64_t pos : {int64_t{0}, w / 2, w - 1}) {
      for (float special : {nan, inf, -inf}) {
        Row r{"special", row(0.25f), true};
        for (int64_t i = 0; i < w; ++i) r.x[i] = 0.1f * static_cast<float>(i % 7) - 0.3f;
        r.x[pos] = special;
        rows.push_back(r);
      }
    }
    rows.push_back({"all +3.4e38", row(big), false});
    rows.push_back({"all -3.4e38", row(-big), false});
    Row one_big{"one 3e38", row(0.0f), false};
    for (int64_t i = 0; i < w; ++i) one_big.x[i] = 0.5f * static_cast<float>(i % 3);
    one_big.x[w / 3] = 3e38f;
    rows.push_back(one_big);
    std::vector<float> beta(w), gamma(w, 1.5f);
    for (int64_t i = 0; i < w; ++i) beta[i] = 0.05f * static_cast<float>(i % 9) - 0.2f;
    for (const LayerNormGeluVariant* v : layernorm_gelu_variants()) {
      if (!isa_supported(v->isa)) continue;
      for (Activation act : {Activation::kNone, Activation::kGeluErf, Activation::kGeluTanh}) {
        for (const Row& r : rows) {
          std::vector<float> y(w, 7.0f);
          LayerNormArgs a;
          a.x = r.x.data();
          a.y = y.data();
          a.rows = 1;
          a.width = w;
          a.gamma = gamma.data();
          a.beta = beta.data();
          a.activation = act;
          v->layer_norm(a);
          for (int64_t i = 0; i < w; ++i) {
            const double b = beta[i];
            const double want = r.all_nan ? std::nan("")
                                : act == Activation::kGeluErf ? gelu_erf_d(b)
                                : act == Activation::kGeluTanh ? gelu_tanh_d(b)
                                                                : b;
            EI_CHECK_MSG(close(y[i], want, 1e-6),
                         std::string(v->name) + " " + r.what + " w=" + std::to_string(w) + " act=" +
                             std::to_string(static_cast<int>(act)) + " i=" + std::to_string(i) +
                             " got=" + std::to_string(y[i]) + " want=" + std::to_string(want));
          }
        }
      }
      // GELU alone: NaN -> NaN, +inf -> +inf, -inf -> NaN, at every lane position and tail length.
      for (bool tanh_form : {false, true})
        for (int64_t n : {1, 7, 8, 15, 16, 17, 33}) {
          for (float special : {nan, inf, -inf}) {
            std::vector<float> x(n), y(n);
            for (int64_t i = 0; i < n; ++i) x[i] = (i % 2 ? special : 0.5f * static_cast<float>(i) - 3.0f);
            GeluArgs g;
            g.x = x.data();
            g.y = y.data();
            g.n = n;
            g.tanh_approximation = tanh_form;
            v->gelu(g);
            for (int64_t i = 1; i < n; i += 2) {
              const bool ok = special == inf ? y[i] == inf : std::isnan(y[i]);
              EI_CHECK_MSG(ok, std::string(v->name) + " gelu special n=" + std::to_string(n) + " got=" + std::to_string(y[i]));
            }
            for (int64_t i = 0; i < n; i += 2) EI_CHECK(std::isfinite(y[i]));
          }
        }
    }
  }
}

// ------------------------------------------------------------------ header-only vector math accuracy
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq")
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "kernels/common/vector_math_avx2.h"
#include "kernels/common/vector_math_avx512.h"

namespace {
enum class Fn { kExp, kErf, kTanh };
// Evaluates fn on xs with the 16-wide or 8-wide header function.
std::vector<float> eval(const std::vector<float>& xs, Fn fn, bool wide) {
  std::vector<float> in(xs), out(xs.size() + 16);
  in.resize(xs.size() + 16, 0.0f);
  for (size_t i = 0; i < xs.size(); i += wide ? 16 : 8) {
    if (wide) {
      const __m512 x = _mm512_loadu_ps(&in[i]);
      _mm512_storeu_ps(&out[i], fn == Fn::kExp ? vm512::exp_ps(x) : fn == Fn::kErf ? vm512::erf_ps(x) : vm512::tanh_ps(x));
    } else {
      const __m256 x = _mm256_loadu_ps(&in[i]);
      _mm256_storeu_ps(&out[i], fn == Fn::kExp ? vm256::exp_ps(x) : fn == Fn::kErf ? vm256::erf_ps(x) : vm256::tanh_ps(x));
    }
  }
  out.resize(xs.size());
  return out;
}
}  // namespace
#pragma GCC pop_options

EI_TEST("vector math: exp / erf / tanh accuracy (avx2 and avx512 headers)") {
  const std::vector<float> xs = sweep_values();
  std::vector<float> exp_xs;
  for (int i = -87000; i <= 88000; ++i) exp_xs.push_back(static_cast<float>(i) * 1e-3f);
  for (bool wide : {false, true}) {
    if (!isa_supported(wide ? Isa::kAvx512 : Isa::kAvx2)) continue;
    const char* tag = wide ? "avx512" : "avx2";
    for (Fn fn : {Fn::kErf, Fn::kTanh}) {
      const std::vector<float> got = eval(xs, fn, wide);
      double worst = 0;
      int bad = 0;
      for (size_t i = 0; i < xs.size(); ++i) {
        const double x = xs[i];
        const double want = fn == Fn::kErf ? std::erf(x) : std::tanh(x);
        const double tol = 1e-6 * std::fabs(want) + 1e-38;
        if (!close(got[i], want, tol)) {
          if (++bad <= 3)
            EI_CHECK_MSG(false, std::string(tag) + (fn == Fn::kErf ? " erf" : " tanh") + " x=" + std::to_string(x) +
                                    " got=" + std::to_string(got[i]) + " want=" + std::to_string(want));
        } else if (std::fabs(want) > 1e-37) {
          worst = std::max(worst, std::fabs(got[i] - want) / std::fabs(want));
        }
      }
      std::printf("    %s %s max relative error %.3g\n", tag, fn == Fn::kErf ? "erf " : "tanh", worst);
    }
    const std::vector<float> got = eval(exp_xs, Fn::kExp, wide);
    double worst = 0;
    for (size_t i = 0; i < exp_xs.size(); ++i) {
      const double want = std::exp(static_cast<double>(exp_xs[i]));
      const double rel = std::fabs(got[i] - want) / want;
      worst = std::max(worst, rel);
      if (rel > 1e-6) EI_CHECK_MSG(false, std::string(tag) + " exp x=" + std::to_string(exp_xs[i]));
    }
    std::printf("    %s exp  max relative error %.3g\n", tag, worst);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    EI_CHECK(std::isnan(eval({nan}, Fn::kErf, wide)[0]));
    EI_CHECK(std::isnan(eval({nan}, Fn::kTanh, wide)[0]));
    EI_CHECK(std::isnan(eval({nan}, Fn::kExp, wide)[0]));
  }
}
#endif

EI_TEST_MAIN()
