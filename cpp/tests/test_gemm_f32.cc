// FP32 GEMM: every compiled variant the CPU supports (gemm_f32_variants()) against a double-precision triple
// loop, on odd sizes, every fused activation, alpha / beta, row-major and packed B, unaligned A / C and split
// column ranges; then GemmF32 (table choice) FP32 and INT8, and the no-heap-allocation check for run().
//
// Tolerances: FP32 |y - ref| <= 1e-5 * (sum_k |a||w| + |bias|) + 1e-6 (float accumulation order differs).
// INT8 (dynamic uint8 activations per tensor, int8 weights per channel): |y - y_fp32| <= 2% of max|y_fp32|
// over the output (before the activation's saturation; sigmoid / tanh outputs use 2% absolute).
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "runtime/thread_pool.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"


using namespace edgeinfer;

namespace {

std::mt19937 rng(1234);

std::vector<float> random_vec(size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double act_ref(double x, FusedActivation act, double a, double b) {
  switch (act) {
    case FusedActivation::kNone: return x;
    case FusedActivation::kRelu: return x < 0 ? 0 : x;  // NaN stays NaN (ONNX Runtime)
    case FusedActivation::kLeakyRelu: return x >= 0 ? x : a * x;
    case FusedActivation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case FusedActivation::kClip: return std::min(std::max(x, a), b);
    case FusedActivation::kTanh: return std::tanh(x);
    case FusedActivation::kHardSigmoid: return std::min(std::max(a * x + b, 0.0), 1.0);
    case FusedActivation::kHardSwish: return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0);
    case FusedActivation::kSilu: return x / (1.0 + std::exp(-x));
    case FusedActivation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case FusedActivation::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

constexpr FusedActivation kActs[] = {FusedActivation::kNone,    FusedActivation::kRelu,
                                     FusedActivation::kLeakyRelu, FusedActivation::kSigmoid,
                                     FusedActivation::kClip,    FusedActivation::kTanh,
                                     FusedActivation::kGeluErf, FusedActivation::kGeluTanh,
                                     FusedActivation::kHardSigmoid, FusedActivation::kHardSwish,
                                     FusedActivation::kSilu};
constexpr int kActCount = static_cast<int>(sizeof(kActs) / sizeof(kActs[0]));

struct Problem {
  int64_t m, n, k;
  int64_t lda, ldc;
  float alpha, beta;
  FusedActivation act;
  bool trans_b, bias;
};

ActivationParams params_for(FusedActivation act) {
  ActivationParams p;
  p.kind = act;
  if (act == FusedActivation::kLeakyRelu) p.alpha = 0.2f;
  if (act == FusedActivation::kHardSigmoid) {
    p.alpha = 0.2f;
    p.beta = 0.5f;
  }
  if (act == FusedActivation::kClip) {
    p.alpha = -0.5f;
    p.beta = 0.7f;
  }
  return p;
}

// ref[i*n+j] (pre-activation z and |.| bound for tolerances)
void reference(const Problem& p, const std::vector<float>& a, const std::vector<float>& w,
               const std::vector<float>& bias, std::vector<double>& z, std::vector<double>& bound) {
  z.assign(static_cast<size_t>(p.m * p.n), 0.0);
  bound.assign(z.size(), 0.0);
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      double s = 0, bnd = 0;
      for (int64_t kk = 0; kk < p.k; ++kk) {
        const double wv = p.trans_b ? w[j * p.k + kk] : w[kk * p.n + j];
        s += double(a[i * p.lda + kk]) * wv;
        bnd += std::fabs(double(a[i * p.lda + kk]) * wv);
      }
      double v = p.alpha * s;
      bnd = std::fabs(p.alpha) * bnd;
      if (p.bias) {
        v += double(p.beta) * bias[j];
        bnd += std::fabs(double(p.beta) * bias[j]);
      }
      z[i * p.n + j] = v;
      bound[i * p.n + j] = bnd;
    }
}

long g_checked[32] = {};

// Runs one variant directly: packed B (or row-major B when trans_b is false and row_major_b), A packed.
void check_variant(size_t vi, const GemmF32Variant* v, const Problem& p, bool row_major_b, int splits) {
  auto a_store = random_vec(static_cast<size_t>(p.m * p.lda + 1));
  const float* a = a_store.data() + 1;  // unaligned
  std::vector<float> a_vec(a, a + p.m * p.lda);
  auto w = random_vec(static_cast<size_t>(p.k * p.n));
  auto bias = random_vec(static_cast<size_t>(p.n));
  const ActivationParams ap = params_for(p.act);
  std::vector<double> z, bound;
  reference(p, a_vec, w, bias, z, bound);

  std::vector<float> packed_b(static_cast<size_t>(gemm_f32_packed_b_floats(p.k, p.n, v->nr)));
  gemm_f32_pack_b(w.data(), p.k, p.n, p.trans_b, v->nr, packed_b.data());
  std::vector<float> packed_a(static_cast<size_t>(p.m * p.k));
  gemm_f32_pack_a(a, p.lda, p.m, p.k, false, v->mr, packed_a.data());
  std::vector<float> bias_scaled(static_cast<size_t>(p.n));
  for (int64_t j = 0; j < p.n; ++j) bias_scaled[j] = p.beta * bias[j];
  std::vector<float> scratch(gemm_f32_scratch_floats(v, p.k));
  std::vector<float> c_store(static_cast<size_t>(p.m * p.ldc + 1), 12345.0f);
  float* c = c_store.data() + 1;

  GemmF32Args args;
  args.m = p.m;
  args.n = p.n;
  args.k = p.k;
  args.a = packed_a.data();
  if (row_major_b && !p.trans_b) {
    args.b_mode = GemmF32BMode::kRowMajor;
    args.b = w.data();
    args.ldb = p.n;
  } else {
    args.b_mode = GemmF32BMode::kPacked;
    args.b = packed_b.data();
  }
  args.c = c;
  args.ldc = p.ldc;
  args.bias_n = p.bias ? bias_scaled.data() : nullptr;
  args.alpha = p.alpha;
  args.activation = ap.kind;
  args.act_alpha = ap.alpha;
  args.act_beta = ap.beta;
  args.scratch = scratch.data();
  const int64_t panels = (p.n + v->nr - 1) / v->nr;
  for (int s = 0; s < splits; ++s) {
    args.n_begin = panels * s / splits * v->nr;
    args.n_end = std::min<int64_t>(panels * (s + 1) / splits * v->nr, p.n);
    if (args.n_end > args.n_begin) v->run(args);
  }
  int bad = 0;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) {
      const double want = act_ref(z[i * p.n + j], ap.kind, ap.alpha, ap.beta);
      const double tol = 1e-5 * bound[i * p.n + j] + 2e-6 + 2e-6 * std::fabs(want);
      const double got = c[i * p.ldc + j];
      if (!(std::fabs(got - want) <= tol) && bad++ < 3)
        EI_CHECK_MSG(false, std::string(v->name) + " m=" + std::to_string(p.m) + " n=" + std::to_string(p.n) +
                                " k=" + std::to_string(p.k) + " act=" + std::to_string(int(p.act)) + " at " +
                                std::to_string(i) + "," + std::to_string(j) + " got " + std::to_string(got) +
                                " want " + std::to_string(want));
    }
    for (int64_t j = p.n; j < p.ldc && i + 1 < p.m; ++j)
      if (c[i * p.ldc + j] != 12345.0f && bad++ < 3) EI_CHECK_MSG(false, std::string(v->name) + " wrote past n");
  }
  ++g_checked[vi];
}

