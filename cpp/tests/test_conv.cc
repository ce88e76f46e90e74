// Conv (NCHW / NCW) and pooling: every compiled GEMM variant the CPU supports driven through the im2col /
// row-major B paths the convolution uses, then ConvF32 (table choice) FP32 and INT8, depthwise, 1-D, threads,
// against a double-precision direct convolution; MaxPool / AveragePool against a direct loop; and no heap
// allocation in run(). Tolerances: FP32 1e-5 * sum|x w| + 1e-6; INT8 2% of max|y_fp32| (see test_gemm_f32.cc).
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
#include "kernels/conv/conv_depthwise.h"
#include "kernels/conv/conv_requantization.h"
#include "kernels/conv/conv_grouped.h"
#include "kernels/gemm_f32/gemm_f32_internal.h"
#include "kernels/conv/conv_shape.h"
#include "runtime/thread_pool.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"


using namespace edgeinfer;

namespace {

std::mt19937 rng(99);
std::vector<float> random_vec(size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double act_ref(double x, const ActivationParams& p) {
  switch (p.kind) {
    case FusedActivation::kNone: return x;
    case FusedActivation::kRelu: return x < 0 ? 0 : x;  // NaN stays NaN (ONNX Runtime)
    case FusedActivation::kLeakyRelu: return x >= 0 ? x : p.alpha * x;
    case FusedActivation::kSigmoid: return 1.0 / (1.0 + std::exp(-x));
    case FusedActivation::kClip: return std::min<double>(std::max<double>(x, p.alpha), p.beta);
    case FusedActivation::kTanh: return std::tanh(x);
    case FusedActivation::kHardSigmoid: return std::min(std::max(double(p.alpha) * x + p.beta, 0.0), 1.0);
    case FusedActivation::kHardSwish: return x * std::min(std::max(x / 6.0 + 0.5, 0.0), 1.0);
    case FusedActivation::kSilu: return x / (1.0 + std::exp(-x));
    case FusedActivation::kGeluErf: return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
    case FusedActivation::kGeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d) {
  return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

ConvShape make_shape(int rank, int64_t n, int64_t ci, int64_t co, int64_t g, const int64_t in[2], const int64_t k[2],
                     const int64_t s[2], const int64_t pb[2], const int64_t pe[2], const int64_t d[2]) {
  ConvShape sh;
  sh.rank = rank;
  sh.batch = n;
  sh.in_channels = ci;
  sh.out_channels = co;
  sh.group = g;
  for (int i = 0; i < rank; ++i) {
    sh.in_size[i] = in[i];
    sh.kernel[i] = k[i];
    sh.stride[i] = s[i];
    sh.pad_begin[i] = pb[i];
    sh.pad_end[i] = pe[i];
    sh.dilation[i] = d[i];
    sh.out_size[i] = out_dim(in[i], k[i], s[i], pb[i], pe[i], d[i]);
  }
  return sh;
}

// z (pre-activation) and bound per output.
void conv_ref(const ConvShape& s, const std::vector<float>& x, const std::vector<float>& w, const float* bias,
              std::vector<double>& z, std::vector<double>& bound) {
  const int64_t ih = s.rank == 2 ? s.in_size[0] : 1, iw = s.in_size[s.rank - 1];
  const int64_t oh = s.rank == 2 ? s.out_size[0] : 1, ow = s.out_size[s.rank - 1];
  const int64_t kh = s.rank == 2 ? s.kernel[0] : 1, kw = s.kernel[s.rank - 1];
  const int64_t sh = s.rank == 2 ? s.stride[0] : 1, sw = s.stride[s.rank - 1];
  const int64_t ph = s.rank == 2 ? s.pad_begin[0] : 0, pw = s.pad_begin[s.rank - 1];
  const int64_t dh = s.rank == 2 ? s.dilation[0] : 1, dw = s.dilation[s.rank - 1];
  const int64_t cig = s.in_channels / s.group, cog = s.out_channels / s.group;
  z.assign(static_cast<size_t>(s.batch * s.out_channels * oh * ow), 0.0);
  bound.assign(z.size(), 0.0);
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t oc = 0; oc < s.out_channels; ++oc) {
      const int64_t g = oc / cog;
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xo = 0; xo < ow; ++xo) {
          double acc = bias ? bias[oc] : 0.0, bnd = bias ? std::fabs(bias[oc]) : 0.0;
          for (int64_t c = 0; c < cig; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t yy = y * sh - ph + i * dh, xx = xo * sw - pw + j * dw;
                if (yy < 0 || yy >= ih || xx < 0 || xx >= iw) continue;
                const double p = double(x[((b * s.in_channels + g * cig + c) * ih + yy) * iw + xx]) *
                                 w[((oc * cig + c) * kh + i) * kw + j];
                acc += p;
                bnd += std::fabs(p);
              }
          const size_t o = static_cast<size_t>(((b * s.out_channels + oc) * oh + y) * ow + xo);
          z[o] = acc;
          bound[o] = bnd;
        }
    }
}

struct Case {
  int rank;
  int64_t n, ci, co, g, in[2], k[2], s[2], pb[2], pe[2], d[2];
};

const Case kCases[] = {
    {2, 1, 3, 5, 1, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {2, 2, 4, 6, 2, {11, 5}, {3, 2}, {2, 1}, {1, 0}, {2, 1}, {1, 1}},
    {2, 1, 5, 13, 1, {13, 17}, {3, 3}, {3, 2}, {0, 2}, {1, 0}, {2, 2}},
    {2, 1, 24, 24, 1, {19, 9}, {3, 1}, {1, 1}, {1, 0}, {1, 0}, {1, 1}},
    {2, 1, 24, 48, 1, {9, 15}, {1, 3}, {1, 1}, {0, 1}, {0, 1}, {1, 1}},
    {2, 1, 16, 33, 1, {9, 7}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {1, 1}},     // pointwise
    {2, 2, 6, 6, 2, {5, 37}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {1, 1}},      // pointwise, groups
    {2, 1, 8, 8, 8, {9, 10}, {3, 3}, {1, 2}, {1, 1}, {1, 0}, {1, 1}},      // depthwise
    {2, 1, 4, 8, 4, {7, 8}, {3, 3}, {2, 1}, {0, 1}, {2, 1}, {2, 1}},       // depthwise, multiplier 2
    {1, 2, 5, 7, 1, {23, 1}, {5, 1}, {2, 1}, {2, 0}, {1, 0}, {2, 1}},      // 1-D
    {1, 1, 6, 6, 6, {31, 1}, {3, 1}, {1, 1}, {1, 0}, {1, 0}, {1, 1}},      // 1-D depthwise
    {2, 1, 1, 24, 1, {76, 32}, {3, 3}, {1, 1}, {0, 0}, {0, 0}, {1, 1}},    // embedding-model-like
    {2, 1, 1, 16, 1, {49, 10}, {10, 4}, {2, 2}, {5, 1}, {5, 1}, {1, 1}},   // keyword-spotter stem: gathered rows
    {2, 2, 2, 8, 1, {20, 9}, {5, 3}, {1, 1}, {2, 1}, {2, 1}, {1, 1}},      // ... two channels, padded both ways
    {2, 1, 2, 8, 1, {12, 14}, {3, 3}, {1, 1}, {1, 2}, {1, 2}, {1, 2}},     // ... dilated along w: gathered per tap
    {2, 1, 32, 64, 1, {17, 13}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
    {2, 1, 7, 7, 7, {13, 29}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},     // depthwise 3x3 stride 2, odd width
    {2, 2, 5, 5, 5, {11, 37}, {5, 5}, {2, 2}, {2, 1}, {2, 2}, {1, 1}},     // depthwise 5x5 stride 2, odd pads
    {2, 1, 3, 3, 3, {15, 21}, {7, 7}, {1, 1}, {3, 3}, {3, 3}, {1, 1}},     // depthwise 7x7
    {2, 1, 4, 4, 4, {17, 19}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},     // depthwise, dilation 2
    {2, 1, 3, 9, 3, {10, 11}, {3, 3}, {3, 3}, {1, 0}, {0, 2}, {1, 1}},     // depthwise, multiplier 3, stride 3
    {2, 1, 6, 6, 6, {25, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},      // depthwise, narrow rows (speech)
    // ... narrow and tall enough that the interior block runs down its columns: two images, stride 2 along
    // h, a 5x5 kernel, dilation along h, channel tails
    {2, 2, 20, 20, 20, {40, 6}, {3, 3}, {2, 1}, {1, 1}, {1, 1}, {1, 1}},
    {2, 1, 17, 17, 17, {27, 7}, {5, 5}, {1, 1}, {2, 2}, {2, 2}, {1, 1}},
    {2, 3, 8, 8, 8, {24, 6}, {3, 3}, {1, 1}, {2, 1}, {2, 1}, {2, 1}},
    // ... many channels: blocks of 64 (400 = 6 x 64 + 16), stride 2 along h, two images
    {2, 2, 400, 400, 400, {9, 8}, {5, 5}, {2, 1}, {2, 2}, {2, 2}, {1, 1}},
    {2, 1, 2, 2, 2, {6, 70}, {3, 4}, {2, 1}, {0, 3}, {1, 0}, {1, 3}},      // depthwise 3x4 (generic taps)
    {1, 1, 5, 5, 5, {40, 1}, {5, 1}, {2, 1}, {2, 0}, {1, 0}, {1, 1}},      // 1-D depthwise, stride 2
    {2, 1, 40, 40, 40, {14, 15}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},  // depthwise, channel tails of every vector width
    {2, 2, 24, 24, 24, {13, 11}, {5, 5}, {2, 2}, {2, 2}, {2, 2}, {1, 1}},  // depthwise 5x5 stride 2, wide interior
    {2, 1, 16, 16, 2, {9, 11}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},    // grouped, 8 per group (RegNet)
    {2, 2, 24, 24, 3, {13, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},   // grouped, stride 2
    {2, 1, 12, 18, 3, {7, 9}, {3, 3}, {1, 1}, {2, 1}, {0, 2}, {2, 1}},     // grouped 4 -> 6, dilation, odd pads
    {1, 1, 10, 15, 5, {33, 1}, {3, 1}, {1, 1}, {1, 0}, {1, 0}, {1, 1}},    // 1-D grouped
    {2, 1, 22, 22, 2, {6, 37}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},    // grouped, 11 per group (partial blocks)
    {2, 1, 6, 6, 2, {25, 5}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},      // grouped, narrow rows (flat)
    // Channels-last INT8 implicit GEMM (no im2col; kw * in_c a multiple of 4, wide enough output rows):
    {2, 1, 16, 16, 1, {12, 30}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},   // padded 3x3
    {2, 1, 8, 24, 1, {15, 40}, {3, 3}, {2, 2}, {1, 1}, {0, 1}, {2, 1}},    // strides, dilation along h, odd pads
    {2, 1, 4, 12, 1, {20, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},     // output rows of 9: one-row tiles
    // ... with runs padded to kr by zero weights (kw * in_c = 21 -> 24, 9 -> 12): a 7x7 / 3x3 stem over RGB
    {2, 1, 3, 16, 1, {23, 30}, {7, 7}, {2, 2}, {3, 3}, {3, 3}, {1, 1}},
    {2, 2, 3, 8, 1, {17, 26}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},
    {2, 1, 3, 2, 1, {9, 7}, {7, 7}, {1, 1}, {0, 0}, {0, 0}, {1, 1}},       // output rows of 1: a padded run wider than a row
};

constexpr FusedActivation kActs[] = {FusedActivation::kNone,    FusedActivation::kRelu,
                                     FusedActivation::kLeakyRelu, FusedActivation::kSigmoid,
                                     FusedActivation::kClip,    FusedActivation::kTanh,
                                     FusedActivation::kGeluErf, FusedActivation::kGeluTanh,
                                     FusedActivation::kHardSigmoid, FusedActivation::kHardSwish,
                                     FusedActivation::kSilu};
constexpr int kActCount = static_cast<int>(sizeof(kActs) / sizeof(kActs[0]));

ActivationParams params_for(FusedActivation act) {
  ActivationParams p;
  p.kind = act;
  if (act == FusedActivation::kLeakyRelu) p.alpha = 0.2f;
  if (act == FusedActivation::kHardSigmoid) {
    p.alpha = 0.2f;
    p.beta = 0.5f;
  }
  if (act == FusedActivation::kClip) {
    p.alpha = -0.3f;
    p.beta = 0.6f;
  }
  return p;
}

long g_checked[32] = {};

EI_TEST("conv through every gemm_f32 variant (im2col and row-major B)") {
  const auto variants = gemm_f32_variants();
  for (size_t vi = 0; vi < variants.size(); ++vi) {
    const GemmF32Variant* v = variants[vi];
    if (!isa_supported(v->isa)) continue;
    int ci_idx = 0;
    for (const Case& c : kCases) {
      if (c.ci / c.g == 1 && c.g > 1) continue;  // depthwise does not use the GEMM
      const ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      auto x = random_vec(static_cast<size_t>(c.n * c.ci * c.in[0] * c.in[1]));
      auto w = random_vec(static_cast<size_t>(c.co * (c.ci / c.g) * c.k[0] * c.k[1]));
      auto bias = random_vec(static_cast<size_t>(c.co));
      const ActivationParams ap = params_for(kActs[ci_idx++ % kActCount]);
      std::vector<double> z, bound;
      conv_ref(s, x, w, bias.data(), z, bound);
      // Seen as 2-D for the driver.
      const bool r2 = c.rank == 2;
      const int64_t ih = r2 ? c.in[0] : 1, iw = r2 ? c.in[1] : c.in[0];
      const int64_t oh = r2 ? s.out_size[0] : 1, ow = r2 ? s.out_size[1] : s.out_size[0];
      const int64_t kh = r2 ? c.k[0] : 1, kw = r2 ? c.k[1] : c.k[0];
      const int64_t cig = c.ci / c.g, cog = c.co / c.g, kg = cig * kh * kw;
      const bool pointwise = kh == 1 && kw == 1 && c.s[0] == 1 && c.s[1] == 1 && c.pb[0] == 0 && c.pb[1] == 0 &&
                             c.pe[0] == 0 && c.pe[1] == 0;
      std::vector<float> y(z.size()), packed(static_cast<size_t>(c.co * kg));
      std::vector<float> scratch(gemm_f32_scratch_floats(v, kg));
      for (int64_t g = 0; g < c.g; ++g)
        gemm_f32_pack_a(w.data() + g * cog * kg, kg, cog, kg, false, v->mr, packed.data() + g * cog * kg);
      for (int64_t b = 0; b < c.n; ++b)
        for (int64_t g = 0; g < c.g; ++g) {
          Im2colParams p;
          p.x = x.data() + (b * c.ci + g * cig) * ih * iw;
          p.channels = cig;
          p.in_h = ih; p.in_w = iw; p.out_h = oh; p.out_w = ow; p.kernel_h = kh; p.kernel_w = kw;
          p.stride_h = r2 ? c.s[0] : 1; p.stride_w = r2 ? c.s[1] : c.s[0];
          p.pad_h = r2 ? c.pb[0] : 0; p.pad_w = r2 ? c.pb[1] : c.pb[0];
          p.dilation_h = r2 ? c.d[0] : 1; p.dilation_w = r2 ? c.d[1] : c.d[0];
          GemmF32Args a;
          a.m = cog;
          a.n = oh * ow;
          a.k = kg;
          a.a = packed.data() + g * cog * kg;
          if (pointwise) {
            a.b_mode = GemmF32BMode::kRowMajor;
            a.b = p.x;
            a.ldb = ih * iw;
          } else {
            a.b_mode = GemmF32BMode::kIm2col;
            a.im2col = &p;
          }
          a.c = y.data() + (b * c.co + g * cog) * oh * ow;
          a.ldc = oh * ow;
          a.bias_m = bias.data() + g * cog;
          a.activation = ap.kind;
          a.act_alpha = ap.alpha;
          a.act_beta = ap.beta;
          a.scratch = scratch.data();
          v->run(a);
        }
      int bad = 0;
      for (size_t i = 0; i < z.size(); ++i) {
        const double want = act_ref(z[i], ap);
        if (!(std::fabs(y[i] - want) <= 1e-5 * bound[i] + 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
          EI_CHECK_MSG(false, std::string(v->name) + " case " + std::to_string(ci_idx - 1) + " at " +
                                  std::to_string(i) + " got " + std::to_string(y[i]) + " want " + std::to_string(want));
      }
      ++g_checked[vi];
    }
  }
}

EI_TEST("ConvF32 FP32 / INT8 (table), depthwise, 1-D, threads, no allocation in run") {
  ThreadPool pool(2);
  int idx = 0;
  for (const Case& c : kCases) {
    const ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
    auto x = random_vec(static_cast<size_t>(c.n * c.ci * c.in[0] * c.in[1]));
    for (size_t i = 0; i < x.size(); i += 3) x[i] = std::fabs(x[i]) * 2.0f;  // asymmetric range
    auto w = random_vec(static_cast<size_t>(c.co * (c.ci / c.g) * c.k[0] * c.k[1]));
    auto bias = random_vec(static_cast<size_t>(c.co));
    const ActivationParams ap = params_for(kActs[idx++ % kActCount]);
    std::vector<double> z, bound;
    const bool with_bias = idx % 3 != 0;
    conv_ref(s, x, w, with_bias ? bias.data() : nullptr, z, bound);
    double zmax = 0;
    for (double v : z) zmax = std::max(zmax, std::fabs(v));
    for (int int8 = 0; int8 < 2; ++int8) {
      auto conv = int8 ? ConvF32::create_int8(s, w.data(), with_bias ? bias.data() : nullptr, ap)
                       : ConvF32::create(s, w.data(), with_bias ? bias.data() : nullptr, ap);
      AlignedBuffer scratch(conv->scratch_bytes() + 64);
      std::vector<float> y(z.size());
      for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::fill(y.begin(), y.end(), NAN);
        const long before = edgeinfer::testing::heap_allocations().load();
        conv->run(x.data(), y.data(), scratch.data(), tp);
        EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in ConvF32::run");
        int bad = 0;
        for (size_t i = 0; i < z.size(); ++i) {
          const double want = act_ref(z[i], ap);
          const bool dw = c.ci / c.g == 1 && c.g > 1;  // depthwise stays float
          const double tol = int8 && !dw ? 0.02 * zmax : 1e-5 * bound[i] + 2e-6 + 2e-6 * std::fabs(want);
          if (!(std::fabs(y[i] - want) <= tol) && bad++ < 2)
            EI_CHECK_MSG(false, std::string(conv->kernel_name()) + (int8 ? " int8" : " fp32") + " case " +
                                    std::to_string(idx - 1) + " at " + std::to_string(i) + " got " +
                                    std::to_string(y[i]) + " want " + std::to_string(want));
        }
      }
    }
  }
}

EI_TEST("igemm tiles (channels-last conv) of every gemm_f32 variant: rows, cols, taps, zero rows, out_min") {
  const auto variants = gemm_f32_variants();
  for (const GemmF32Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (const IgemmF32Family* fam : {&v->igemm_narrow, &v->igemm_wide, &v->igemm_widest}) {
      const int mr = fam->mr, nr = fam->nr;
      EI_CHECK(mr >= 1 && nr >= 4);
      for (int trial = 0; trial < 40; ++trial) {
        const int64_t taps = 1 + trial % 4, channels = 1 + (trial * 7) % 37;
        const int rows = 1 + trial % mr, cols = 1 + (trial * 5) % nr;
        const ActivationParams ap = params_for(kActs[trial % kActCount]);
        const float out_min = trial % 3 == 0 ? -0.25f : -INFINITY;
        // Input pixels: rows * taps distinct rows of `channels` floats; every 5th pointer is the zero row.
        auto pixels = random_vec(static_cast<size_t>(rows * taps * channels));
        std::vector<float> zero(static_cast<size_t>(channels), 0.0f);
        std::vector<const float*> ptrs(static_cast<size_t>(taps * mr), nullptr);
        for (int64_t t = 0; t < taps; ++t)
          for (int i = 0; i < rows; ++i)
            ptrs[static_cast<size_t>(t * mr + i)] =
                (t * mr + i) % 5 == 4 ? zero.data() : pixels.data() + (t * rows + i) * channels;
        auto b = random_vec(static_cast<size_t>(taps * channels * nr));
        auto bias = random_vec(static_cast<size_t>(nr));
        const int64_t ldc = nr + 3;
        std::vector<float> c(static_cast<size_t>(rows * ldc), 777.0f);
        IgemmF32Tile t;
        t.taps = taps;
        t.channels = channels;
        t.rows = ptrs.data();
        t.row_stride = mr;
        t.b = b.data();
        t.bias = trial % 4 == 1 ? nullptr : bias.data();
        t.c = c.data();
        t.ldc = ldc;
        t.rows_used = rows;
        t.cols = cols;
        t.act = ap.kind;
        t.act_alpha = ap.alpha;
        t.act_beta = ap.beta;
        t.out_min = out_min;
        fam->tile(t);
        int bad = 0;
        for (int i = 0; i < rows; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const float got = c[static_cast<size_t>(i * ldc + j)];
            if (j >= cols) {
              if (got != 777.0f && bad++ < 2) EI_CHECK_MSG(false, std::string(v->name) + " wrote past cols");
              continue;
            }
            double acc = t.bias != nullptr ? bias[static_cast<size_t>(j)] : 0.0, bound = std::fabs(acc);
            for (int64_t tp = 0; tp < taps; ++tp)
              for (int64_t ch = 0; ch < channels; ++ch) {
                const double p = double(ptrs[static_cast<size_t>(tp * mr + i)][ch]) * b[static_cast<size_t>((tp * channels + ch) * nr + j)];
                acc += p;
                bound += std::fabs(p);
              }
            const double want = std::max<double>(act_ref(acc, ap), out_min);
            if (!(std::fabs(got - want) <= 1e-5 * bound + 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
              EI_CHECK_MSG(false, std::string(v->name) + " igemm " + std::to_string(mr) + "x" + std::to_string(nr) +
                                      " trial " + std::to_string(trial) + " got " + std::to_string(got) + " want " +
                                      std::to_string(want));
          }
      }
    }
  }
}

EI_TEST("rows_epilogue and column_sums of every gemm_f32 variant on odd widths") {
  for (const GemmF32Variant* v : gemm_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (int trial = 0; trial < 24; ++trial) {
      const int64_t rows = 1 + trial % 5, cols = 1 + (trial * 11) % 53;
      const ActivationParams ap = params_for(kActs[trial % kActCount]);
      const float out_min = trial % 2 ? -0.2f : -INFINITY;
      auto y = random_vec(static_cast<size_t>(rows * cols + 1));
      y.back() = 123.0f;  // must stay untouched
      const auto before = y;
      auto bias = random_vec(static_cast<size_t>(cols));
      const bool with_bias = trial % 3 != 0;
      v->rows_epilogue(y.data(), rows, cols, with_bias ? bias.data() : nullptr, ap.kind, ap.alpha, ap.beta, out_min);
      int bad = 0;
      for (int64_t i = 0; i < rows * cols; ++i) {
        const double want = std::max<double>(act_ref(double(before[static_cast<size_t>(i)]) + (with_bias ? bias[static_cast<size_t>(i % cols)] : 0.0), ap), out_min);
        if (!(std::fabs(y[static_cast<size_t>(i)] - want) <= 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
          EI_CHECK_MSG(false, std::string(v->name) + " rows_epilogue trial " + std::to_string(trial) + " got " +
                                  std::to_string(y[static_cast<size_t>(i)]) + " want " + std::to_string(want));
      }
      EI_CHECK(y.back() == 123.0f);
      std::vector<float> sums(static_cast<size_t>(cols + 1), 1.0f);
      v->column_sums(before.data(), rows, cols, sums.data());
      for (int64_t j = 0; j < cols; ++j) {
        double want = 1.0;
        for (int64_t r = 0; r < rows; ++r) want += before[static_cast<size_t>(r * cols + j)];
        EI_CHECK(std::fabs(sums[static_cast<size_t>(j)] - want) <= 1e-5);
      }
      EI_CHECK(sums.back() == 1.0f);
    }
  }
}

// NCHW <-> NHWC for the channels-last checks (1-D: NCW <-> NWC).
std::vector<float> to_nhwc(const std::vector<float>& x, int64_t n, int64_t c, int64_t plane) {
  std::vector<float> y(x.size());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t p = 0; p < plane; ++p) y[static_cast<size_t>((b * plane + p) * c + ch)] = x[static_cast<size_t>((b * c + ch) * plane + p)];
  return y;
}

EI_TEST("channels-last ConvF32 FP32 / INT8 (table choice) against the NCHW reference, out_min, threads, no allocation") {
  ThreadPool pool(2);
  int idx = 0;
  for (const Case& c : kCases) {
    if (c.g != 1 && !(c.ci == c.g && c.co == c.g)) continue;  // group 1, or depthwise with multiplier 1
    ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
    s.channels_last = true;
    const int64_t in_plane = c.in[0] * c.in[1], out_plane = s.out_size[0] * (c.rank == 2 ? s.out_size[1] : 1);
    auto x = random_vec(static_cast<size_t>(c.n * c.ci * in_plane));
    for (size_t i = 0; i < x.size(); i += 3) x[i] = std::fabs(x[i]) * 2.0f;
    auto w = random_vec(static_cast<size_t>(c.co * (c.ci / c.g) * c.k[0] * c.k[1]));
    auto bias = random_vec(static_cast<size_t>(c.co));
    ActivationParams ap = params_for(kActs[idx++ % kActCount]);
    if (idx % 2 == 0) ap.out_min = -0.1f;
    std::vector<double> z, bound;
    conv_ref(s, x, w, bias.data(), z, bound);
    double zmax = 0;
    for (double v : z) zmax = std::max(zmax, std::fabs(v));
    const auto x_nhwc = to_nhwc(x, c.n, c.ci, in_plane);
    for (int int8 = 0; int8 < 2; ++int8) {
      auto conv = int8 ? ConvF32::create_int8(s, w.data(), bias.data(), ap) : ConvF32::create(s, w.data(), bias.data(), ap);
      AlignedBuffer scratch(conv->scratch_bytes() + 64);
      std::vector<float> y(z.size());
      for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::fill(y.begin(), y.end(), NAN);
        const long before = edgeinfer::testing::heap_allocations().load();
        conv->run(x_nhwc.data(), y.data(), scratch.data(), tp);
        EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in channels-last run");
        int bad = 0;
        for (int64_t b = 0; b < c.n; ++b)
          for (int64_t oc = 0; oc < c.co; ++oc)
            for (int64_t p = 0; p < out_plane; ++p) {
              const size_t ref = static_cast<size_t>((b * c.co + oc) * out_plane + p);
              const double want = std::max<double>(act_ref(z[ref], ap), ap.out_min);
              const float got = y[static_cast<size_t>((b * out_plane + p) * c.co + oc)];
              const double tol = int8 ? 0.02 * zmax : 1e-5 * bound[ref] + 2e-6 + 2e-6 * std::fabs(want);
              if (!(std::fabs(got - want) <= tol) && bad++ < 2)
                EI_CHECK_MSG(false, std::string(conv->kernel_name()) + (int8 ? " int8" : " fp32") + " NHWC case " +
                                        std::to_string(idx - 1) + " got " + std::to_string(got) + " want " + std::to_string(want));
            }
      }
    }
  }
  // Channels last takes group 1 or depthwise with multiplier 1 only; out_min NaN and out_min on NCHW convs are refused.
  const int64_t in[2] = {5, 5}, k[2] = {3, 3}, s1[2] = {1, 1}, p0[2] = {0, 0}, d1[2] = {1, 1};
  std::vector<float> w(4 * 2 * 9, 0.1f);
  ConvShape grouped = make_shape(2, 1, 4, 4, 2, in, k, s1, p0, p0, d1);
  grouped.channels_last = true;
  EI_CHECK_THROWS(ConvF32::create(grouped, w.data(), nullptr, {}));
  ConvShape nchw = make_shape(2, 1, 2, 2, 1, in, k, s1, p0, p0, d1);
  ActivationParams clamp;
  clamp.out_min = 0.0f;
  EI_CHECK_THROWS(ConvF32::create(nchw, w.data(), nullptr, clamp));
  nchw.channels_last = true;
  clamp.out_min = NAN;
  EI_CHECK_THROWS(ConvF32::create(nchw, w.data(), nullptr, clamp));
}

// A 2-D window of the pooling tests and its PoolShape (batch 2, NCHW; out sizes from floor windows).
struct PoolCase {
  int64_t in[2], k[2], s[2], pb[2], pe[2], d[2];
};

PoolShape pool_shape(const PoolCase& c, int64_t channels, bool max) {
  PoolShape s;
  s.rank = 2;
  s.batch = 2;
  s.in_channels = s.out_channels = s.group = channels;
  s.max = max;
  for (int i = 0; i < 2; ++i) {
    s.in_size[i] = c.in[i];
    s.kernel[i] = c.k[i];
    s.stride[i] = c.s[i];
    s.pad_begin[i] = c.pb[i];
    s.pad_end[i] = c.pe[i];
    s.dilation[i] = c.d[i];
    s.out_size[i] = out_dim(c.in[i], c.k[i], c.s[i], c.pb[i], c.pe[i], c.d[i]);
  }
  return s;
}

EI_TEST("channels-last pooling matches NCHW pooling") {
  using P = PoolCase;
  const P cases[] = {{{72, 32}, {2, 2}, {2, 2}, {0, 0}, {0, 0}, {1, 1}},
                     {{9, 11}, {3, 2}, {2, 1}, {1, 0}, {1, 1}, {1, 1}},
                     {{8, 7}, {2, 3}, {1, 2}, {0, 1}, {0, 1}, {2, 1}}};
  for (const P& c : cases)
    for (int max = 0; max < 2; ++max)
      for (int cip = 0; cip < 2; ++cip) {
        PoolShape s = pool_shape(c, 5, max != 0);
        s.count_include_pad = cip;
        const int64_t ip = c.in[0] * c.in[1], op = s.out_size[0] * s.out_size[1];
        auto x = random_vec(static_cast<size_t>(10 * ip));
        x[7] = NAN;
        std::vector<float> want(static_cast<size_t>(10 * op)), got(want.size());
        pool_f32(s, x.data(), want.data());
        s.channels_last = true;
        const auto x_nhwc = to_nhwc(x, 2, 5, ip);
        pool_f32(s, x_nhwc.data(), got.data());
        const auto want_nhwc = to_nhwc(want, 2, 5, op);
        int bad = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          const bool same = (std::isnan(got[i]) && std::isnan(want_nhwc[i])) || std::fabs(got[i] - want_nhwc[i]) <= 1e-6f;
          if (!same && bad++ < 2)
            EI_CHECK_MSG(false, "NHWC pool max=" + std::to_string(max) + " at " + std::to_string(i) + " got " +
                                    std::to_string(got[i]) + " want " + std::to_string(want_nhwc[i]));
        }
      }
}

EI_TEST("ConvF32 rejects inconsistent shapes") {
  const int64_t in[2] = {5, 5}, k[2] = {3, 3}, s1[2] = {1, 1}, p0[2] = {0, 0}, d1[2] = {1, 1};
  ConvShape s = make_shape(2, 1, 2, 2, 1, in, k, s1, p0, p0, d1);
  std::vector<float> w(2 * 2 * 9, 0.1f);
  s.out_size[0] = 4;
  EI_CHECK_THROWS(ConvF32::create(s, w.data(), nullptr, {}));
  s = make_shape(2, 1, 3, 2, 2, in, k, s1, p0, p0, d1);
  EI_CHECK_THROWS(ConvF32::create(s, w.data(), nullptr, {}));
  s = make_shape(2, 1, 2, 2, 1, in, k, s1, p0, p0, d1);
  s.stride[0] = 0;
  EI_CHECK_THROWS(ConvF32::create_int8(s, w.data(), nullptr, {}));
}

// Pooling uint8 levels equals pooling their float values (max commutes with the monotone dequantization):
// every window shape of the float test above plus a 3x3 stride-2 pad-1 stem pool and a ceil window, channel
// counts around vector widths, levels 0 and 255 included.
EI_TEST("max_pool_u8_nhwc equals pool_f32 on the same levels as floats") {
  const std::pair<PoolCase, int64_t> cases[] = {{{{72, 32}, {2, 2}, {2, 2}, {0, 0}, {0, 0}, {1, 1}}, 5},
                                                 {{{9, 11}, {3, 2}, {2, 1}, {1, 0}, {1, 1}, {1, 1}}, 64},
                                                 {{{8, 7}, {2, 3}, {1, 2}, {0, 1}, {0, 1}, {2, 1}}, 17},
                                                 {{{14, 14}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}}, 33},
                                                 {{{7, 9}, {3, 3}, {2, 2}, {0, 0}, {1, 1}, {1, 1}}, 130}};
  std::uniform_int_distribution<int> level(0, 255);
  for (const auto& [c, channels] : cases) {
    PoolShape s = pool_shape(c, channels, true);
    s.channels_last = true;
    const size_t in_count = static_cast<size_t>(2 * c.in[0] * c.in[1] * channels);
    const size_t out_count = static_cast<size_t>(2 * s.out_size[0] * s.out_size[1] * channels);
    std::vector<uint8_t> x(in_count), got(out_count, 77);
    std::vector<float> xf(in_count), want(out_count);
    for (size_t i = 0; i < in_count; ++i) x[i] = static_cast<uint8_t>(i % 97 == 0 ? 255 : i % 89 == 0 ? 0 : level(rng));
    for (size_t i = 0; i < in_count; ++i) xf[i] = static_cast<float>(x[i]);
    pool_f32(s, xf.data(), want.data());
    max_pool_u8_nhwc(s, x.data(), got.data());
    int bad = 0;
    for (size_t i = 0; i < out_count; ++i)
      if (static_cast<float>(got[i]) != want[i] && bad++ < 2)
        EI_CHECK_MSG(false, "u8 max pool channels " + std::to_string(channels) + " at " + std::to_string(i) + " got " +
                                std::to_string(got[i]) + " want " + std::to_string(want[i]));
  }
  PoolShape nchw;
  nchw.rank = 2;
  nchw.batch = 1;
  nchw.in_channels = nchw.out_channels = nchw.group = 1;
  nchw.in_size[0] = nchw.in_size[1] = nchw.out_size[0] = nchw.out_size[1] = 2;
  uint8_t b[4] = {};
  EI_CHECK_THROWS(max_pool_u8_nhwc(nchw, b, b));  // channels first: not this kernel
}

EI_TEST("pool_f32 max / average, pads, strides, dilations, count_include_pad, ceil windows") {
  struct P {
    int rank;
    int64_t in[2], k[2], s[2], pb[2], pe[2], d[2], extra[2];
  };
  const P cases[] = {{2, {7, 9}, {2, 2}, {2, 2}, {0, 0}, {0, 0}, {1, 1}, {0, 1}},
                     {2, {6, 5}, {3, 3}, {1, 2}, {1, 1}, {1, 0}, {1, 1}, {0, 0}},
                     {2, {9, 9}, {2, 3}, {2, 1}, {0, 1}, {1, 1}, {2, 2}, {0, 0}},
                     {1, {17, 1}, {3, 1}, {2, 1}, {1, 0}, {0, 0}, {1, 1}, {1, 0}},
                     // Windows all inside the input (the branch-free interior path): 2x2/2, 1x2/(1,2) as in
                     // the openWakeWord embedding, unit and odd strides, dilation, odd widths.
                     {2, {72, 33}, {2, 2}, {2, 2}, {0, 0}, {0, 0}, {1, 1}, {0, 0}},
                     {2, {5, 17}, {1, 2}, {1, 2}, {0, 0}, {0, 0}, {1, 1}, {0, 0}},
                     {2, {6, 13}, {3, 2}, {1, 1}, {0, 0}, {0, 0}, {1, 1}, {0, 0}},
                     {2, {9, 14}, {2, 3}, {2, 3}, {0, 0}, {1, 0}, {2, 2}, {0, 0}},
                     {1, {19, 1}, {3, 1}, {2, 1}, {0, 0}, {0, 0}, {1, 1}, {0, 0}}};
  for (const P& c : cases)
    for (int max = 0; max < 2; ++max)
      for (int cip = 0; cip < 2; ++cip) {
        PoolShape s;
        s.rank = c.rank;
        s.batch = 2;
        s.in_channels = 3;
        s.max = max;
        s.count_include_pad = cip;
        int64_t osz[2] = {1, 1}, in2[2] = {1, 1};
        for (int i = 0; i < c.rank; ++i) {
          s.in_size[i] = c.in[i];
          s.kernel[i] = c.k[i];
          s.stride[i] = c.s[i];
          s.pad_begin[i] = c.pb[i];
          s.pad_end[i] = c.pe[i];
          s.dilation[i] = c.d[i];
          s.out_size[i] = out_dim(c.in[i], c.k[i], c.s[i], c.pb[i], c.pe[i], c.d[i]) + c.extra[i];
          osz[i] = s.out_size[i];
          in2[i] = c.in[i];
        }
        const int64_t ip = in2[0] * in2[1], op = osz[0] * osz[1];
        auto x = random_vec(static_cast<size_t>(6 * ip));
        std::vector<float> y(static_cast<size_t>(6 * op));
        pool_f32(s, x.data(), y.data());
        int bad = 0;
        for (int64_t pl = 0; pl < 6; ++pl)
          for (int64_t o = 0; o < op; ++o) {
            const int64_t oh = c.rank == 2 ? o / osz[1] : 0, ow = c.rank == 2 ? o % osz[1] : o;
            double acc = max ? -INFINITY : 0;
            int inside = 0, padded = 0;
            for (int64_t i = 0; i < (c.rank == 2 ? c.k[0] : 1); ++i)
              for (int64_t j = 0; j < c.k[c.rank - 1]; ++j) {
                int64_t yy, xx, lim_h, lim_w, pbh, pbw, peh, pew;
                if (c.rank == 2) {
                  yy = oh * c.s[0] - c.pb[0] + i * c.d[0];
                  xx = ow * c.s[1] - c.pb[1] + j * c.d[1];
                  lim_h = c.in[0]; lim_w = c.in[1]; pbh = c.pb[0]; pbw = c.pb[1]; peh = c.pe[0]; pew = c.pe[1];
                } else {
                  yy = 0;
                  xx = ow * c.s[0] - c.pb[0] + j * c.d[0];
                  lim_h = 1; lim_w = c.in[0]; pbh = 0; pbw = c.pb[0]; peh = 0; pew = c.pe[0];
                }
                if (yy >= -pbh && yy < lim_h + peh && xx >= -pbw && xx < lim_w + pew) ++padded;
                if (yy < 0 || yy >= lim_h || xx < 0 || xx >= lim_w) continue;
                const double v = x[pl * ip + yy * lim_w + xx];
                ++inside;
                acc = max ? std::max(acc, v) : acc + v;
              }
            const double want = max ? acc : acc / (cip ? padded : inside);
            if (!(std::fabs(y[pl * op + o] - want) <= 1e-6) && bad++ < 2)
              EI_CHECK_MSG(false, "pool max=" + std::to_string(max) + " got " + std::to_string(y[pl * op + o]) +
                                      " want " + std::to_string(want));
          }
      }
}

EI_TEST("max pool propagates NaN on the interior and the padded paths") {
  for (int64_t pad = 0; pad < 2; ++pad) {
    PoolShape s;
    s.rank = 2;
    s.batch = 1;
    s.in_channels = 2;
    s.max = true;
    s.in_size[0] = 4; s.in_size[1] = 6;
    s.kernel[0] = 2; s.kernel[1] = 2;
    s.stride[0] = 2; s.stride[1] = 2;
    s.pad_begin[0] = s.pad_begin[1] = pad;
    s.pad_end[0] = s.pad_end[1] = pad;
    s.dilation[0] = s.dilation[1] = 1;
    s.out_size[0] = out_dim(4, 2, 2, pad, pad, 1);
    s.out_size[1] = out_dim(6, 2, 2, pad, pad, 1);
    std::vector<float> x(48, 1.0f);
    x[1] = NAN;        // plane 0, row 0: second tap of the first window
    x[24 + 9] = NAN;   // plane 1, row 1, col 3
    std::vector<float> y(static_cast<size_t>(2 * s.out_size[0] * s.out_size[1]), 0.0f);
    pool_f32(s, x.data(), y.data());
    const int64_t ow = s.out_size[1], op = s.out_size[0] * ow;
    const int64_t w0 = (1 + pad) / 2, w1 = (3 + pad) / 2, h1 = (1 + pad) / 2;
    for (int64_t o = 0; o < 2 * op; ++o) {
      const bool want_nan = o == w0 || o == op + h1 * ow + w1;
      EI_CHECK_MSG(std::isnan(y[o]) == want_nan, "pad " + std::to_string(pad) + " output " + std::to_string(o));
      if (!want_nan) EI_CHECK(y[o] == 1.0f);
    }
  }
}

// ------------------------------------------------------------------ NaN / +-inf
// One NaN / +inf / -inf pixel: the FP32 convolutions (NCHW GEMM, depthwise, pointwise, 1-D, channels last)
// give NaN / +-inf exactly where the double-precision direct convolution does (its receptive field; a
// single inf times a nonzero weight plus finite terms stays +-inf), then the activation as ONNX Runtime
// applies it (Relu(NaN) = NaN, Clip(inf) = its bound, ...). INT8 (dynamic): the whole output is NaN.
EI_TEST("non-finite: ConvF32 FP32 keeps NaN / inf in their receptive field, INT8 makes the output NaN") {
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  int idx = 0;
  for (const Case& c : kCases) {
    for (int last = 0; last < 2; ++last) {
      if (last && c.g != 1) continue;
      ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      s.channels_last = last != 0;
      const int64_t in_plane = c.in[0] * c.in[1], out_plane = s.out_size[0] * (c.rank == 2 ? s.out_size[1] : 1);
      auto w = random_vec(static_cast<size_t>(c.co * (c.ci / c.g) * c.k[0] * c.k[1]));
      auto bias = random_vec(static_cast<size_t>(c.co));
      const ActivationParams ap = params_for(kActs[idx++ % kActCount]);
      for (float special : specials) {
        auto x = random_vec(static_cast<size_t>(c.n * c.ci * in_plane));
        x[static_cast<size_t>((idx * 7) % static_cast<int>(x.size()))] = special;
        x[x.size() / 2] = special;
        std::vector<double> z, bound;
        conv_ref(s, x, w, bias.data(), z, bound);
        const auto input = last ? to_nhwc(x, c.n, c.ci, in_plane) : x;
        for (int int8 = 0; int8 < 2; ++int8) {
          auto conv = int8 ? ConvF32::create_int8(s, w.data(), bias.data(), ap) : ConvF32::create(s, w.data(), bias.data(), ap);
          const bool quantized = std::string(conv->kernel_name()).find("f32") == std::string::npos;
          AlignedBuffer scratch(conv->scratch_bytes() + 64);
          std::vector<float> y(z.size(), 5.0f);
          conv->run(input.data(), y.data(), scratch.data(), nullptr);
          int bad = 0;
          for (int64_t b = 0; b < c.n; ++b)
            for (int64_t oc = 0; oc < c.co; ++oc)
              for (int64_t p = 0; p < out_plane; ++p) {
                const size_t ref = static_cast<size_t>((b * c.co + oc) * out_plane + p);
                const double want = act_ref(z[ref], ap);
                const float got = y[last ? static_cast<size_t>((b * out_plane + p) * c.co + oc) : ref];
                bool ok;
                if (quantized) ok = std::isnan(got);
                else if (std::isnan(want)) ok = std::isnan(got);
                else if (std::isinf(want)) ok = got == want;
                else ok = std::isfinite(got) && (int8 || std::fabs(got - want) <= 1e-5 * bound[ref] + 2e-6 + 2e-6 * std::fabs(want));
                if (!ok && bad++ < 2)
                  EI_CHECK_MSG(false, std::string(conv->kernel_name()) + (int8 ? " int8" : " fp32") + (last ? " NHWC" : " NCHW") +
                                          " case " + std::to_string(idx - 1) + " special " + std::to_string(special) +
                                          " got " + std::to_string(got) + " want " + std::to_string(want));
              }
        }
      }
    }
  }
}

// ------------------------------------------------------------------ depthwise
// The rows, copies and deinterleave of every dwconv_f32 variant the CPU has against the reference variant:
// odd row lengths (vector tails), several rows with gaps (ld_in, ldy), unaligned views, 1..49 taps, the
// fused activations, NaN kept by Relu / Clip; nothing written outside the outputs.
EI_TEST("dwconv_f32 rows / copy_rows / deinterleave2 of every variant against the reference") {
  const auto variants = dwconv_f32_variants();
  const DwConvF32Variant* ref = variants.front();
  const FusedActivation fused[] = {FusedActivation::kNone, FusedActivation::kRelu, FusedActivation::kLeakyRelu,
                                   FusedActivation::kClip};
  const int64_t tap_counts[] = {1, 3, 9, 25, 49, 12, 2};
  for (const DwConvF32Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (int trial = 0; trial < 70; ++trial) {
      const int64_t taps = tap_counts[trial % 7], rows = 1 + trial % 3, n = 1 + (trial * 13) % 71;
      const int64_t ld_in = n + 40 + trial % 5, ldy = n + 1 + trial % 4, skew = 1 + trial % 3;  // skew: unaligned
      std::vector<int64_t> offsets(static_cast<size_t>(taps));
      for (int64_t t = 0; t < taps; ++t) offsets[static_cast<size_t>(t)] = (t * 7 + trial) % 40;
      auto x = random_vec(static_cast<size_t>(skew + rows * ld_in + 48));
      if (trial % 4 == 1) x[static_cast<size_t>(skew + n / 2)] = NAN;
      auto w = random_vec(static_cast<size_t>(taps));
      const ActivationParams ap = params_for(fused[trial % 4]);
      std::vector<float> want(static_cast<size_t>(rows * ldy + 8), 777.0f), got = want;
      DwConvF32Rows a;
      a.x = x.data() + skew;
      a.tap_offsets = offsets.data();
      a.taps = taps;
      a.ld_in = ld_in;
      a.w = w.data();
      a.bias = 0.25f * static_cast<float>(trial % 3);
      a.ldy = ldy;
      a.rows = rows;
      a.n = n;
      a.act = ap.kind;
      a.act_alpha = ap.alpha;
      a.act_beta = ap.beta;
      a.y = want.data() + skew;
      ref->rows(a);
      a.y = got.data() + skew;
      v->rows(a);
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        const bool same_nan = std::isnan(want[i]) && std::isnan(got[i]);
        if (!(same_nan || std::fabs(got[i] - want[i]) <= 1e-5f * (1.0f + std::fabs(want[i]))) && bad++ < 2)
          EI_CHECK_MSG(false, std::string(v->name) + " rows trial " + std::to_string(trial) + " at " + std::to_string(i) +
                                  " got " + std::to_string(got[i]) + " want " + std::to_string(want[i]));
      }
      // Copies are exact; the deinterleave splits the even and odd source floats.
      std::vector<float> copy_want(static_cast<size_t>(rows * ldy + 8), -1.0f), copy_got = copy_want;
      ref->copy_rows(x.data() + skew, ld_in, copy_want.data() + skew, ldy, rows, n);
      v->copy_rows(x.data() + skew, ld_in, copy_got.data() + skew, ldy, rows, n);
      for (size_t i = 0; i < copy_want.size(); ++i)
        EI_CHECK(std::memcmp(&copy_want[i], &copy_got[i], sizeof(float)) == 0);
      const int64_t half = (n + 1) / 2, stride = half + 2;
      std::vector<float> even(static_cast<size_t>(rows * stride + 4), -1.0f), odd = even;
      v->deinterleave2(x.data() + skew, ld_in, even.data() + 1, odd.data() + 1, stride, rows, n);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < stride; ++i) {
          const float* src = x.data() + skew + r * ld_in;
          const float e = 2 * i < n ? src[2 * i] : -1.0f, o = 2 * i + 1 < n ? src[2 * i + 1] : -1.0f;
          const size_t at = static_cast<size_t>(1 + r * stride + i);
          EI_CHECK(std::memcmp(&even[at], &e, sizeof(float)) == 0 && std::memcmp(&odd[at], &o, sizeof(float)) == 0);
        }
    }
  }
}

// Every depthwise case of kCases (strides 1-3, pads, dilations, multipliers, 1-D, narrow rows, 1..49 taps) through
// every dwconv_f32 variant the CPU has, all activations, one thread and two, unaligned input and output views,
// against the double-precision direct convolution.
EI_TEST("depthwise ConvF32 through every dwconv_f32 variant") {
  ThreadPool pool(2);
  int idx = 0;
  for (const DwConvF32Variant* v : dwconv_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (const Case& c : kCases) {
      if (!(c.ci / c.g == 1 && c.g > 1)) continue;
      const ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      auto x = random_vec(static_cast<size_t>(c.n * c.ci * c.in[0] * c.in[1] + 1));
      auto w = random_vec(static_cast<size_t>(c.co * c.k[0] * c.k[1]));
      auto bias = random_vec(static_cast<size_t>(c.co));
      for (int a = 0; a < kActCount; ++a) {
        const ActivationParams ap = params_for(kActs[a]);
        const bool with_bias = (idx++ % 3) != 0;
        const std::vector<float> xv(x.begin() + 1, x.end());
        std::vector<double> z, bound;
        conv_ref(s, xv, w, with_bias ? bias.data() : nullptr, z, bound);
        auto conv = conv_detail::create_conv_depthwise_f32(conv_detail::normalize(s, "Conv"), w.data(),
                                                            with_bias ? bias.data() : nullptr, ap, v);
        EI_CHECK(std::string(conv->kernel_name()) == v->name);
        AlignedBuffer scratch(conv->scratch_bytes() + 64);
        std::vector<float> y(z.size() + 3);
        for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::fill(y.begin(), y.end(), NAN);
          const long before = edgeinfer::testing::heap_allocations().load();
          conv->run(x.data() + 1, y.data() + 3, scratch.data(), tp);
          EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in depthwise run");
          int bad = 0;
          for (size_t i = 0; i < z.size(); ++i) {
            const double want = act_ref(z[i], ap), got = y[i + 3];
            if (!(std::fabs(got - want) <= 1e-5 * bound[i] + 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
              EI_CHECK_MSG(false, std::string(v->name) + " act " + std::to_string(a) + " shape " +
                                      std::to_string(c.in[0]) + "x" + std::to_string(c.in[1]) + " k" +
                                      std::to_string(c.k[0]) + "x" + std::to_string(c.k[1]) + " at " +
                                      std::to_string(i) + " got " + std::to_string(got) + " want " +
                                      std::to_string(want));
          }
        }
      }
    }
  }
}

// Every channels-last depthwise case (multiplier 1) through every dwconv_f32 variant's nhwc_pixels, all
// activations and out_min, one thread and two, against the double-precision direct convolution.
EI_TEST("channels-last depthwise ConvF32 through every dwconv_f32 variant") {
  ThreadPool pool(2);
  int idx = 0, ran = 0;
  for (const DwConvF32Variant* v : dwconv_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (const Case& c : kCases) {
      if (!(c.ci == c.g && c.co == c.g && c.g > 1)) continue;
      ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      s.channels_last = true;
      const int64_t in_plane = c.in[0] * c.in[1], out_plane = s.out_size[0] * (c.rank == 2 ? s.out_size[1] : 1);
      auto x = random_vec(static_cast<size_t>(c.n * c.ci * in_plane));
      auto w = random_vec(static_cast<size_t>(c.co * c.k[0] * c.k[1]));
      auto bias = random_vec(static_cast<size_t>(c.co));
      std::vector<double> z, bound;
      conv_ref(s, x, w, bias.data(), z, bound);
      const auto x_nhwc = to_nhwc(x, c.n, c.ci, in_plane);
      for (int a = 0; a < kActCount; ++a) {
        ActivationParams ap = params_for(kActs[a]);
        if (idx++ % 3 == 0) ap.out_min = -0.05f;
        auto conv = conv_detail::create_conv_depthwise_nhwc_f32(conv_detail::normalize(s, "Conv"), w.data(), bias.data(), ap, v);
        EI_CHECK(std::string(conv->kernel_name()) == v->name);
        AlignedBuffer scratch(conv->scratch_bytes() + 64);
        std::vector<float> y(z.size() + 1);
        for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::fill(y.begin(), y.end(), NAN);
          const long before = edgeinfer::testing::heap_allocations().load();
          conv->run(x_nhwc.data(), y.data(), scratch.data(), tp);
          EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in NHWC depthwise run");
          EI_CHECK_MSG(std::isnan(y[z.size()]), "NHWC depthwise wrote past its output");
          int bad = 0;
          for (int64_t b = 0; b < c.n; ++b)
            for (int64_t oc = 0; oc < c.co; ++oc)
              for (int64_t p = 0; p < out_plane; ++p) {
                const size_t ref = static_cast<size_t>((b * c.co + oc) * out_plane + p);
                const double want = std::max<double>(act_ref(z[ref], ap), ap.out_min);
                const float got = y[static_cast<size_t>((b * out_plane + p) * c.co + oc)];
                ++ran;
                if (!(std::fabs(got - want) <= 1e-5 * bound[ref] + 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
                  EI_CHECK_MSG(false, std::string(v->name) + " act " + std::to_string(a) + " channels " + std::to_string(c.co) +
                                          " shape " + std::to_string(c.in[0]) + "x" + std::to_string(c.in[1]) + " got " +
                                          std::to_string(got) + " want " + std::to_string(want));
              }
        }
      }
    }
  }
  EI_CHECK(ran > 0);
}

// ------------------------------------------------------------------ INT8 depthwise (QDQ)
// The rows of every dwconv_s8 variant the CPU has against the reference variant, bit for bit: int32 sums and
// the float epilogue (with and without Relu), odd row lengths, several rows with gaps, unaligned views, 1..49
// taps (odd counts pair the last tap with weight 0), extreme values (|q - zp| = 255, w = -128 / 127); and
// widen_rows / widen_deinterleave2 (uint8 rows minus the zero point into int16 rows / stride-2 phases) exactly,
// nothing written past the rows.
EI_TEST("dwconv_s8 rows of every variant against the reference, bit-exact") {
  const auto variants = dwconv_s8_variants();
  const DwConvS8Variant* ref = variants.front();
  const int64_t tap_counts[] = {1, 3, 9, 25, 49, 12, 2, 5};
  std::uniform_int_distribution<int> xd(-255, 255), wd(-128, 127);
  for (const DwConvS8Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (int trial = 0; trial < 96; ++trial) {
      const int64_t taps = tap_counts[trial % 8], rows = 1 + trial % 3, n = 1 + (trial * 13) % 83;
      const int64_t ld_in = n + 40 + trial % 5, ldy = n + 1 + trial % 4, skew = 1 + trial % 3;
      std::vector<int64_t> offsets(static_cast<size_t>(taps));
      for (int64_t t = 0; t < taps; ++t) offsets[static_cast<size_t>(t)] = (t * 7 + trial) % 40;
      std::vector<int16_t> x(static_cast<size_t>(skew + rows * ld_in + 48 + 64));  // + the variants' over-read
      for (auto& e : x) e = static_cast<int16_t>(trial % 5 == 0 ? (xd(rng) > 0 ? 255 : -255) : xd(rng));
      std::vector<int8_t> w(static_cast<size_t>(taps));
      for (auto& e : w) e = static_cast<int8_t>(trial % 5 == 0 ? (wd(rng) > 0 ? 127 : -128) : wd(rng));
      std::vector<int32_t> pairs(static_cast<size_t>((taps + 1) / 2), 0);
      for (int64_t t = 0; t < taps; ++t) {
        const auto u = static_cast<uint32_t>(static_cast<uint16_t>(int16_t{w[static_cast<size_t>(t)]}));
        pairs[static_cast<size_t>(t / 2)] |= static_cast<int32_t>(t % 2 == 0 ? u : u << 16);
      }
      DwConvS8Rows a;
      a.x = x.data() + skew;
      a.tap_offsets = offsets.data();
      a.taps = taps;
      a.ld_in = ld_in;
      a.w = w.data();
      a.w_pairs = pairs.data();
      a.ldy = ldy;
      a.rows = rows;
      a.n = n;
      a.scale = 0.001f * static_cast<float>(1 + trial % 7);
      a.bias = 0.3f * static_cast<float>(trial % 3) - 0.3f;
      a.relu = trial % 2 == 1;
      std::vector<int32_t> iwant(static_cast<size_t>(rows * ldy + 8), 777), igot = iwant;
      a.y_i32 = iwant.data() + skew;
      ref->rows(a);
      a.y_i32 = igot.data() + skew;
      v->rows(a);
      EI_CHECK_MSG(iwant == igot, std::string(v->name) + " int32 rows trial " + std::to_string(trial));
      std::vector<float> fwant(static_cast<size_t>(rows * ldy + 8), 777.0f), fgot = fwant;
      a.y_i32 = nullptr;
      a.y_f32 = fwant.data() + skew;
      ref->rows(a);
      a.y_f32 = fgot.data() + skew;
      v->rows(a);
      EI_CHECK_MSG(std::memcmp(fwant.data(), fgot.data(), sizeof(float) * fwant.size()) == 0,
                   std::string(v->name) + " float rows trial " + std::to_string(trial));
      // widen_rows: exact, nothing written outside the rows (sentinels), unaligned source and destination.
      std::vector<uint8_t> q(static_cast<size_t>(skew + rows * ld_in));
      for (auto& e : q) e = static_cast<uint8_t>(xd(rng) & 255);
      const int32_t zp = (trial * 37) % 256;
      std::vector<int16_t> wwant(static_cast<size_t>(rows * ldy + 40), 12345), wgot = wwant;
      ref->widen_rows(q.data() + skew, ld_in, zp, wwant.data() + skew, ldy, rows, n);
      v->widen_rows(q.data() + skew, ld_in, zp, wgot.data() + skew, ldy, rows, n);
      EI_CHECK_MSG(wwant == wgot, std::string(v->name) + " widen_rows trial " + std::to_string(trial));
      EI_CHECK(wwant[static_cast<size_t>(skew)] == static_cast<int16_t>(q[static_cast<size_t>(skew)] - zp));
      // widen_deinterleave2: the even / odd source columns, exactly.
      const int64_t half = (n + 1) / 2, stride = half + 2;
      std::vector<int16_t> even(static_cast<size_t>(rows * stride + 4), -1), odd = even;
      v->widen_deinterleave2(q.data() + skew, ld_in, zp, even.data() + 1, odd.data() + 1, stride, rows, n);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t i = 0; i < stride; ++i) {
          const uint8_t* src = q.data() + skew + r * ld_in;
          const int16_t e = 2 * i < n ? static_cast<int16_t>(src[2 * i] - zp) : -1;
          const int16_t o = 2 * i + 1 < n ? static_cast<int16_t>(src[2 * i + 1] - zp) : -1;
          const size_t at = static_cast<size_t>(1 + r * stride + i);
          EI_CHECK_MSG(even[at] == e && odd[at] == o, std::string(v->name) + " widen_deinterleave2 trial " + std::to_string(trial));
        }
    }
  }
}

// QDQ convolutions channels last (QLinearConvNhwc) against the same model's NCHW convolution: every group-1
// case of kCases, per-channel int8 weights, static and dynamic activation quantization, every activation,
// one thread and two. Same quantized input, same integer sums, same epilogue: equal to float rounding of
// the activation (bit-exact for none / Relu). Depthwise channels-last QDQ convs are refused (NCHW kernel).
EI_TEST("INT8 (QDQ) channels-last ConvF32 equals its NCHW form") {
  ThreadPool pool(2);
  std::uniform_int_distribution<int> wd(-128, 127);
  int idx = 0, compared = 0;
  for (const Case& c : kCases) {
    if (c.g != 1) continue;
    ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
    ConvShape last = s;
    last.channels_last = true;
    const int64_t in_plane = c.in[0] * c.in[1], out_plane = s.out_size[0] * (c.rank == 2 ? s.out_size[1] : 1);
    auto x = random_vec(static_cast<size_t>(c.n * c.ci * in_plane));
    for (auto& e : x) e *= 2.0f;
    std::vector<int8_t> w(static_cast<size_t>(c.co * c.ci * c.k[0] * c.k[1]));
    for (auto& e : w) e = static_cast<int8_t>(wd(rng));
    std::vector<float> ws(static_cast<size_t>(c.co)), bias = random_vec(static_cast<size_t>(c.co));
    for (size_t i = 0; i < ws.size(); ++i) ws[i] = 0.002f + 0.0007f * static_cast<float>(i % 7);
    QuantizedWeightsS8 qw;
    qw.data = w.data();
    qw.scales = ws.data();
    qw.scale_count = c.co;
    const auto x_nhwc = to_nhwc(x, c.n, c.ci, in_plane);
    for (int a = 0; a < kActCount; ++a) {
      const ActivationParams ap = params_for(kActs[a]);
      ActivationQuantization quant;
      if (idx++ % 2 == 0) {
        quant.dynamic = false;
        quant.scale = 0.017f;
        quant.zero_point = 110;
      }
      auto nchw = ConvF32::create_quantized(s, qw, bias.data(), quant, ap);
      auto nhwc = ConvF32::create_quantized(last, qw, bias.data(), quant, ap);
      AlignedBuffer s1(nchw->scratch_bytes() + 64), s2(nhwc->scratch_bytes() + 64);
      std::vector<float> want(static_cast<size_t>(c.n * c.co * out_plane)), got(want.size());
      nchw->run(x.data(), want.data(), s1.data(), nullptr);
      for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::fill(got.begin(), got.end(), NAN);
        const long before = edgeinfer::testing::heap_allocations().load();
        nhwc->run(x_nhwc.data(), got.data(), s2.data(), tp);
        EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in channels-last QDQ run");
        const bool exact = ap.kind == FusedActivation::kNone || ap.kind == FusedActivation::kRelu;
        int bad = 0;
        for (int64_t b = 0; b < c.n; ++b)
          for (int64_t oc = 0; oc < c.co; ++oc)
            for (int64_t p = 0; p < out_plane; ++p) {
              const float e = want[static_cast<size_t>((b * c.co + oc) * out_plane + p)];
              const float g = got[static_cast<size_t>((b * out_plane + p) * c.co + oc)];
              ++compared;
              const bool ok = exact ? std::memcmp(&e, &g, sizeof(float)) == 0 : std::fabs(g - e) <= 1e-6f * (1.0f + std::fabs(e));
              if (!ok && bad++ < 2)
                EI_CHECK_MSG(false, std::string("QDQ NHWC act ") + std::to_string(a) + " channels " + std::to_string(c.ci) + "->" +
                                        std::to_string(c.co) + " got " + std::to_string(g) + " want " + std::to_string(e));
            }
      }
    }
  }
  EI_CHECK(compared > 0);
  const int64_t in[2] = {5, 5}, k[2] = {3, 3}, s1[2] = {1, 1}, p0[2] = {0, 0}, d1[2] = {1, 1};
  ConvShape depthwise = make_shape(2, 1, 4, 4, 4, in, k, s1, p0, p0, d1);
  depthwise.channels_last = true;
  std::vector<int8_t> w(4 * 9, 1);
  std::vector<float> ws(4, 0.01f);
  QuantizedWeightsS8 qw;
  qw.data = w.data();
  qw.scales = ws.data();
  qw.scale_count = 4;
  EI_CHECK_THROWS(ConvF32::create_quantized(depthwise, qw, nullptr, ActivationQuantization{}, {}));
}

// Level input / output (an INT8 conv's uint8 output handed to the next one): the same bits as the float form
// (x as the levels' float values, y as the fake-quantized floats), every group-1 case of kCases (im2col,
// implicit and pointwise paths), one thread and two, no allocation; float-only entry points refuse levels.
EI_TEST("INT8 (QDQ) channels-last ConvF32 reading and writing uint8 levels equals its float form") {
  ThreadPool pool(2);
  std::uniform_int_distribution<int> wd(-128, 127), level(0, 255);
  int compared = 0;
  for (const Case& c : kCases) {
    if (c.g != 1) continue;
    ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
    s.channels_last = true;
    const int64_t in_plane = c.in[0] * c.in[1], out_plane = s.out_size[0] * (c.rank == 2 ? s.out_size[1] : 1);
    std::vector<int8_t> w(static_cast<size_t>(c.co * c.ci * c.k[0] * c.k[1]));
    for (auto& e : w) e = static_cast<int8_t>(wd(rng));
    std::vector<float> ws(static_cast<size_t>(c.co)), bias = random_vec(static_cast<size_t>(c.co));
    for (size_t i = 0; i < ws.size(); ++i) ws[i] = 0.002f + 0.0007f * static_cast<float>(i % 7);
    QuantizedWeightsS8 qw;
    qw.data = w.data();
    qw.scales = ws.data();
    qw.scale_count = c.co;
    ActivationQuantization in;
    in.dynamic = false;
    in.scale = 0.021f;
    in.zero_point = 17;
    OutputQuantization out;
    out.enabled = true;
    out.scale = 0.09f;
    out.zero_point = 131;
    std::vector<uint8_t> x_levels(static_cast<size_t>(c.n * c.ci * in_plane));
    std::vector<float> x(x_levels.size());
    for (size_t i = 0; i < x.size(); ++i) {
      x_levels[i] = static_cast<uint8_t>(level(rng));
      x[i] = (static_cast<float>(x_levels[i]) - static_cast<float>(in.zero_point)) * in.scale;
    }
    ActivationQuantization in_levels = in;
    in_levels.levels = true;
    OutputQuantization out_levels = out;
    out_levels.levels = true;
    for (int a = 0; a < 2; ++a) {
      const ActivationParams ap = params_for(kActs[a]);  // none, ReLU
      auto floats = ConvF32::create_quantized(s, qw, bias.data(), in, ap, out);
      auto bytes = ConvF32::create_quantized(s, qw, bias.data(), in_levels, ap, out_levels);
      AlignedBuffer s1(floats->scratch_bytes() + 64), s2(bytes->scratch_bytes() + 64);
      std::vector<float> want(static_cast<size_t>(c.n * c.co * out_plane));
      floats->run(x.data(), want.data(), s1.data(), nullptr);
      EI_CHECK_THROWS(bytes->run(x.data(), want.data(), s2.data(), nullptr));  // levels need run_quantized
      for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
        std::vector<uint8_t> got(want.size(), 7);
        const long before = edgeinfer::testing::heap_allocations().load();
        bytes->run_quantized(x_levels.data(), got.data(), s2.data(), tp);
        EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in a level run");
        int bad = 0;
        for (size_t i = 0; i < got.size(); ++i, ++compared) {
          const float value = (static_cast<float>(got[i]) - static_cast<float>(out.zero_point)) * out.scale;
          if (std::memcmp(&value, &want[i], sizeof(float)) != 0 && bad++ < 2)
            EI_CHECK_MSG(false, "levels " + std::to_string(c.ci) + "->" + std::to_string(c.co) + " act " + std::to_string(a) + " at " +
                                    std::to_string(i) + ": level " + std::to_string(got[i]) + " is " + std::to_string(value) + ", float form " +
                                    std::to_string(want[i]));
        }
      }
    }
  }
  EI_CHECK(compared > 0);
  // Levels only where they can be read exactly: static uint8 input of a channels-last conv, unsigned output.
  const int64_t in2[2] = {5, 5}, k3[2] = {3, 3}, s1[2] = {1, 1}, p0[2] = {0, 0}, d1[2] = {1, 1};
  ConvShape nchw = make_shape(2, 1, 4, 8, 1, in2, k3, s1, p0, p0, d1);
  std::vector<int8_t> w(8 * 4 * 9, 1);
  std::vector<float> ws(8, 0.01f);
  QuantizedWeightsS8 qw;
  qw.data = w.data();
  qw.scales = ws.data();
  qw.scale_count = 8;
  ActivationQuantization levels_in;
  levels_in.dynamic = false;
  levels_in.levels = true;
  EI_CHECK_THROWS(ConvF32::create_quantized(nchw, qw, nullptr, levels_in, {}));  // NCHW
  ActivationQuantization dynamic_levels;
  dynamic_levels.levels = true;
  ConvShape last = nchw;
  last.channels_last = true;
  EI_CHECK_THROWS(ConvF32::create_quantized(last, qw, nullptr, dynamic_levels, {}));  // no parameters to read them with
  OutputQuantization signed_levels;
  signed_levels.enabled = true;
  signed_levels.is_signed = true;
  signed_levels.levels = true;
  EI_CHECK_THROWS(ConvF32::create_quantized(last, qw, nullptr, ActivationQuantization{}, {}, signed_levels));
  OutputQuantization levels_without_quantization;
  levels_without_quantization.levels = true;
  EI_CHECK_THROWS(ConvF32::create_quantized(last, qw, nullptr, ActivationQuantization{}, {}, levels_without_quantization));
}

// Every depthwise case of kCases through every dwconv_s8 variant (and the table's choice through
// ConvF32::create_quantized), static (uint8 zero point) and dynamic activation quantization, per-channel
// scales with weights up to -128, one thread and two, unaligned views, no allocation, against gemm_s8's
// definition computed here: q = the quantize kernel's uint8, acc = exact int32 sum of (q - zp) * w,
// y = fma(float(acc), x_scale * w_scale, bias). None / Relu: bit-exact; other activations applied after, 1e-5.
EI_TEST("INT8 (QDQ) depthwise ConvF32 through every dwconv_s8 variant, bit-exact with gemm_s8 numerics") {
  ThreadPool pool(2);
  std::uniform_int_distribution<int> wd(-128, 127);
  int idx = 0;
  std::vector<const DwConvS8Variant*> variants(dwconv_s8_variants().begin(), dwconv_s8_variants().end());
  variants.push_back(nullptr);  // the table's choice through create_quantized
  for (const DwConvS8Variant* v : variants) {
    if (v != nullptr && !isa_supported(v->isa)) continue;
    for (const Case& c : kCases) {
      if (!(c.ci / c.g == 1 && c.g > 1)) continue;
      const ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      const conv_detail::Conv2d cv = conv_detail::normalize(s, "Conv");
      auto x = random_vec(static_cast<size_t>(c.n * c.ci * c.in[0] * c.in[1] + 1));
      for (auto& e : x) e *= 3.0f;
      const int64_t taps = c.k[0] * c.k[1];
      std::vector<int8_t> w(static_cast<size_t>(c.co * taps));
      for (auto& e : w) e = static_cast<int8_t>(wd(rng));
      std::vector<float> ws(static_cast<size_t>(c.co)), bias = random_vec(static_cast<size_t>(c.co));
      for (size_t i = 0; i < ws.size(); ++i) ws[i] = 0.001f + 0.0005f * static_cast<float>(i % 5);
      for (int a = 0; a < kActCount; ++a) {
        const ActivationParams ap = params_for(kActs[a]);
        ActivationQuantization quant;
        if (idx % 2 == 0) {
          quant.dynamic = false;
          quant.scale = 0.021f;  // some inputs saturate at 0 / 255
          quant.zero_point = 100 + idx % 40;
        }
        const bool with_bias = (idx++ % 3) != 0;
        const float* bp = with_bias ? bias.data() : nullptr;
        const float* xin = x.data() + 1;
        const int64_t in_count = c.n * c.ci * cv.in_plane();
        // The expected output.
        const gemm_f32_detail::QuantParams qp =
            gemm_f32_detail::activation_params_u8(kernels().gemm_f32, quant, xin, 1, in_count, 0);
        std::vector<uint8_t> q(static_cast<size_t>(in_count));
        QuantizeArgs qa;
        qa.x = xin;
        qa.y = q.data();
        qa.y_signed = false;
        qa.inner = in_count;
        qa.scales = &qp.scale;
        qa.zero_points = &qp.zero_point;
        quantize_variants().front()->quantize(qa);
        std::vector<float> want(static_cast<size_t>(c.n * c.co * cv.out_plane()));
        for (int64_t b = 0; b < c.n; ++b)
          for (int64_t oc = 0; oc < c.co; ++oc)
            for (int64_t oy = 0; oy < cv.oh; ++oy)
              for (int64_t ox = 0; ox < cv.ow; ++ox) {
                int32_t acc = 0;
                for (int64_t i = 0; i < cv.kh; ++i)
                  for (int64_t j = 0; j < cv.kw; ++j) {
                    const int64_t yy = oy * cv.sh - cv.ph + i * cv.dh, xx = ox * cv.sw - cv.pw + j * cv.dw;
                    if (yy < 0 || yy >= cv.ih || xx < 0 || xx >= cv.iw) continue;
                    const int64_t ic = oc / cv.out_c_g;
                    acc += (int32_t{q[static_cast<size_t>(((b * c.ci + ic) * cv.ih + yy) * cv.iw + xx)]} - qp.zero_point) *
                           w[static_cast<size_t>((oc * cv.kh + i) * cv.kw + j)];
                  }
                const float y = std::fma(static_cast<float>(acc), qp.scale * ws[static_cast<size_t>(oc)],
                                         bp != nullptr ? bp[oc] : 0.0f);
                want[static_cast<size_t>(((b * c.co + oc) * cv.oh + oy) * cv.ow + ox)] =
                    ap.kind == FusedActivation::kRelu ? (y < 0.0f ? 0.0f : y) : static_cast<float>(act_ref(y, ap));
              }
        std::unique_ptr<ConvF32> conv;
        if (v != nullptr) {
          conv = conv_detail::create_conv_depthwise_s8(cv, w.data(), ws.data(), bp, ap, quant, v);
          EI_CHECK(std::string(conv->kernel_name()) == v->name);
        } else {
          QuantizedWeightsS8 qw;
          qw.data = w.data();
          qw.scales = ws.data();
          qw.scale_count = c.co;
          conv = ConvF32::create_quantized(s, qw, bp, quant, ap);
          EI_CHECK(std::string(conv->kernel_name()) == kernels().dwconv_s8->name);
        }
        AlignedBuffer scratch(conv->scratch_bytes() + 64);
        std::vector<float> y(want.size() + 3);
        const bool exact = ap.kind == FusedActivation::kNone || ap.kind == FusedActivation::kRelu;
        for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::fill(y.begin(), y.end(), NAN);
          const long before = edgeinfer::testing::heap_allocations().load();
          conv->run(xin, y.data() + 3, scratch.data(), tp);
          EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in INT8 depthwise run");
          int bad = 0;
          for (size_t i = 0; i < want.size(); ++i) {
            const float got = y[i + 3];
            const bool ok = exact ? std::memcmp(&got, &want[i], sizeof(float)) == 0
                                  : std::fabs(got - want[i]) <= 1e-5f * (1.0f + std::fabs(want[i]));
            if (!ok && bad++ < 2)
              EI_CHECK_MSG(false, std::string(v != nullptr ? v->name : "table") + " act " + std::to_string(a) +
                                      " shape " + std::to_string(c.in[0]) + "x" + std::to_string(c.in[1]) + " k" +
                                      std::to_string(c.k[0]) + "x" + std::to_string(c.k[1]) + " at " + std::to_string(i) +
                                      " got " + std::to_string(got) + " want " + std::to_string(want[i]));
          }
        }
      }
    }
  }
}

// ------------------------------------------------------------------ ORT's output stage (QDQ convs)
// A QDQ conv whose output quantization is fused and whose bias is a dequantized int32 gives ONNX Runtime's
// QLinearConv levels: saturate(round_half_even(float(acc + bias_q) * ((x_scale * w_scale) / y_scale)) + zp),
// acc the exact integer sum. Checked bit for bit for group-1 convs (gemm_s8 + requantize) and channels-last
// depthwise ones (every dwconv_f32 variant's level input and requantizing epilogue, and the table's choice
// through create_quantized), with float or level input and output, extreme levels and weights, zero points
// at both ends, Relu with zero point 0; and that a bias that is no dequantized int32 keeps the float path.
EI_TEST("INT8 (QDQ) channels-last convs give ORT's output levels, bit for bit") {
  ThreadPool pool(2);
  std::uniform_int_distribution<int> wd(-128, 127), level(0, 255), bias_d(-30000, 30000);
  int compared = 0, idx = 0;
  std::vector<const DwConvF32Variant*> variants(dwconv_f32_variants().begin(), dwconv_f32_variants().end());
  for (const Case& c : kCases) {
    const bool depthwise = c.ci == c.g && c.co == c.g && c.g > 1;
    if (c.g != 1 && !depthwise) continue;
    ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
    s.channels_last = true;
    const conv_detail::Conv2d cv = conv_detail::normalize(s, "Conv");
    const int64_t in_count = c.n * c.ci * cv.in_plane(), out_count = c.n * c.co * cv.out_plane(), kg = cv.k_g();
    std::vector<int8_t> w(static_cast<size_t>(c.co * kg));
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i % 11 == 0 ? -128 : wd(rng));
    std::vector<uint8_t> xq(static_cast<size_t>(in_count));
    for (size_t i = 0; i < xq.size(); ++i) xq[i] = static_cast<uint8_t>(i % 13 == 0 ? 255 : i % 17 == 0 ? 0 : level(rng));
    for (int variant_case = 0; variant_case < 3; ++variant_case) {
      ActivationQuantization in;
      in.dynamic = false;
      in.scale = 0.0213f;
      in.zero_point = variant_case == 0 ? 0 : variant_case == 1 ? 255 : 131;
      OutputQuantization out;
      out.enabled = true;
      out.scale = variant_case == 2 ? 0.5f : 0.0731f;  // 0.5: many sums land on ties
      out.zero_point = variant_case == 0 ? 0 : 97;
      const bool relu = variant_case == 0;  // zero point 0: the clamp is the Relu
      std::vector<float> ws(static_cast<size_t>(c.co)), bias(static_cast<size_t>(c.co)), x(static_cast<size_t>(in_count));
      std::vector<int32_t> bias_q(static_cast<size_t>(c.co));
      for (int64_t oc = 0; oc < c.co; ++oc) {
        ws[static_cast<size_t>(oc)] = variant_case == 2 ? 1.0f / 64.0f : 0.0011f + 0.0007f * static_cast<float>(oc % 7);
        bias_q[static_cast<size_t>(oc)] = bias_d(rng);
        bias[static_cast<size_t>(oc)] = static_cast<float>(bias_q[static_cast<size_t>(oc)]) * (in.scale * ws[static_cast<size_t>(oc)]);
      }
      for (int64_t i = 0; i < in_count; ++i)
        x[static_cast<size_t>(i)] = (static_cast<float>(xq[static_cast<size_t>(i)]) - static_cast<float>(in.zero_point)) * in.scale;
      // ORT's levels, NHWC.
      std::vector<uint8_t> want(static_cast<size_t>(out_count));
      for (int64_t b = 0; b < c.n; ++b)
        for (int64_t oy = 0; oy < cv.oh; ++oy)
          for (int64_t ox = 0; ox < cv.ow; ++ox)
            for (int64_t oc = 0; oc < c.co; ++oc) {
              int64_t acc = bias_q[static_cast<size_t>(oc)];
              for (int64_t ic = 0; ic < cv.in_c_g; ++ic)
                for (int64_t i = 0; i < cv.kh; ++i)
                  for (int64_t j = 0; j < cv.kw; ++j) {
                    const int64_t yy = oy * cv.sh - cv.ph + i * cv.dh, xx = ox * cv.sw - cv.pw + j * cv.dw;
                    if (yy < 0 || yy >= cv.ih || xx < 0 || xx >= cv.iw) continue;
                    const int64_t channel = depthwise ? oc : ic;
                    acc += (int64_t{xq[static_cast<size_t>(((b * cv.ih + yy) * cv.iw + xx) * c.ci + channel)]} - in.zero_point) *
                           w[static_cast<size_t>(((oc * cv.in_c_g + ic) * cv.kh + i) * cv.kw + j)];
                  }
              const float m = in.scale * ws[static_cast<size_t>(oc)] / out.scale;
              float v = static_cast<float>(acc) * m;
              v = std::fmin(std::fmax(v, static_cast<float>(-out.zero_point)), static_cast<float>(255 - out.zero_point));
              want[static_cast<size_t>(((b * cv.oh + oy) * cv.ow + ox) * c.co + oc)] =
                  static_cast<uint8_t>(static_cast<int32_t>(std::nearbyint(v)) + out.zero_point);
            }
      const ActivationParams act = relu ? params_for(FusedActivation::kRelu) : ActivationParams{};
      auto check = [&](const std::string& what, const void* y, bool levels_out) {
        int bad = 0;
        for (int64_t i = 0; i < out_count; ++i) {
          const uint8_t want_level = want[static_cast<size_t>(i)];
          const float want_y = static_cast<float>(want_level - out.zero_point) * out.scale;
          const bool ok = levels_out ? static_cast<const uint8_t*>(y)[i] == want_level
                                     : std::memcmp(static_cast<const float*>(y) + i, &want_y, sizeof(float)) == 0;
          ++compared;
          if (!ok && bad++ < 2)
            EI_CHECK_MSG(false, what + " shape " + std::to_string(c.in[0]) + "x" + std::to_string(c.in[1]) + " k" +
                                    std::to_string(c.k[0]) + "x" + std::to_string(c.k[1]) + " ch " + std::to_string(c.co) +
                                    " case " + std::to_string(variant_case) + " at " + std::to_string(i));
        }
      };
      // Through create_quantized (the table's kernels): float or level input, float or level output.
      QuantizedWeightsS8 qw;
      qw.data = w.data();
      qw.scales = ws.data();
      qw.scale_count = c.co;
      for (int io = 0; io < 4; ++io) {
        ActivationQuantization qin = in;
        OutputQuantization qout = out;
        qin.levels = (io & 1) != 0;
        qout.levels = (io & 2) != 0;
        auto conv = ConvF32::create_quantized(s, qw, bias.data(), qin, act, qout);
        AlignedBuffer scratch(conv->scratch_bytes() + 64);
        std::vector<float> yf(static_cast<size_t>(out_count) + 1, NAN);
        std::vector<uint8_t> yl(static_cast<size_t>(out_count) + 1, 0xEE);
        ThreadPool* tp = idx++ % 2 ? &pool : nullptr;
        conv->run_quantized(qin.levels ? static_cast<const void*>(xq.data()) : x.data(),
                            qout.levels ? static_cast<void*>(yl.data()) : yf.data(), scratch.data(), tp);
        check(std::string(depthwise ? "depthwise" : "group 1") + " table io " + std::to_string(io), qout.levels ? static_cast<const void*>(yl.data()) : yf.data(), qout.levels);
        EI_CHECK(qout.levels ? yl.back() == 0xEE : std::isnan(yf.back()));
      }
      if (!depthwise) continue;
      // Every dwconv_f32 variant's level input + requantizing epilogue (the integer form of the conv).
      const int64_t taps = cv.kh * cv.kw;
      std::vector<float> wf(static_cast<size_t>(c.co * taps)), bf(static_cast<size_t>(c.co)), mult(static_cast<size_t>(c.co));
      for (int64_t oc = 0; oc < c.co; ++oc) {
        for (int64_t t = 0; t < taps; ++t) wf[static_cast<size_t>(oc * taps + t)] = w[static_cast<size_t>(oc * taps + t)];
        bf[static_cast<size_t>(oc)] = static_cast<float>(bias_q[static_cast<size_t>(oc)]);
        mult[static_cast<size_t>(oc)] = in.scale * ws[static_cast<size_t>(oc)] / out.scale;
      }
      for (const DwConvF32Variant* v : variants) {
        if (!isa_supported(v->isa)) continue;
        for (bool levels_out : {false, true}) {
          auto conv = conv_detail::create_conv_depthwise_nhwc_levels(cv, wf.data(), bf.data(), in.zero_point, mult.data(),
                                                                     out.zero_point, out.scale, levels_out, v);
          AlignedBuffer scratch(conv->scratch_bytes() + 64);
          std::vector<float> yf(static_cast<size_t>(out_count) + 1, NAN);
          std::vector<uint8_t> yl(static_cast<size_t>(out_count) + 1, 0xEE);
          conv->run_quantized(xq.data(), levels_out ? static_cast<void*>(yl.data()) : yf.data(), scratch.data(),
                              idx++ % 2 ? &pool : nullptr);
          check(std::string(v->name) + (levels_out ? " levels" : " floats"), levels_out ? static_cast<const void*>(yl.data()) : yf.data(), levels_out);
          EI_CHECK(levels_out ? yl.back() == 0xEE : std::isnan(yf.back()));
        }
      }
    }
  }
  EI_CHECK(compared > 0);
  // A bias that is no dequantized int32 (here: bias_q * scale + 1e-3) keeps the float path: results within a
  // level of ORT's, not necessarily equal, and no failure.
  const Case& c = kCases[0];
  ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
  s.channels_last = true;
  EI_CHECK(conv_detail::conv_requantization(2, std::vector<float>{0.01f, 0.02f}.data(), std::vector<float>{0.5f, 1e-3f}.data(),
                                            ActivationQuantization{false, false, 0.1f, 3, false}, OutputQuantization{true, 0.2f, 0, false, false},
                                            ActivationParams{}) == std::nullopt);
  EI_CHECK(conv_detail::conv_requantization(2, std::vector<float>{0.01f, 0.02f}.data(), std::vector<float>{0.001f * 7, 0.002f * -3}.data(),
                                            ActivationQuantization{false, false, 0.1f, 3, false}, OutputQuantization{true, 0.2f, 0, false, false},
                                            ActivationParams{})
               .has_value());
  // Signed output, Relu with a non-zero output zero point, or a dynamic input: no ORT stage.
  EI_CHECK(!conv_detail::conv_requantization(1, std::vector<float>{0.01f}.data(), nullptr, ActivationQuantization{false, false, 0.1f, 3, false},
                                             OutputQuantization{true, 0.2f, 0, true, false}, ActivationParams{}));
  EI_CHECK(!conv_detail::conv_requantization(1, std::vector<float>{0.01f}.data(), nullptr, ActivationQuantization{false, false, 0.1f, 3, false},
                                             OutputQuantization{true, 0.2f, 5, false, false}, params_for(FusedActivation::kRelu)));
  EI_CHECK(!conv_detail::conv_requantization(1, std::vector<float>{0.01f}.data(), nullptr, ActivationQuantization{},
                                             OutputQuantization{true, 0.2f, 0, false, false}, ActivationParams{}));
}

// ------------------------------------------------------------------ grouped (few channels per group)
// The rows of every gconv_f32 variant against the reference variant: 1..19 channels (full and partial register
// blocks), odd row lengths, several rows, gaps between channels (ldy_c) and rows, unaligned views, 1..72 taps,
// the fused activations, NaN kept by Relu / Clip; nothing written outside the outputs.
EI_TEST("gconv_f32 rows of every variant against the reference") {
  const auto variants = gconv_f32_variants();
  const GConvF32Variant* ref = variants.front();
  const FusedActivation fused[] = {FusedActivation::kNone, FusedActivation::kRelu, FusedActivation::kLeakyRelu,
                                   FusedActivation::kClip};
  const int64_t tap_counts[] = {1, 9, 72, 27, 2, 18};
  for (const GConvF32Variant* v : variants) {
    if (!isa_supported(v->isa)) continue;
    for (int trial = 0; trial < 60; ++trial) {
      const int64_t taps = tap_counts[trial % 6], rows = 1 + trial % 3, n = 1 + (trial * 17) % 97;
      const int64_t channels = 1 + (trial * 5) % 19;
      const int64_t ld_in = n + 40 + trial % 5, ldy = n + 1 + trial % 4, ldy_c = rows * ldy + 3, skew = 1 + trial % 3;
      std::vector<int64_t> offsets(static_cast<size_t>(taps));
      for (int64_t t = 0; t < taps; ++t) offsets[static_cast<size_t>(t)] = (t * 7 + trial) % 40;
      auto x = random_vec(static_cast<size_t>(skew + rows * ld_in + 48));
      if (trial % 4 == 1) x[static_cast<size_t>(skew + n / 2)] = NAN;
      auto w = random_vec(static_cast<size_t>(channels * taps));
      auto bias = random_vec(static_cast<size_t>(channels));
      const ActivationParams ap = params_for(fused[trial % 4]);
      std::vector<float> want(static_cast<size_t>(channels * ldy_c + 8), 777.0f), got = want;
      GConvF32Rows a;
      a.x = x.data() + skew;
      a.tap_offsets = offsets.data();
      a.taps = taps;
      a.ld_in = ld_in;
      a.w = w.data();
      a.bias = bias.data();
      a.channels = channels;
      a.ldy_c = ldy_c;
      a.ldy = ldy;
      a.rows = rows;
      a.n = n;
      a.act = ap.kind;
      a.act_alpha = ap.alpha;
      a.act_beta = ap.beta;
      a.y = want.data() + skew;
      ref->rows(a);
      a.y = got.data() + skew;
      v->rows(a);
      int bad = 0;
      for (size_t i = 0; i < want.size(); ++i) {
        const bool same_nan = std::isnan(want[i]) && std::isnan(got[i]);
        if (!(same_nan || std::fabs(got[i] - want[i]) <= 1e-5f * (1.0f + std::fabs(want[i]))) && bad++ < 2)
          EI_CHECK_MSG(false, std::string(v->name) + " rows trial " + std::to_string(trial) + " at " + std::to_string(i) +
                                  " got " + std::to_string(got[i]) + " want " + std::to_string(want[i]));
      }
    }
  }
}

// Every grouped case of kCases the direct kernel takes through every gconv_f32 variant the CPU has, all
// activations, one thread and two, unaligned views, no allocation, against the double-precision direct
// convolution; and the table's ConvF32 (FP32 and INT8, which keeps these float) picks the direct kernel.
EI_TEST("grouped ConvF32 through every gconv_f32 variant") {
  ThreadPool pool(2);
  int idx = 0, checked = 0;
  for (const GConvF32Variant* v : gconv_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    for (const Case& c : kCases) {
      const ConvShape s = make_shape(c.rank, c.n, c.ci, c.co, c.g, c.in, c.k, c.s, c.pb, c.pe, c.d);
      const conv_detail::Conv2d cv = conv_detail::normalize(s, "Conv");
      if (!conv_detail::grouped_direct_f32_fits(cv)) continue;
      auto x = random_vec(static_cast<size_t>(c.n * c.ci * c.in[0] * c.in[1] + 1));
      auto w = random_vec(static_cast<size_t>(c.co * (c.ci / c.g) * c.k[0] * c.k[1]));
      auto bias = random_vec(static_cast<size_t>(c.co));
      for (int a = 0; a < kActCount; ++a) {
        const ActivationParams ap = params_for(kActs[a]);
        const bool with_bias = (idx++ % 3) != 0;
        const std::vector<float> xv(x.begin() + 1, x.end());
        std::vector<double> z, bound;
        conv_ref(s, xv, w, with_bias ? bias.data() : nullptr, z, bound);
        auto conv = conv_detail::create_conv_grouped_f32(cv, w.data(), with_bias ? bias.data() : nullptr, ap, v);
        EI_CHECK(std::string(conv->kernel_name()) == v->name);
        if (a == 0) {
          EI_CHECK(std::string(ConvF32::create(s, w.data(), bias.data(), ap)->kernel_name()) == kernels().gconv_f32->name);
          EI_CHECK(std::string(ConvF32::create_int8(s, w.data(), bias.data(), ap)->kernel_name()) == kernels().gconv_f32->name);
        }
        AlignedBuffer scratch(conv->scratch_bytes() + 64);
        std::vector<float> y(z.size() + 3);
        for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
          std::fill(y.begin(), y.end(), NAN);
          const long before = edgeinfer::testing::heap_allocations().load();
          conv->run(x.data() + 1, y.data() + 3, scratch.data(), tp);
          EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in grouped run");
          int bad = 0;
          for (size_t i = 0; i < z.size(); ++i) {
            const double want = act_ref(z[i], ap), got = y[i + 3];
            if (!(std::fabs(got - want) <= 1e-5 * bound[i] + 2e-6 + 2e-6 * std::fabs(want)) && bad++ < 2)
              EI_CHECK_MSG(false, std::string(v->name) + " act " + std::to_string(a) + " shape " +
                                      std::to_string(c.ci) + "/" + std::to_string(c.g) + " " + std::to_string(c.in[0]) +
                                      "x" + std::to_string(c.in[1]) + " at " + std::to_string(i) + " got " +
                                      std::to_string(got) + " want " + std::to_string(want));
          }
        }
        ++checked;
      }
    }
  }
  EI_CHECK(checked > 0);
}

EI_TEST("conv summary") {
  const auto variants = gemm_f32_variants();
  for (size_t i = 0; i < variants.size(); ++i)
    std::printf("  %-28s %s (%ld convs)\n", variants[i]->name,
                isa_supported(variants[i]->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA", g_checked[i]);
  std::printf("  table choice: %s\n", kernels().gemm_f32->name);
  for (const DwConvF32Variant* v : dwconv_f32_variants())
    std::printf("  %-28s %s\n", v->name, isa_supported(v->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA");
  std::printf("  depthwise table choice: %s\n", kernels().dwconv_f32->name);
  for (const DwConvS8Variant* v : dwconv_s8_variants())
    std::printf("  %-28s %s\n", v->name, isa_supported(v->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA");
  std::printf("  INT8 depthwise table choice: %s\n", kernels().dwconv_s8->name);
  for (const GConvF32Variant* v : gconv_f32_variants())
    std::printf("  %-28s %s\n", v->name, isa_supported(v->isa) ? "CHECKED" : "SKIPPED: CPU lacks the ISA");
  std::printf("  grouped table choice: %s\n", kernels().gconv_f32->name);
}

}  // namespace

EI_TEST_MAIN()
