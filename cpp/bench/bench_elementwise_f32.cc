// Single-thread microbenchmark of the FP32 element-wise maps: every compiled variant this CPU runs against the
// reference, interleaved samples, medians. Sizes: in L1, in L2 and a 4 MiB tensor (EfficientNet-B0's largest
// SiLU input is 1x32x112x112 = 1.6 MiB). `--json` prints one JSON object per line (speedup = ref / variant).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "edgeinfer/kernels.h"
#include "kernels/elementwise/elementwise_f32_common.h"

using namespace edgeinfer;

namespace {

using bench::median;
using bench::now_us;

struct Buffer {
  explicit Buffer(size_t floats) : p(static_cast<float*>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64))) {}
  ~Buffer() { std::free(p); }
  float* p;
};



bool g_json = false;

// Median microseconds per call of run(variant), ref and variant interleaved.
template <typename Run>
void measure(const char* what, int64_t n, const Run& run) {
  const ElementwiseF32Variant* ref = elementwise_f32_variants().front();
  for (const ElementwiseF32Variant* v : elementwise_f32_variants()) {
    if (v->isa == Isa::kRef || !isa_supported(v->isa)) continue;
    const int reps = static_cast<int>(std::max<int64_t>(1, (int64_t{1} << 22) / n));
    std::vector<double> ours, base;
    for (int s = 0; s < 15; ++s) {
      double t0 = now_us();
      for (int r = 0; r < reps; ++r) run(ref);
      base.push_back((now_us() - t0) / reps);
      t0 = now_us();
      for (int r = 0; r < reps; ++r) run(v);
      ours.push_back((now_us() - t0) / reps);
    }
    const double o = median(ours), b = median(base);
    if (g_json) {
      std::printf("{\"bench\":\"elementwise_f32\",\"case\":\"%s,n=%lld,isa=%s\",\"ours\":%.3f,\"baseline\":\"ref\","
                  "\"baseline_value\":%.3f,\"unit\":\"us\",\"speedup\":%.3f}\n",
                  what, static_cast<long long>(n), isa_name(v->isa), o, b, b / o);
    } else {
      std::printf("%-12s %9lld %-8s %10.2f %10.2f %8.2fx %8.2f Gelem/s\n", what, static_cast<long long>(n),
                  isa_name(v->isa), o, b, b / o, static_cast<double>(n) / o * 1e-3);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--json") == 0) g_json = true;
  if (!g_json) std::printf("%-12s %9s %-8s %10s %10s %9s\n", "op", "n", "isa", "ours us", "ref us", "speedup");
  const UnaryF32 ops[] = {UnaryF32::kSigmoid, UnaryF32::kTanh, UnaryF32::kExp, UnaryF32::kLog, UnaryF32::kErf,
                          UnaryF32::kRelu, UnaryF32::kClip};
  for (int64_t n : {int64_t{4096}, int64_t{65536}, int64_t{1} << 20}) {
    Buffer x(n), y(n), z(n);
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.0f, 3.0f);
    for (int64_t i = 0; i < n; ++i) x.p[i] = nd(rng), z.p[i] = std::fabs(nd(rng)) + 0.1f;
    for (UnaryF32 op : ops) {
      const float* in = op == UnaryF32::kLog ? z.p : x.p;
      measure(elementwise_detail::unary_name(op), n,
              [&](const ElementwiseF32Variant* v) { v->unary(op, in, y.p, n, 0.0f, 6.0f); });
    }
    measure("mul", n, [&](const ElementwiseF32Variant* v) { v->binary(BinaryF32::kMul, x.p, 1, z.p, 1, y.p, n); });
    measure("mul_scalar", n,
            [&](const ElementwiseF32Variant* v) { v->binary(BinaryF32::kMul, x.p, 1, z.p, 0, y.p, n); });
  }
  return 0;
}