EI_TEST("gemm_f32 variants: odd sizes, activations, alpha/beta, B modes, splits") {
  const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 13, 15, 16, 17, 23, 31, 32, 33, 47, 48, 64, 70};
  std::uniform_int_distribution<int> pick(0, sizeof(sizes) / sizeof(sizes[0]) - 1);
  const auto variants = gemm_f32_variants();
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    const GemmF32Variant* v = variants[vi];
    if (!isa_supported(v->isa)) continue;
    for (int it = 0; it < 160; ++it) {
      Problem p;
      p.m = sizes[pick(rng)];
      p.n = sizes[pick(rng)];
      p.k = sizes[pick(rng)];
      p.lda = p.k + (it % 3);
      p.ldc = p.n + (it % 2) * 3;
      p.alpha = it % 4 == 0 ? 1.0f : 0.75f;
      p.beta = it % 5 == 0 ? 1.0f : -0.5f;
      p.act = kActs[it % kActCount];
      p.trans_b = it % 2 == 1;
      p.bias = it % 7 != 3;
      check_variant(vi, v, p, it % 4 == 2, 1 + it % 3);
    }
    // A few large ones.
    const Problem big[] = {{257, 301, 519, 519, 301, 1.0f, 1.0f, FusedActivation::kNone, false, true},
                           {96, 2432, 216, 216, 2432, 1.0f, 1.0f, FusedActivation::kLeakyRelu, false, true},
                           {1, 128, 1536, 1536, 128, 1.0f, 1.0f, FusedActivation::kRelu, true, true},
                           {16, 129, 1536, 1536, 129, 0.5f, 2.0f, FusedActivation::kGeluErf, true, true}};
    for (const auto& p : big) check_variant(vi, v, p, false, 2);
    check_variant(vi, v, big[1], true, 1);
  }
}

