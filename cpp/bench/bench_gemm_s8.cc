// INT8 GEMM microbenchmark, single thread: every supported SIMD variant on M x K x N (K = N), median time
// over repeats, GOPS (2 M N K), and the fraction of this CPU's measured INT8 register peak (a
// vpdpbusd-only loop, peak_avx512vnni.cc). `--json` prints one JSON object per line.
//   bench_gemm_s8 [--json] [--all] [--variant NAME_SUBSTRING] [--s8] [--f32 none|relu|gelu|gelu_tanh]
// Default: the table's choice and the AVX2 variant, u8 activations, int32 output. --all: every supported
// SIMD variant. --s8: int8 activations. --f32: float output with that activation (dequantize epilogue).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/kernels.h"
#include "edgeinfer/packed_weights.h"

// Weak: absent when the peak file was not compiled for this architecture.
extern "C" double edgeinfer_bench_peak_avx512vnni_gops(double min_seconds) __attribute__((weak));

using namespace edgeinfer;

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  double median_seconds;
  double gops;
};

Result measure(const GemmS8Args& args, double ops) {
  // Calls per sample so a sample lasts >= ~4 ms; 11 samples (5 for very slow cases); median.
  gemm_s8(args);  // warm-up
  double t0 = now_seconds();
  gemm_s8(args);
  const double one = std::max(now_seconds() - t0, 1e-7);
  const int64_t calls = std::max<int64_t>(1, static_cast<int64_t>(4e-3 / one));
  const int samples = one > 0.02 ? 5 : 11;
  std::vector<double> times;
  for (int s = 0; s < samples; ++s) {
    t0 = now_seconds();
    for (int64_t c = 0; c < calls; ++c) gemm_s8(args);
    times.push_back((now_seconds() - t0) / static_cast<double>(calls));
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  return {median, ops / median * 1e-9};
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false, all = false, s8 = false, f32 = false;
  Activation act = Activation::kNone;
  const char* only = nullptr;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--all")) all = true;
    else if (!std::strcmp(argv[i], "--variant") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--s8")) s8 = true;
    else if (!std::strcmp(argv[i], "--f32") && i + 1 < argc) {
      f32 = true;
      const std::string a = argv[++i];
      act = a == "relu" ? Activation::kRelu : a == "gelu" ? Activation::kGeluErf
            : a == "gelu_tanh" ? Activation::kGeluTanh : Activation::kNone;
    }
    else {
      std::fprintf(stderr, "usage: %s [--json] [--all] [--variant NAME] [--s8] [--f32 none|relu|gelu|gelu_tanh]\n",
                   argv[0]);
      return 2;
    }
  }

  double peak = 0.0;
  if (edgeinfer_bench_peak_avx512vnni_gops != nullptr && isa_supported(Isa::kAvx512Vnni)) {
    for (int i = 0; i < 5; ++i) peak = std::max(peak, edgeinfer_bench_peak_avx512vnni_gops(0.05));
  }

  std::vector<const GemmS8Variant*> variants;
  for (const GemmS8Variant* v : gemm_s8_variants()) {
    if (!isa_supported(v->isa) || v->isa == Isa::kRef) continue;  // the reference is far too slow here
    if (only != nullptr && std::strstr(v->name, only) == nullptr) continue;
    if (!all && only == nullptr && v != kernels().gemm_s8 && v->isa != Isa::kAvx2) continue;
    variants.push_back(v);
  }

  if (!json) {
    std::printf("INT8 GEMM, single thread, %s activations x s8 weights -> %s. table choice: %s\n", s8 ? "s8" : "u8",
                f32 ? "float (dequantized)" : "int32", kernels().gemm_s8->name);
    if (peak > 0) std::printf("measured AVX-512 VNNI register peak: %.1f GOPS\n", peak);
    std::printf("%-34s %5s %5s %5s %12s %9s %8s\n", "variant", "M", "K", "N", "median(us)", "GOPS", "of peak");
  }

  std::string suffix = s8 ? ",a=s8" : "";
  if (f32) {
    const char* names[] = {"none", "relu", "gelu", "gelu_tanh"};
    suffix += std::string(",out=f32,act=") + names[static_cast<int>(act)];
  }
  const int64_t ms[] = {1, 4, 16, 64, 128};
  const int64_t kns[] = {256, 1024, 2048};
  std::mt19937 rng(1);
  for (const int64_t kn : kns) {
    const int64_t k = kn, n = kn;
    std::vector<int8_t> weights(static_cast<size_t>(k * n));
    for (auto& w : weights) w = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
    std::vector<uint8_t> a(static_cast<size_t>(128 * k));
    for (auto& x : a) x = static_cast<uint8_t>(rng() % 256);
    std::vector<int32_t> c(static_cast<size_t>(128 * n));
    std::vector<float> cf(static_cast<size_t>(128 * n));
    for (const GemmS8Variant* v : variants) {
      PackWeightsArgs pa;
      pa.weights = weights.data();
      pa.k = k;
      pa.n = n;
      const float w_scale = 0.01f;
      pa.scales = &w_scale;
      pa.scale_count = 1;
      const PackedWeightsS8 packed = pack_weights_s8(pa, v);
      for (const int64_t m : ms) {
        GemmS8Args g;
        g.m = m;
        g.a = a.data();
        g.lda = k;
        g.a_signed = s8;
        g.a_zero_point = s8 ? 0 : 128;
        g.w = &packed;
        if (f32) {
          g.c_f32 = cf.data();
          g.a_scale = 0.02f;
          g.activation = act;
        } else {
          g.c_i32 = c.data();
        }
        g.ldc = n;
        const double ops = 2.0 * static_cast<double>(m * n * k);
        const Result r = measure(g, ops);
        const double fraction = peak > 0 ? r.gops / peak : 0.0;
        if (json) {
          std::printf(
              "{\"bench\":\"gemm_s8\",\"case\":\"m=%lld,k=%lld,n=%lld,isa=%s%s\",\"variant\":\"%s\",\"ours\":%.2f,"
              "\"baseline\":\"vnni-peak\",\"baseline_value\":%.2f,\"unit\":\"GOPS\",\"speedup\":%.4f,"
              "\"fraction_of_peak\":%.4f}\n",
              static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n), isa_name(v->isa),
              suffix.c_str(), v->name, r.gops, peak, fraction, fraction);
        } else {
          std::printf("%-34s %5lld %5lld %5lld %12.2f %9.1f %7.1f%%\n", v->name, static_cast<long long>(m),
                      static_cast<long long>(k), static_cast<long long>(n), r.median_seconds * 1e6, r.gops,
                      fraction * 100);
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
