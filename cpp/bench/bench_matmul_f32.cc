// Single-thread microbenchmark of the batched matmul of two activations (attention's Q.K^T and P.V, an LM head
// against a transposed embedding) per SIMD variant, against two baselines in the same run: the reference
// variant, and packing both operands per call for the constant-weight GEMM micro-kernels of the same ISA
// (the alternative design). Medians over interleaved samples. `--json` prints one JSON object per line.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_timing.h"
#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/matmul_f32.h"

using namespace edgeinfer;

namespace {

using bench::median;
using bench::now_us;

template <typename F>
double sample(F&& fn, int reps) {
  const double t0 = now_us();
  for (int i = 0; i < reps; ++i) fn();
  return (now_us() - t0) / reps;
}

struct Case {
  const char* name;
  int64_t batches, m, k, n;
  bool trans;
};

// The zoo's attention shapes (gpt2 / whisper / deit tiny), a 512-token sequence, decode steps, an LM head.
constexpr Case kCases[] = {
    {"gpt2 qk", 4, 24, 64, 24, false},      {"gpt2 pv", 4, 24, 24, 64, false},
    {"whisper qk", 2, 150, 32, 150, false}, {"whisper pv", 2, 150, 150, 32, false},
    {"deit qk", 3, 18, 32, 18, false},      {"seq512 qk^T", 4, 512, 64, 512, true},
    {"seq512 qk", 4, 512, 64, 512, false},  {"seq512 pv", 4, 512, 512, 64, false},
    {"decode qk^T", 12, 1, 64, 128, true},  {"decode pv", 12, 1, 128, 64, false},
    {"4 rows qk^T", 12, 4, 64, 128, true},  {"16 rows qk^T", 12, 16, 64, 128, true},  // around kDotRows
    {"lm head", 1, 24, 128, 1000, false},
};

const GemmF32Variant* gemm_of(Isa isa) {
  for (const GemmF32Variant* g : gemm_f32_variants())
    if (g->isa == isa) return g;
  return nullptr;
}

bool g_json = false;

void report(const std::string& name, double ours, const char* baseline, double base) {
  if (g_json)
    std::printf("{\"bench\":\"matmul_f32\",\"case\":\"%s\",\"ours\":%.3f,\"baseline\":\"%s\",\"baseline_value\":%.3f,"
                "\"unit\":\"us\",\"speedup\":%.3f}\n",
                name.c_str(), ours, baseline, base, base / ours);
  else
    std::printf("%-44s %10.2f us  vs %-14s %10.2f us  %6.2fx\n", name.c_str(), ours, baseline, base, base / ours);
  std::fflush(stdout);
}

void bench_case(const Case& c, const MatMulF32Variant* v) {
  const MatMulF32Variant* ref = matmul_f32_variants().front();
  const GemmF32Variant* gemm = gemm_of(v->isa);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(c.batches * c.m * c.k)), b(static_cast<size_t>(c.batches * c.k * c.n));
  for (auto& x : a) x = d(rng);
  for (auto& x : b) x = d(rng);
  std::vector<float> y(static_cast<size_t>(c.batches * c.m * c.n));
  std::vector<int64_t> a_off, b_off;
  for (int64_t i = 0; i < c.batches; ++i) {
    a_off.push_back(i * c.m * c.k);
    b_off.push_back(i * c.k * c.n);
  }
  BatchedMatMulF32Args args;
  args.batches = c.batches;
  args.m = c.m;
  args.n = c.n;
  args.k = c.k;
  args.a = a.data();
  args.lda = c.k;
  args.a_offsets = a_off.data();
  args.b = b.data();
  args.ldb = c.trans ? c.k : c.n;
  args.b_trans = c.trans;
  args.b_offsets = b_off.data();
  args.c = y.data();
  args.ldc = c.n;
  args.c_batch_stride = c.m * c.n;
  AlignedBuffer scratch(std::max(batched_matmul_f32_scratch_bytes(v, c.k, 1), batched_matmul_f32_scratch_bytes(ref, c.k, 1)));
  auto ours = [&] { batched_matmul_f32(v, args, scratch.data(), nullptr); };
  auto reference = [&] { batched_matmul_f32(ref, args, scratch.data(), nullptr); };
  // The alternative: A and B packed per call, then the constant-weight GEMM tile of the same ISA.
  AlignedBuffer packed_a, packed_b;
  if (gemm != nullptr) {
    packed_a = AlignedBuffer(sizeof(float) * static_cast<size_t>(c.m * c.k));
    packed_b = AlignedBuffer(sizeof(float) * static_cast<size_t>(gemm_f32_packed_b_floats(c.k, c.n, gemm->nr)));
  }
  auto pack_and_gemm = [&] {
    for (int64_t i = 0; i < c.batches; ++i) {
      gemm_f32_pack_a(a.data() + a_off[i], c.k, c.m, c.k, false, gemm->mr, packed_a.as<float>());
      gemm_f32_pack_b(b.data() + b_off[i], c.k, c.n, c.trans, gemm->nr, packed_b.as<float>());
      GemmF32Args g;
      g.m = c.m;
      g.n = c.n;
      g.k = c.k;
      g.a = packed_a.as<float>();
      g.b_mode = GemmF32BMode::kPacked;
      g.b = packed_b.as<float>();
      g.c = y.data() + i * c.m * c.n;
      g.ldc = c.n;
      g.n_end = c.n;
      gemm->run(g);
    }
  };
  const double one = sample(ours, 1) + sample(reference, 1);
  const int reps = std::max(1, static_cast<int>(2000.0 / std::max(one, 0.05)));
  std::vector<double> t_ours, t_ref, t_pack;
  for (int s = 0; s < 15; ++s) {
    t_ours.push_back(sample(ours, reps));
    if (gemm != nullptr) t_pack.push_back(sample(pack_and_gemm, reps));
    if (s < 5) t_ref.push_back(sample(reference, std::max(1, reps / 8)));
  }
  const std::string name = std::string(c.name) + " " + std::to_string(c.batches) + "x[" + std::to_string(c.m) + "," +
                           std::to_string(c.k) + "]x[" + std::to_string(c.k) + "," + std::to_string(c.n) + "]," + v->name;
  report(name, median(t_ours), "ref", median(t_ref));
  if (gemm != nullptr) report(name, median(t_ours), "pack+gemm", median(t_pack));
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) g_json |= std::strcmp(argv[i], "--json") == 0;
  for (const MatMulF32Variant* v : matmul_f32_variants()) {
    if (v->isa == Isa::kRef || !isa_supported(v->isa)) continue;
    for (const Case& c : kCases) bench_case(c, v);
  }
  return 0;
}