EI_TEST("GemmF32 FP32 and INT8 through the table, threads, no allocation in run") {
  ThreadPool pool(2);
  for (int it = 0; it < 48; ++it) {
    const int64_t ms[] = {1, 2, 5, 16, 37}, ns[] = {1, 3, 17, 64, 128, 129}, ks[] = {1, 7, 33, 128, 300};
    const int64_t m = ms[it % 5], n = ns[it % 6], k = ks[(it / 2) % 5];
    const bool trans = it % 2;
    const FusedActivation act = kActs[it % kActCount];
    const ActivationParams ap = params_for(act);
    auto a = random_vec(static_cast<size_t>(m * k));
    auto w = random_vec(static_cast<size_t>(k * n));
    auto bias = random_vec(static_cast<size_t>(n));
    Problem p{m, n, k, k, n, 0.9f, 0.5f, act, trans, true};
    std::vector<double> z, bound;
    reference(p, a, w, bias, z, bound);
    double zmax = 0;
    for (double v : z) zmax = std::max(zmax, std::fabs(v));
    for (int int8 = 0; int8 < 2; ++int8) {
      auto g = int8 ? GemmF32::create_int8(w.data(), k, n, trans, bias.data(), p.alpha, p.beta, ap)
                    : GemmF32::create(w.data(), k, n, trans, bias.data(), p.alpha, p.beta, ap);
      EI_CHECK(g->k() == k && g->n() == n && g->weight_bytes() > 0);
      AlignedBuffer scratch(g->scratch_bytes(m) + 64);
      std::vector<float> y(static_cast<size_t>(m * n));
      for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::fill(y.begin(), y.end(), NAN);
        const long before = edgeinfer::testing::heap_allocations().load();
        g->run(m, a.data(), k, y.data(), n, scratch.data(), tp);
        EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in GemmF32::run");
        int bad = 0;
        for (int64_t i = 0; i < m * n; ++i) {
          const double want = act_ref(z[i], ap.kind, ap.alpha, ap.beta);
          const double tol = int8 ? 0.02 * std::max(zmax, 1e-3) : 1e-5 * bound[i] + 2e-6 + 2e-6 * std::fabs(want);
          if (!(std::fabs(y[i] - want) <= tol) && bad++ < 2)
            EI_CHECK_MSG(false, std::string(g->kernel_name()) + (int8 ? " int8" : " fp32") + " m=" +
                                    std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
                                    " got " + std::to_string(y[i]) + " want " + std::to_string(want));
        }
      }
    }
  }
}

EI_TEST("GemmF32 rejects bad arguments") {
  float w[4] = {1, 2, 3, 4};
  EI_CHECK_THROWS(GemmF32::create(nullptr, 2, 2, false, nullptr, 1, 1, {}));
  EI_CHECK_THROWS(GemmF32::create(w, 0, 2, false, nullptr, 1, 1, {}));
  EI_CHECK_THROWS(GemmF32::create(w, 2, 2, false, nullptr, NAN, 1, {}));
  auto g = GemmF32::create(w, 2, 2, false, nullptr, 1, 1, {});
  float y[4];
  EI_CHECK_THROWS(g->run(2, w, 1, y, 2, nullptr, nullptr));
}

// ------------------------------------------------------------------ NaN / +-inf
// What ONNX Runtime 1.30 returns (measured on single-op models): NaN propagates through every activation;
// Relu(-inf) = 0, LeakyRelu(-inf) = -inf, Clip(+-inf) = its bounds, Sigmoid(+-inf) = 1 / 0, Tanh = +-1,
// Gelu(+inf) = +inf, Gelu(-inf) = NaN. act_ref above computes exactly that in double.
bool same_value(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::isfinite(got) && std::fabs(got - want) <= tol;
}

const float kInf = std::numeric_limits<float>::infinity(), kNaN = std::numeric_limits<float>::quiet_NaN();

// Finite values around the specials, so every lane position and tail holds each special somewhere.
std::vector<float> special_values(size_t n, int shift) {
  const float specials[] = {kNaN, kInf, -kInf, 0.75f, -1.5f, kNaN, 2.0f, -kInf, kInf, -0.25f, 0.0f};
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = specials[(i + static_cast<size_t>(shift)) % (sizeof(specials) / sizeof(specials[0]))];
  return v;
}

