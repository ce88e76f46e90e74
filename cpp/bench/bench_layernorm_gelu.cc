// Single-thread microbenchmark: fused LayerNorm+GELU(erf) against our own LayerNorm pass followed by a
// GELU pass (same ISA), and the reference; plus quantize / dequantize throughput per variant.
// Medians over interleaved samples. `--json` prints one JSON object per line.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "edgeinfer/kernels.h"

using namespace edgeinfer;

namespace {

using bench::median;
using bench::now_us;

struct Buffer {
  explicit Buffer(size_t floats) : p(static_cast<float*>(std::aligned_alloc(64, (floats * 4 + 63) / 64 * 64))) {}
  ~Buffer() { std::free(p); }
  float* p;
};



// Times `reps` calls of fn per sample; returns microseconds per call.
template <typename F>
double sample(F&& fn, int reps) {
  const double t0 = now_us();
  for (int i = 0; i < reps; ++i) fn();
  return (now_us() - t0) / reps;
}

bool g_json = false;

void bench_layernorm() {
  const int64_t rows_list[] = {1, 16, 256, 2048};
  const int64_t widths[] = {768, 4096};
  const LayerNormGeluVariant* ref = layernorm_gelu_variants().front();
  if (!g_json)
    std::printf("%-34s %12s %12s %8s %12s\n", "layernorm+gelu(erf) case", "fused us", "two-pass us", "speedup",
                "ref us");
  for (const LayerNormGeluVariant* v : layernorm_gelu_variants()) {
    if (v->isa == Isa::kRef || !isa_supported(v->isa)) continue;
    for (int64_t rows : rows_list)
      for (int64_t width : widths) {
        const int64_t n = rows * width;
        Buffer x(n), y(n), gamma(width), beta(width);
        std::mt19937 rng(1);
        std::normal_distribution<float> nd(0.3f, 2.0f);
        for (int64_t i = 0; i < n; ++i) x.p[i] = nd(rng);
        for (int64_t i = 0; i < width; ++i) {
          gamma.p[i] = 1.0f + 0.1f * nd(rng);
          beta.p[i] = 0.1f * nd(rng);
        }
        LayerNormArgs fused{x.p, y.p, rows, width, gamma.p, beta.p, 1e-5f, Activation::kGeluErf};
        LayerNormArgs plain = fused;
        plain.activation = Activation::kNone;
        GeluArgs gelu{y.p, y.p, n, false};
        auto run_fused = [&] { v->layer_norm(fused); };
        auto run_two = [&] {
          v->layer_norm(plain);
          v->gelu(gelu);
        };
        // ~2 ms per sample at least; fused and two-pass samples interleave, alternating which goes first.
        sample(run_two, 1);
        const double one = sample(run_fused, 1);
        const int reps = std::max(1, static_cast<int>(2000.0 / std::max(one, 0.05)));
        const int samples = n >= (int64_t{1} << 22) ? 15 : 31;
        std::vector<double> tf, tt;
        for (int s = 0; s < samples; ++s) {
          if (s % 2) {
            tf.push_back(sample(run_fused, reps));
            tt.push_back(sample(run_two, reps));
          } else {
            tt.push_back(sample(run_two, reps));
            tf.push_back(sample(run_fused, reps));
          }
        }
        const double f = median(tf), t = median(tt);
        double r = -1;
        if (n <= 256 * 4096) {
          std::vector<double> tr;
          for (int s = 0; s < 3; ++s) tr.push_back(sample([&] { ref->layer_norm(fused); }, 1));
          r = median(tr);
        }
        const std::string name = "rows=" + std::to_string(rows) + ",width=" + std::to_string(width) +
                                 ",isa=" + isa_name(v->isa);
        if (g_json) {
          std::printf("{\"bench\":\"layernorm_gelu\",\"case\":\"%s\",\"ours\":%.3f,\"baseline\":\"two-pass ours\","
                      "\"baseline_value\":%.3f,\"unit\":\"us\",\"speedup\":%.3f}\n",
                      name.c_str(), f, t, t / f);
          if (r > 0)
            std::printf("{\"bench\":\"layernorm_gelu\",\"case\":\"%s\",\"ours\":%.3f,\"baseline\":\"ref\","
                        "\"baseline_value\":%.3f,\"unit\":\"us\",\"speedup\":%.3f}\n",
                        name.c_str(), f, r, r / f);
        } else {
          char rs[32] = "-";
          if (r > 0) std::snprintf(rs, sizeof rs, "%.1f", r);
          std::printf("%-34s %12.2f %12.2f %7.2fx %12s\n", name.c_str(), f, t, t / f, rs);
        }
        std::fflush(stdout);
      }
  }
}

void bench_quantize() {
  const int64_t n = int64_t{1} << 20;
  Buffer x(n);
  std::vector<uint8_t> q(n);
  std::vector<float> back(n);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> ud(-3.0f, 3.0f);
  for (int64_t i = 0; i < n; ++i) x.p[i] = ud(rng);
  const float scale = 6.0f / 255.0f;
  const int32_t zp = 128;
  const double bytes = static_cast<double>(n) * 5.0;  // 4 bytes float + 1 byte int8 per element
  double ref_q = 0, ref_d = 0;
  if (!g_json) std::printf("\n%-34s %12s %12s\n", "quantize u8 per-tensor, 1M elems", "quant GB/s", "dequant GB/s");
  for (const QuantizeVariant* v : quantize_variants()) {
    if (!isa_supported(v->isa)) continue;
    QuantizeArgs qa;
    qa.x = x.p;
    qa.y = q.data();
    qa.y_signed = false;
    qa.inner = n;
    qa.scales = &scale;
    qa.zero_points = &zp;
    DequantizeArgs da;
    da.q = q.data();
    da.q_signed = false;
    da.x = back.data();
    da.inner = n;
    da.scales = &scale;
    da.zero_points = &zp;
    std::vector<double> tq, td;
    for (int s = 0; s < 15; ++s) {
      tq.push_back(sample([&] { v->quantize(qa); }, 3));
      td.push_back(sample([&] { v->dequantize(da); }, 3));
    }
    const double gq = bytes / median(tq) / 1e3, gd = bytes / median(td) / 1e3;  // bytes/us -> GB/s
    if (v->isa == Isa::kRef) {
      ref_q = gq;
      ref_d = gd;
    }
    if (g_json) {
      std::printf("{\"bench\":\"quantize\",\"case\":\"n=%lld,u8,per-tensor,isa=%s\",\"ours\":%.3f,\"baseline\":\"ref\","
                  "\"baseline_value\":%.3f,\"unit\":\"GB/s\",\"speedup\":%.3f}\n",
                  static_cast<long long>(n), isa_name(v->isa), gq, ref_q, gq / ref_q);
      std::printf("{\"bench\":\"dequantize\",\"case\":\"n=%lld,u8,per-tensor,isa=%s\",\"ours\":%.3f,\"baseline\":\"ref\","
                  "\"baseline_value\":%.3f,\"unit\":\"GB/s\",\"speedup\":%.3f}\n",
                  static_cast<long long>(n), isa_name(v->isa), gd, ref_d, gd / ref_d);
    } else {
      std::printf("%-34s %12.2f %12.2f\n", v->name, gq, gd);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool ln = true, quant = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) g_json = true;
    else if (std::strcmp(argv[i], "--layernorm") == 0) quant = false;
    else if (std::strcmp(argv[i], "--quantize") == 0) ln = false;
  }
  if (ln) bench_layernorm();
  if (quant) bench_quantize();
  return 0;
}
