// FP16 weight storage (precision 'fp16'): every variant's half -> float converter against the exact scalar
// definition on all 65536 halves, and GemmF32 / ConvF32 (NCHW and channels last) created with half weights
// against the float kernels on the same weights rounded to half: the math after the expansion is identical,
// so results agree to float rounding; the weights take half the bytes; run() allocates nothing.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/aligned_buffer.h"
#include "edgeinfer/half.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/nn_kernels.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"

using namespace edgeinfer;

namespace {

std::mt19937 rng(7);
std::vector<float> random_vec(size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> rounded_to_half(const std::vector<float>& v) {
  std::vector<float> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = half_to_float(float_to_half(v[i]));
  return r;
}

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0; }

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= 1e-6f + 1e-6f * std::fabs(want[i])) && bad++ < 2)
      EI_CHECK_MSG(false, what + " at " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs " + std::to_string(want[i]));
}

}  // namespace

EI_TEST("half_to_float of every variant is exact on all 65536 halves (subnormals, inf, NaN)") {
  std::vector<uint16_t> all(65536 + 5);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  for (const GemmF32Variant* v : gemm_f32_variants()) {
    if (!isa_supported(v->isa)) continue;
    std::vector<float> out(all.size() + 1, 42.0f);
    v->half_to_float(all.data() + 1, out.data(), static_cast<int64_t>(all.size() - 1));  // odd start and length
    int bad = 0;
    for (size_t i = 0; i + 1 < all.size(); ++i)
      if (!same_float(out[i], half_to_float(all[i + 1])) && bad++ < 2) EI_CHECK_MSG(false, std::string(v->name) + " half " + std::to_string(all[i + 1]));
    EI_CHECK(out.back() == 42.0f);
  }
}

EI_TEST("GemmF32::create_f16 equals the float GEMM on half-rounded weights, with half the weight bytes") {
  for (int64_t m : {1, 3, 17}) {
    const int64_t k = 37, n = 45;
    auto w = random_vec(static_cast<size_t>(k * n)), bias = random_vec(static_cast<size_t>(n));
    auto a = random_vec(static_cast<size_t>(m * k));
    ActivationParams act;
    act.kind = FusedActivation::kRelu;
    auto half = GemmF32::create_f16(w.data(), k, n, false, bias.data(), 1.0f, 1.0f, act);
    auto ref = GemmF32::create(rounded_to_half(w).data(), k, n, false, bias.data(), 1.0f, 1.0f, act);
    EI_CHECK(half->weight_bytes() < ref->weight_bytes() * 3 / 4);
    AlignedBuffer s1(half->scratch_bytes(m) + 64), s2(ref->scratch_bytes(m) + 64);
    std::vector<float> y1(static_cast<size_t>(m * n)), y2(y1.size());
    const long before = edgeinfer::testing::heap_allocations().load();
    half->run(m, a.data(), k, y1.data(), n, s1.data(), nullptr);
    EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in the fp16 GEMM run");
    ref->run(m, a.data(), k, y2.data(), n, s2.data(), nullptr);
    expect_close(y1, y2, "gemm m=" + std::to_string(m));
  }
}

EI_TEST("ConvF32::create_f16 (NCHW and channels last) equals the float conv on half-rounded weights") {
  for (int last = 0; last < 2; ++last) {
    ConvShape s;
    s.rank = 2;
    s.batch = 2;
    s.in_channels = 5;
    s.out_channels = 19;
    s.in_size[0] = 9; s.in_size[1] = 7;
    s.kernel[0] = 3; s.kernel[1] = 2;
    s.pad_begin[0] = s.pad_end[0] = 1;
    s.out_size[0] = 9; s.out_size[1] = 6;
    s.channels_last = last != 0;
    auto w = random_vec(19 * 5 * 6), bias = random_vec(19), x = random_vec(2 * 5 * 63);
    ActivationParams act;
    act.kind = FusedActivation::kLeakyRelu;
    act.alpha = 0.2f;
    auto half = ConvF32::create_f16(s, w.data(), bias.data(), act);
    auto ref = ConvF32::create(s, rounded_to_half(w).data(), bias.data(), act);
    EI_CHECK(half->weight_bytes() < ref->weight_bytes());
    AlignedBuffer s1(half->scratch_bytes() + 64), s2(ref->scratch_bytes() + 64);
    std::vector<float> y1(2 * 19 * 54), y2(y1.size());
    const long before = edgeinfer::testing::heap_allocations().load();
    half->run(x.data(), y1.data(), s1.data(), nullptr);
    EI_CHECK_MSG(edgeinfer::testing::heap_allocations().load() == before, "heap allocation in the fp16 conv run");
    ref->run(x.data(), y2.data(), s2.data(), nullptr);
    expect_close(y1, y2, last ? "conv channels last" : "conv NCHW");
  }
}

EI_TEST_MAIN()