EI_TEST("non-finite: every variant's epilogues (GEMM tile, activate, rows_epilogue, igemm out_min) keep NaN / inf like ORT") {
  const auto variants = gemm_f32_variants();
  for (const GemmF32Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (FusedActivation act : kActs) {
      const ActivationParams ap = params_for(act);
      const auto want_of = [&](double x) { return act_ref(x, act, ap.alpha, ap.beta); };
      // activate(): n = 1 .. 40 (every tail), shifted patterns.
      for (int64_t n = 1; n <= 40; ++n) {
        auto y = special_values(static_cast<size_t>(n), static_cast<int>(n));
        const auto x = y;
        v->activate(y.data(), n, act, ap.alpha, ap.beta);
        for (int64_t i = 0; i < n; ++i)
          EI_CHECK_MSG(same_value(y[i], want_of(x[i]), 2e-6 + 2e-6 * std::fabs(want_of(x[i]))),
                       std::string(v->name) + " activate act=" + std::to_string(int(act)) + " x=" +
                           std::to_string(x[i]) + " got " + std::to_string(y[i]));
      }
      // rows_epilogue(): bias added first, then the activation, then max(., out_min) keeping NaN.
      for (float out_min : {-INFINITY, -0.2f}) {
        const int64_t rows = 3, cols = 37;
        auto y = special_values(static_cast<size_t>(rows * cols), 5);
        const auto x = y;
        std::vector<float> bias(static_cast<size_t>(cols), 0.5f);
        v->rows_epilogue(y.data(), rows, cols, bias.data(), act, ap.alpha, ap.beta, out_min);
        for (int64_t i = 0; i < rows * cols; ++i) {
          double want = want_of(double(x[i]) + 0.5);
          if (!std::isnan(want)) want = std::max<double>(want, out_min);
          EI_CHECK_MSG(same_value(y[i], want, 2e-6 + 2e-6 * std::fabs(want)),
                       std::string(v->name) + " rows_epilogue act=" + std::to_string(int(act)) + " x=" +
                           std::to_string(x[i]) + " got " + std::to_string(y[i]));
        }
      }
      // The GEMM tile epilogue: k = 1, B = 1, so C = act(A + bias); every row count 1..mr + 1 and a last panel.
      {
        const int64_t m = v->mr + 1, n = v->nr + 3, k = 1;
        auto a = special_values(static_cast<size_t>(m), 3);
        std::vector<float> w(static_cast<size_t>(k * n), 1.0f), bias(static_cast<size_t>(n), 0.25f);
        std::vector<float> packed_b(static_cast<size_t>(gemm_f32_packed_b_floats(k, n, v->nr)));
        gemm_f32_pack_b(w.data(), k, n, false, v->nr, packed_b.data());
        std::vector<float> packed_a(static_cast<size_t>(m * k));
        gemm_f32_pack_a(a.data(), k, m, k, false, v->mr, packed_a.data());
        std::vector<float> c(static_cast<size_t>(m * n), 9.0f);
        GemmF32Args args;
        args.m = m;
        args.n = n;
        args.k = k;
        args.a = packed_a.data();
        args.b = packed_b.data();
        args.c = c.data();
        args.ldc = n;
        args.bias_n = bias.data();
        args.activation = act;
        args.act_alpha = ap.alpha;
        args.act_beta = ap.beta;
        v->run(args);
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            const double want = want_of(double(a[i]) + 0.25);
            EI_CHECK_MSG(same_value(c[i * n + j], want, 2e-6 + 2e-6 * std::fabs(want)),
                         std::string(v->name) + " tile act=" + std::to_string(int(act)) + " a=" + std::to_string(a[i]) +
                             " got " + std::to_string(c[i * n + j]));
          }
      }
      // The channels-last igemm tiles: one tap, one channel, B = 1: C = max(act(pixel + bias), out_min).
      for (const IgemmF32Family* fam : {&v->igemm_narrow, &v->igemm_wide, &v->igemm_widest}) {
        for (float out_min : {-INFINITY, -0.2f}) {
          const int rows = fam->mr, cols = fam->nr - 1;
          auto pixels = special_values(static_cast<size_t>(rows), 1);
          std::vector<const float*> ptrs(static_cast<size_t>(rows));
          for (int i = 0; i < rows; ++i) ptrs[static_cast<size_t>(i)] = &pixels[static_cast<size_t>(i)];
          std::vector<float> b(static_cast<size_t>(fam->nr), 1.0f), bias(static_cast<size_t>(fam->nr), -0.5f);
          std::vector<float> c(static_cast<size_t>(rows * fam->nr), 9.0f);
          IgemmF32Tile t;
          t.taps = 1;
          t.channels = 1;
          t.rows = ptrs.data();
          t.row_stride = rows;
          t.b = b.data();
          t.bias = bias.data();
          t.c = c.data();
          t.ldc = fam->nr;
          t.rows_used = rows;
          t.cols = cols;
          t.act = act;
          t.act_alpha = ap.alpha;
          t.act_beta = ap.beta;
          t.out_min = out_min;
          fam->tile(t);
          for (int i = 0; i < rows; ++i)
            for (int j = 0; j < cols; ++j) {
              double want = want_of(double(pixels[static_cast<size_t>(i)]) - 0.5);
              if (!std::isnan(want)) want = std::max<double>(want, out_min);
              EI_CHECK_MSG(same_value(c[static_cast<size_t>(i * fam->nr + j)], want, 2e-6 + 2e-6 * std::fabs(want)),
                           std::string(v->name) + " igemm act=" + std::to_string(int(act)) + " pixel=" +
                               std::to_string(pixels[static_cast<size_t>(i)]) + " got " +
                               std::to_string(c[static_cast<size_t>(i * fam->nr + j)]));
            }
        }
      }
    }
    // minmax(): NaN anywhere gives NaN for both; +-inf are ordinary extremes.
    for (int64_t n = 1; n <= 70; ++n) {
      auto x = random_vec(static_cast<size_t>(n));
      float lo = 0, hi = 0;
      v->minmax(x.data(), n, &lo, &hi);
      EI_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo <= hi);
      for (int64_t pos : {int64_t{0}, n / 2, n - 1}) {
        auto y = x;
        y[static_cast<size_t>(pos)] = kNaN;
        v->minmax(y.data(), n, &lo, &hi);
        EI_CHECK_MSG(std::isnan(lo) && std::isnan(hi), std::string(v->name) + " minmax NaN at " + std::to_string(pos) + " of " + std::to_string(n));
        y[static_cast<size_t>(pos)] = kInf;
        v->minmax(y.data(), n, &lo, &hi);
        EI_CHECK(hi == kInf && (n == 1 || std::isfinite(lo)));
        y[static_cast<size_t>(pos)] = -kInf;
        v->minmax(y.data(), n, &lo, &hi);
        EI_CHECK(lo == -kInf && (n == 1 || std::isfinite(hi)));
      }
    }
  }
}

