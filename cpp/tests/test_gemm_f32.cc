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
    case FusedActivation::kRelu: return x > 0 ? x : 0;
    case FusedActivation::kLeakyRelu: return x >= 0 ? x : a * x;
    case FusedActivation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case FusedActivation::kClip: return std::min(std::max(x, a), b);
    case FusedActivation::kTanh: return std::tanh(x);
    case FusedActivation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case FusedActivation::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

constexpr FusedActivation kActs[] = {FusedActivation::kNone,    FusedActivation::kRelu,
                                     FusedActivation::kLeakyRelu, FusedActivation::kSigmoid,
                                     FusedActivation::kClip,    FusedActivation::kTanh,
                                     FusedActivation::kGeluErf, FusedActivation::kGeluTanh};

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
      p.act = kActs[it % 8];
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
    const FusedActivation act = kActs[it % 8];
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

EI_TEST("gemm_f32 summary") {
  const auto variants = gemm_f32_variants();
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("  %-28s %s (%ld problems)\n", variants[i]->name,
                isa_supported(variants[i]->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA", g_checked[i]);
  std::printf("  table choice: %s\n", kernels().gemm_f32->name);
}

}  // namespace

EI_TEST_MAIN()