EI_TEST("non-finite: INT8 GemmF32 (dynamic activations) gives NaN for every output when the input holds NaN / inf") {
  // No uint8 grid holds NaN or inf (or |x| > FLT_MAX / 512): the whole call's output is NaN, never a
  // saturated, plausible-looking number. ONNX Runtime's FP32 output is non-finite there too.
  ThreadPool pool(2);
  for (int64_t m : {1, 3, 16})
    for (int64_t n : {5, 64}) {
      const int64_t k = 40;
      auto w = random_vec(static_cast<size_t>(k * n));
      auto bias = random_vec(static_cast<size_t>(n));
      auto g = GemmF32::create_int8(w.data(), k, n, false, bias.data(), 1.0f, 1.0f, params_for(FusedActivation::kRelu));
      AlignedBuffer scratch(g->scratch_bytes(m) + 64);
      for (float special : {kNaN, kInf, -kInf, 1e37f, 0.5f}) {
        for (int64_t pos : {int64_t{0}, m * k - 1}) {
          auto a = random_vec(static_cast<size_t>(m * k));
          a[static_cast<size_t>(pos)] = special;
          std::vector<float> y(static_cast<size_t>(m * n), 3.0f);
          g->run(m, a.data(), k, y.data(), n, scratch.data(), &pool);
          for (float v : y) EI_CHECK_MSG(special == 0.5f ? std::isfinite(v) : std::isnan(v),
                                         "int8 gemm m=" + std::to_string(m) + " special " + std::to_string(special) + " got " + std::to_string(v));
        }
      }
    }
}

EI_TEST("gemm_f32 summary") {
  const auto variants = gemm_f32_variants();
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("  %-28s %s (%ld problems)\n", variants[i]->name,
                isa_supported(variants[i]->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA", g_checked[i]);
  std::printf("  table choice: %s\n", kernels().gemm_f32->name);
}

}  // namespace

EI_TEST_MAIN()
