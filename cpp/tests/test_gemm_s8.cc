// INT8 GEMM: every compiled variant the CPU supports against a naive triple loop on the unpacked weights.
// int32 output must match bit for bit; float output within the tolerance stated in check_float below.
// A is placed right before a PROT_NONE page, so any over-read of the last row faults.
// Portable across x86-64 and aarch64 (the arm64 build runs it under qemu with several CPU models): the last
// test prints, per compiled variant, whether it was CHECKED (and on how many problems) or SKIPPED because
// this CPU lacks its ISA, plus the table's choice, so the ctest log shows which paths really ran.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "edgeinfer/cpu_features.h"
#include "edgeinfer/error.h"
#include "edgeinfer/kernels.h"
#include "edgeinfer/packed_weights.h"
#include "kernels/gemm_s8/gemm_s8_common.h"
#include "tests/check.h"
#include "tests/counting_allocator.h"

// Per-variant problem counts for the summary test.
namespace {
// Problems checked per variant, indexed like gemm_s8_variants() (fixed storage: no allocation).
constexpr int kMaxVariants = 32;
long g_checked[kMaxVariants] = {};
}



using namespace edgeinfer;

namespace {

// Bytes that end exactly at a PROT_NONE page: reading one byte past the end faults.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t bytes) : size_(bytes) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    const size_t data_pages = (bytes + page - 1) / page + 1;
    map_bytes_ = (data_pages + 1) * page;
    void* m = mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    base_ = static_cast<uint8_t*>(m);
    mprotect(base_ + data_pages * page, page, PROT_NONE);
    data_ = base_ + data_pages * page - bytes;
  }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  ~GuardedBytes() { munmap(base_, map_bytes_); }
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0, map_bytes_ = 0;
};

struct Problem {
  int64_t m = 1, k = 1, n = 1, lda = 1;
  bool a_signed = false;
  int32_t zp = 0;
  WeightLayout layout = WeightLayout::kKN;
  std::vector<int8_t> w;  // in `layout`
  std::vector<float> scales;
  std::vector<float> bias;  // empty: no bias
  int a_offset = 0;         // extra bytes before A (unaligned start)
  // Implicit rows (GemmS8Args row_group / group_stride / segments / segment_stride).
  int64_t row_group = 0, group_stride = 0, segments = 1, segment_stride = 0;
};

int8_t w_at(const Problem& p, int64_t kk, int64_t nn) {
  return p.layout == WeightLayout::kKN ? p.w[kk * p.n + nn] : p.w[nn * p.k + kk];
}

// C[i][j] exactly, as int64 (before the wrap to int32).
std::vector<int64_t> naive(const Problem& p, const uint8_t* a) {
  std::vector<int64_t> c(static_cast<size_t>(p.m * p.n));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t j = 0; j < p.n; ++j) {
      int64_t s = 0;
      for (int64_t kk = 0; kk < p.k; ++kk) {
        const uint8_t byte = a[i * p.lda + kk];
        const int32_t v = p.a_signed ? int32_t{static_cast<int8_t>(byte)} : int32_t{byte};
        s += int64_t{v - p.zp} * w_at(p, kk, j);
      }
      c[i * p.n + j] = s;
    }
  return c;
}

double act_ref(double x, Activation act) {
  switch (act) {
    case Activation::kNone: return x;
    case Activation::kRelu: return x < 0 ? 0 : x;  // NaN stays NaN (ONNX Runtime's Relu)
    case Activation::kGeluErf: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case Activation::kGeluTanh: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return x;
}

const char* act_name(Activation act) {
  switch (act) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kGeluErf: return "gelu_erf";
    case Activation::kGeluTanh: return "gelu_tanh";
  }
  return "?";
}

PackedWeightsS8 pack(const Problem& p, const GemmS8Variant* variant) {
  PackWeightsArgs pa;
  pa.weights = p.w.data();
  pa.k = p.k;
  pa.n = p.n;
  pa.layout = p.layout;
  pa.scales = p.scales.empty() ? nullptr : p.scales.data();
  pa.scale_count = static_cast<int64_t>(p.scales.size());
  pa.bias = p.bias.empty() ? nullptr : p.bias.data();
  return pack_weights_s8(pa, variant);
}

float scale_of(const Problem& p, int64_t j) {
  return p.scales.empty() ? 1.0f : p.scales.size() == 1 ? p.scales[0] : p.scales[j];
}

std::string describe(const GemmS8Variant* v, const Problem& p, int64_t nb, int64_t ne, const char* what) {
  return std::string(v->name) + " " + what + " m=" + std::to_string(p.m) + " k=" + std::to_string(p.k) +
         " n=" + std::to_string(p.n) + " lda=" + std::to_string(p.lda) + " off=" + std::to_string(p.a_offset) +
         (p.a_signed ? " s8" : " u8") + " zp=" + std::to_string(p.zp) +
         (p.layout == WeightLayout::kKN ? " KN" : " NK") + " range=[" + std::to_string(nb) + "," +
         std::to_string(ne) + ")";
}

constexpr int32_t kSentinelI = 0x5a5a5a5a;

// Runs one problem on one variant with int32 output and with float output (activation `act`), over the
// column range [nb, ne), and checks every element (and that nothing outside the range was written).
void check_problem(const GemmS8Variant* v, const Problem& p, const uint8_t* a, const std::vector<int64_t>& ref,
                   int64_t nb, int64_t ne, Activation act, float a_scale) {
  const auto all = gemm_s8_variants();
  for (size_t i = 0; i < all.size() && i < kMaxVariants; ++i)
    if (all[i] == v) ++g_checked[i];
  const PackedWeightsS8 w = pack(p, v);
  const int64_t ldc = p.n + (p.n % 3);  // sometimes padded
  GemmS8Args g;
  g.m = p.m;
  g.a = a;
  g.lda = p.lda;
  g.a_signed = p.a_signed;
  g.a_zero_point = p.zp;
  g.w = &w;
  g.ldc = ldc;
  g.n_begin = nb;
  g.n_end = ne == p.n && (nb % 2 == 0) ? 0 : ne;  // exercise "0 means n" too
  g.row_group = p.row_group;
  g.group_stride = p.group_stride;
  g.segments = p.segments;
  g.segment_stride = p.segment_stride;

  // int32
  std::vector<int32_t> ci(static_cast<size_t>(p.m * ldc), kSentinelI);
  g.c_i32 = ci.data();
  gemm_s8(g);
  int bad = 0;
  for (int64_t i = 0; i < p.m && bad < 3; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const int32_t got = ci[i * ldc + j];
      const bool inside = j >= nb && j < ne;
      const int32_t want =
          inside ? static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(ref[i * p.n + j]))) : kSentinelI;
      if (got != want && bad++ < 3)
        EI_CHECK_MSG(got == want, describe(v, p, nb, ne, "i32") + " at (" + std::to_string(i) + "," +
                                      std::to_string(j) + ") got " + std::to_string(got) + " want " +
                                      std::to_string(want));
    }

  // float
  std::vector<float> cf(static_cast<size_t>(p.m * ldc), -777.0f);
  g.c_i32 = nullptr;
  g.c_f32 = cf.data();
  g.a_scale = a_scale;
  g.activation = act;
  gemm_s8(g);
  bad = 0;
  for (int64_t i = 0; i < p.m && bad < 3; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const float got = cf[i * ldc + j];
      const bool inside = j >= nb && j < ne;
      if (!inside) {
        if (got != -777.0f && bad++ < 3) EI_CHECK_MSG(false, describe(v, p, nb, ne, "f32 wrote outside range"));
        continue;
      }
      const double b = p.bias.empty() ? 0.0 : p.bias[j];
      // The int32 accumulator wraps (defined behaviour shared by every variant); float output uses it.
      const double c = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint64_t>(ref[i * p.n + j])));
      const double pre = double(a_scale) * double(scale_of(p, j)) * c + b;
      const double want = act_ref(pre, act);
      // Tolerance: float rounding of C, of a_scale * w_scale and of the fma (~3 ulp of the magnitudes
      // involved), plus for GELU the vector erf / tanh error (< 4e-6 relative, 2e-7 |x| absolute).
      const double mag = std::fabs(double(a_scale) * scale_of(p, j) * c) + std::fabs(b);
      double tol = 1e-6 * mag + 1e-30;
      if (act == Activation::kGeluErf || act == Activation::kGeluTanh) tol = 4e-6 * mag + 4e-6 * std::fabs(want) + 1e-30;
      if (!(std::fabs(got - want) <= tol) && bad++ < 3)
        EI_CHECK_MSG(false, describe(v, p, nb, ne, act_name(act)) + " at (" + std::to_string(i) + "," +
                                std::to_string(j) + ") got " + std::to_string(got) + " want " + std::to_string(want));
    }
}

struct Rng {
  std::mt19937_64 gen;
  explicit Rng(uint64_t seed) : gen(seed) {}
  int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen); }
  float real(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(gen); }
  bool coin() { return uniform(0, 1) == 1; }
};

std::vector<const GemmS8Variant*> supported_variants() {
  std::vector<const GemmS8Variant*> out;
  for (const GemmS8Variant* v : gemm_s8_variants())
    if (isa_supported(v->isa)) out.push_back(v);
    else std::printf("  (skipping %s: not supported by this CPU)\n", v->name);
  return out;
}

// Fills the problem's weights and scales; `extreme` picks only -128 / 127 weights.
void fill_weights(Problem& p, Rng& rng, int mode) {
  p.w.resize(static_cast<size_t>(p.k * p.n));
  for (auto& x : p.w) {
    if (mode == 1) x = rng.coin() ? int8_t{-128} : int8_t{127};
    else if (mode == 2) x = int8_t{-128};
    else if (mode == 3) x = int8_t{127};
    else x = static_cast<int8_t>(rng.uniform(-128, 127));
  }
  const int s = static_cast<int>(rng.uniform(0, 2));
  p.scales.clear();
  if (s == 1) p.scales.push_back(rng.real(1e-3f, 1e-1f));
  if (s == 2) {
    p.scales.resize(static_cast<size_t>(p.n));
    for (auto& x : p.scales) x = rng.real(1e-4f, 1e-1f);
  }
  p.bias.clear();
  if (rng.coin()) {
    p.bias.resize(static_cast<size_t>(p.n));
    for (auto& x : p.bias) x = rng.real(-3.0f, 3.0f);
  }
}

// A in a guarded buffer: a_offset bytes of slack in front, rows of lda, the last row ends at the guard.
void run_case(const std::vector<const GemmS8Variant*>& variants, Problem& p, Rng& rng, int a_mode) {
  const size_t bytes = static_cast<size_t>(p.a_offset + (p.m - 1) * p.lda + p.k);
  GuardedBytes buf(bytes);
  uint8_t* a = buf.data() + p.a_offset;
  for (size_t i = 0; i < bytes; ++i) buf.data()[i] = static_cast<uint8_t>(rng.uniform(0, 255));
  if (a_mode != 0)
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t kk = 0; kk < p.k; ++kk) {
        uint8_t lo = p.a_signed ? 0x80 : 0, hi = p.a_signed ? 0x7f : 0xff;
        a[i * p.lda + kk] = a_mode == 1 ? (rng.coin() ? lo : hi) : a_mode == 2 ? lo : hi;
      }
  const std::vector<int64_t> ref = naive(p, a);
  const Activation acts[] = {Activation::kNone, Activation::kRelu, Activation::kGeluErf, Activation::kGeluTanh};
  for (const GemmS8Variant* v : variants) {
    int64_t nb = 0, ne = p.n;
    if (rng.uniform(0, 3) == 0) {
      const int64_t panels = (p.n + v->nr - 1) / v->nr;
      nb = rng.uniform(0, panels - 1) * v->nr;
      ne = rng.uniform(nb + 1, p.n);
    }
    const Activation act = acts[rng.uniform(0, 3)];
    // Scale so the pre-activation values are O(1..10): GELU is exercised in its interesting range.
    const float a_scale = rng.real(1e-4f, 1e-2f);
    check_problem(v, p, a, ref, nb, ne, act, a_scale);
  }
}

}  // namespace

EI_TEST("gemm_s8: variants are listed, reference first, table choice is one of them") {
  const auto variants = gemm_s8_variants();
  EI_CHECK(!variants.empty());
  EI_CHECK(variants.front()->isa == Isa::kRef);
  bool found = false;
  for (const GemmS8Variant* v : variants) {
    std::printf("  variant %-32s isa=%-10s nr=%d kr=%d supported=%d\n", v->name, isa_name(v->isa), v->nr, v->kr,
                isa_supported(v->isa) ? 1 : 0);
    found |= v == kernels().gemm_s8;
  }
  EI_CHECK(found);
  std::printf("  table choice: %s\n", kernels().gemm_s8->name);
}

EI_TEST("gemm_s8: random odd shapes, all variants, bit-exact int32 and float within tolerance") {
  const auto variants = supported_variants();
  Rng rng(12345);
  for (int t = 0; t < 220; ++t) {
    Problem p;
    p.m = rng.uniform(1, 67);
    p.k = t % 5 == 0 ? rng.uniform(1, 9) : rng.uniform(1, 300);
    p.n = rng.uniform(1, 200);
    p.lda = p.k + (rng.coin() ? 0 : rng.uniform(1, 70));
    p.a_signed = rng.coin();
    p.zp = static_cast<int32_t>(p.a_signed ? rng.uniform(-128, 127) : rng.uniform(0, 255));
    p.layout = rng.coin() ? WeightLayout::kKN : WeightLayout::kNK;
    p.a_offset = static_cast<int>(rng.uniform(0, 63));
    fill_weights(p, rng, 0);
    run_case(variants, p, rng, 0);
  }
}

// A convolution's windows read in place: rows in groups (output rows), each row `segments` runs (kernel rows)
// of overlapping bytes. The reference gathers every row into a dense copy first. A ends at a guard page.
EI_TEST("gemm_s8: implicit rows (row groups, segments) equal the same rows gathered, every implicit variant") {
  Rng rng(777);
  const Activation acts[] = {Activation::kNone, Activation::kRelu, Activation::kGeluErf, Activation::kGeluTanh};
  int ran = 0;
  for (const GemmS8Variant* v : supported_variants()) {
    if (!v->implicit_rows) continue;
    for (int t = 0; t < 80; ++t) {
      Problem p;
      p.segments = rng.uniform(1, 7);
      const int64_t run = v->kr * rng.uniform(1, t % 4 == 0 ? 3 : 48);
      p.k = p.segments * run;
      p.n = rng.uniform(1, 150);
      p.m = rng.uniform(1, 70);
      p.row_group = t % 5 == 0 && p.segments > 1 ? 0 : rng.uniform(1, 17);  // 0 with one run would be plain rows
      p.lda = rng.uniform(0, 2 * run);
      p.segment_stride = run + rng.uniform(0, 3 * run);
      const int64_t group = p.row_group > 0 ? p.row_group : p.m;
      p.group_stride = rng.uniform(0, group * p.lda + p.segments * p.segment_stride);
      p.a_signed = rng.coin();
      p.zp = static_cast<int32_t>(p.a_signed ? rng.uniform(-128, 127) : rng.uniform(0, 255));
      p.layout = rng.coin() ? WeightLayout::kKN : WeightLayout::kNK;
      p.a_offset = static_cast<int>(rng.uniform(0, 63));
      fill_weights(p, rng, t % 9 == 0 ? 1 : 0);
      GemmS8Args at;  // only for gemm_s8_detail::a_offset's arithmetic
      at.m = p.m;
      at.lda = p.lda;
      at.row_group = p.row_group;
      at.group_stride = p.group_stride;
      at.segments = p.segments;
      at.segment_stride = p.segment_stride;
      int64_t extent = 0;  // one past the last byte any row reads
      for (int64_t i = 0; i < p.m; ++i) extent = std::max(extent, gemm_s8_detail::a_offset(at, p.k, i, p.k - 1) + 1);
      GuardedBytes buf(static_cast<size_t>(p.a_offset + extent));
      for (size_t i = 0; i < buf.size(); ++i) buf.data()[i] = static_cast<uint8_t>(rng.uniform(0, 255));
      const uint8_t* a = buf.data() + p.a_offset;
      Problem dense = p;
      dense.lda = p.k;
      std::vector<uint8_t> gathered(static_cast<size_t>(p.m * p.k));
      for (int64_t i = 0; i < p.m; ++i)
        for (int64_t kk = 0; kk < p.k; ++kk) gathered[i * p.k + kk] = a[gemm_s8_detail::a_offset(at, p.k, i, kk)];
      const std::vector<int64_t> ref = naive(dense, gathered.data());
      int64_t nb = 0, ne = p.n;
      if (rng.uniform(0, 3) == 0) {
        nb = rng.uniform(0, (p.n + v->nr - 1) / v->nr - 1) * v->nr;
        ne = rng.uniform(nb + 1, p.n);
      }
      check_problem(v, p, a, ref, nb, ne, acts[rng.uniform(0, 3)], rng.real(1e-4f, 1e-2f));
      ++ran;
    }
  }
  EI_CHECK(ran >= 80);  // the reference variant at least
}

EI_TEST("gemm_s8: implicit rows are refused where they cannot be read (variant, segments, strides)") {
  Problem p;
  p.m = 4;
  p.k = 24;
  p.n = 8;
  p.lda = 24;
  Rng rng(5);
  fill_weights(p, rng, 0);
  std::vector<uint8_t> a(4096, 1);
  std::vector<int32_t> c(static_cast<size_t>(p.m * p.n));
  for (const GemmS8Variant* v : supported_variants()) {
    const PackedWeightsS8 w = pack(p, v);
    GemmS8Args g;
    g.m = p.m;
    g.a = a.data();
    g.lda = 8;
    g.w = &w;
    g.c_i32 = c.data();
    g.ldc = p.n;
    g.row_group = 2;
    g.group_stride = 100;
    g.segments = 3;
    g.segment_stride = 50;
    if (!v->implicit_rows) {
      EI_CHECK_THROWS(gemm_s8(g));
      continue;
    }
    gemm_s8(g);  // valid
    GemmS8Args bad = g;
    bad.segments = 5;  // 24 is not 5 runs
    EI_CHECK_THROWS(gemm_s8(bad));
    bad = g;
    bad.segment_stride = 7;  // runs of 8 would overlap
    EI_CHECK_THROWS(gemm_s8(bad));
    bad = g;
    bad.lda = -1;
    EI_CHECK_THROWS(gemm_s8(bad));
    bad = g;
    bad.row_group = -2;
    EI_CHECK_THROWS(gemm_s8(bad));
    if (v->kr > 1) {
      bad = g;
      bad.segments = 12;  // runs of 2 bytes: not whole groups of kr
      bad.segment_stride = 2;
      EI_CHECK_THROWS(gemm_s8(bad));
    }
  }
}

EI_TEST("gemm_s8: extremes (0/255, -128/127, zero points 0/128/255 and -128/0/127)") {
  const auto variants = supported_variants();
  Rng rng(777);
  for (bool s : {false, true}) {
    const int32_t zps_u[] = {0, 128, 255};
    const int32_t zps_s[] = {-128, 0, 127};
    for (int zi = 0; zi < 3; ++zi)
      for (int a_mode = 1; a_mode <= 3; ++a_mode)
        for (int w_mode = 1; w_mode <= 3; ++w_mode) {
          Problem p;
          p.m = rng.uniform(1, 20);
          p.k = rng.uniform(1, 300);
          p.n = rng.uniform(1, 100);
          p.lda = p.k + rng.uniform(0, 5);
          p.a_signed = s;
          p.zp = s ? zps_s[zi] : zps_u[zi];
          p.layout = rng.coin() ? WeightLayout::kKN : WeightLayout::kNK;
          p.a_offset = static_cast<int>(rng.uniform(0, 63));
          fill_weights(p, rng, w_mode);
          run_case(variants, p, rng, a_mode);
        }
  }
}

EI_TEST("gemm_s8: large k wraps like the reference (k = 70000, all 255 x -128)") {
  // |C| exceeds 2^31: every variant must produce the same two's-complement wrap as the reference.
  const auto variants = supported_variants();
  Rng rng(99);
  Problem p;
  p.m = 3;
  p.k = 70001;
  p.n = 37;
  p.lda = p.k;
  p.zp = 0;
  fill_weights(p, rng, 2);
  run_case(variants, p, rng, 3);
}

EI_TEST("gemm_s8: every k in 1..80 and every row count in 1..17 (all micro-kernel heights and k tails)") {
  const auto variants = supported_variants();
  Rng rng(31337);
  for (int64_t k = 1; k <= 80; ++k) {
    Problem p;
    p.m = 1 + (k - 1) % 17;
    p.k = k;
    p.n = rng.uniform(1, 130);
    p.lda = p.k + (k % 3 == 0 ? 0 : rng.uniform(1, 9));
    p.a_signed = k % 2 == 0;
    p.zp = static_cast<int32_t>(p.a_signed ? rng.uniform(-128, 127) : rng.uniform(0, 255));
    p.layout = k % 4 < 2 ? WeightLayout::kKN : WeightLayout::kNK;
    p.a_offset = static_cast<int>(rng.uniform(0, 63));
    fill_weights(p, rng, 0);
    run_case(variants, p, rng, 0);
  }
}

EI_TEST("gemm_s8: a few big shapes") {
  const auto variants = supported_variants();
  Rng rng(4242);
  const int64_t shapes[][3] = {{128, 1024, 257}, {1, 2048, 1000}, {67, 777, 333}, {16, 4099, 130},
                                {200, 64, 96},    {5, 2500, 700},  {2, 9000, 40}};
  for (const auto& s : shapes) {
    Problem p;
    p.m = s[0];
    p.k = s[1];
    p.n = s[2];
    p.lda = p.k + 3;
    p.a_signed = rng.coin();
    p.zp = p.a_signed ? 5 : 131;
    p.layout = rng.coin() ? WeightLayout::kKN : WeightLayout::kNK;
    p.a_offset = 1;
    fill_weights(p, rng, 0);
    run_case(variants, p, rng, 0);
  }
}

EI_TEST("gemm_s8: extremes across K segment boundaries (-128 x -128, 255 x -128, (127 - -128) x 127)") {
  // The ARM variants pack A in segments of 1024 / 2048 k and keep int32 tiles across segments; the x86
  // AVX2 variant segments at 2048. Every product at its extreme, every k-tail length around the boundaries.
  const auto variants = supported_variants();
  Rng rng(2024);
  const int64_t ks[] = {1023, 1024, 1025, 1031, 2047, 2048, 2049, 2055, 4097};
  int t = 0;
  for (const int64_t k : ks) {
    for (int mode = 0; mode < 3; ++mode, ++t) {
      Problem p;
      p.m = 1 + t % 6;
      p.k = k;
      p.n = rng.uniform(1, 40);
      p.lda = p.k + t % 3;
      p.a_signed = mode != 1;
      p.zp = mode == 0 ? 0 : mode == 1 ? 0 : -128;  // s8 -128 x -128; u8 255 x -128; s8 (127 + 128) x 127
      p.layout = t % 2 ? WeightLayout::kKN : WeightLayout::kNK;
      p.a_offset = t % 5;
      fill_weights(p, rng, mode == 2 ? 3 : 2);
      run_case(variants, p, rng, mode == 0 ? 2 : 3);
    }
  }
}

EI_TEST("gemm_s8: SIMD float output equals the reference bit for bit (no activation, ReLU)") {
  const auto variants = supported_variants();
  Rng rng(5);
  for (int t = 0; t < 30; ++t) {
    Problem p;
    p.m = rng.uniform(1, 30);
    p.k = rng.uniform(1, 200);
    p.n = rng.uniform(1, 150);
    p.lda = p.k;
    p.a_signed = rng.coin();
    p.zp = p.a_signed ? -3 : 100;
    fill_weights(p, rng, 0);
    std::vector<uint8_t> a(static_cast<size_t>(p.m * p.k));
    for (auto& x : a) x = static_cast<uint8_t>(rng.uniform(0, 255));
    const Activation act = rng.coin() ? Activation::kRelu : Activation::kNone;
    std::vector<std::vector<float>> outs;
    for (const GemmS8Variant* v : variants) {
      const PackedWeightsS8 w = pack(p, v);
      std::vector<float> c(static_cast<size_t>(p.m * p.n));
      GemmS8Args g;
      g.m = p.m;
      g.a = a.data();
      g.lda = p.k;
      g.a_signed = p.a_signed;
      g.a_zero_point = p.zp;
      g.w = &w;
      g.c_f32 = c.data();
      g.ldc = p.n;
      g.a_scale = 0.0123f;
      g.activation = act;
      gemm_s8(g);
      outs.push_back(std::move(c));
    }
    for (size_t i = 1; i < outs.size(); ++i)
      EI_CHECK_MSG(std::memcmp(outs[i].data(), outs[0].data(), outs[0].size() * sizeof(float)) == 0,
                   std::string(variants[i]->name) + " differs from the reference");
  }
}

EI_TEST("gemm_s8: an overflowing float epilogue (inf, 0 * inf = NaN) keeps NaN / +-inf through every activation") {
  // a_scale * w_scale = 3e38 * 10 overflows to inf: acc > 0 gives +inf, acc < 0 gives -inf, acc = 0 gives
  // NaN. ReLU keeps NaN and maps -inf to 0 (ONNX Runtime), GELU maps -inf to NaN, in every variant.
  const auto variants = supported_variants();
  Problem p;
  p.m = 7;
  p.k = 9;
  p.n = 37;
  p.lda = p.k;
  p.zp = 100;
  p.w.resize(static_cast<size_t>(p.k * p.n));
  for (size_t i = 0; i < p.w.size(); ++i) p.w[i] = static_cast<int8_t>(static_cast<int>(i % 7) - 3);
  p.scales = {10.0f};
  std::vector<uint8_t> a(static_cast<size_t>(p.m * p.k));
  for (int64_t i = 0; i < p.m; ++i)
    for (int64_t kk = 0; kk < p.k; ++kk)  // row 0 all at the zero point: acc = 0
      a[static_cast<size_t>(i * p.k + kk)] = static_cast<uint8_t>(i == 0 ? p.zp : (i * 37 + kk * 11) % 256);
  const std::vector<int64_t> acc = naive(p, a.data());
  for (Activation act : {Activation::kNone, Activation::kRelu, Activation::kGeluErf, Activation::kGeluTanh})
    for (const GemmS8Variant* v : variants) {
      const PackedWeightsS8 w = pack(p, v);
      std::vector<float> c(static_cast<size_t>(p.m * p.n), 5.0f);
      GemmS8Args g;
      g.m = p.m;
      g.a = a.data();
      g.lda = p.k;
      g.a_zero_point = p.zp;
      g.w = &w;
      g.c_f32 = c.data();
      g.ldc = p.n;
      g.a_scale = 3e38f;
      g.activation = act;
      gemm_s8(g);
      for (size_t i = 0; i < c.size(); ++i) {
        const double pre = acc[i] == 0 ? NAN : acc[i] > 0 ? INFINITY : -INFINITY;
        const double want = act_ref(pre, act);
        const bool ok = std::isnan(want) ? std::isnan(c[i]) : static_cast<double>(c[i]) == want;
        EI_CHECK_MSG(ok, std::string(v->name) + " " + act_name(act) + " acc=" + std::to_string(acc[i]) + " got " +
                             std::to_string(c[i]) + " want " + std::to_string(want));
      }
    }
}

EI_TEST("gemm_s8: packing for the table's choice when no variant is given") {
  Problem p;
  p.k = 5;
  p.n = 3;
  p.w.assign(15, 1);
  const PackedWeightsS8 w = pack(p, nullptr);
  EI_CHECK(w.variant == kernels().gemm_s8);
  EI_CHECK(w.k == 5 && w.n == 3);
  EI_CHECK(w.k_padded % w.variant->kr == 0 && w.n_padded % w.variant->nr == 0);
  EI_CHECK(w.sums()[0] == 5 && w.sums()[2] == 5);
  EI_CHECK(!w.has_bias);
}

EI_TEST("gemm_s8: with no variant given, the table's tile or its sibling, whichever pads n less") {
  const GemmS8Variant* table = kernels().gemm_s8;
  for (const int64_t n : {1, 16, 48, 64, 96, 128, 192, 200, 256, 512}) {
    Problem p;
    p.k = 8;
    p.n = n;
    p.w.assign(static_cast<size_t>(8 * n), 1);
    const PackedWeightsS8 w = pack(p, nullptr);
    const auto padded = [&](const GemmS8Variant* v) { return (n + v->nr - 1) / v->nr * v->nr; };
    const GemmS8Variant* want = table;
    if (table->sibling != nullptr && padded(table->sibling) < padded(table)) want = table->sibling;
    EI_CHECK_MSG(w.variant == want, "n = " + std::to_string(n) + ": packed for " + w.variant->name);
    EI_CHECK(w.n_padded == padded(want));
    if (table->sibling != nullptr && n == 64) EI_CHECK(w.variant == table->sibling && w.n_padded == 64);
  }
}

namespace {
template <typename F>
void expect_invalid(F&& f, const char* what) {
  bool ok = false;
  try {
    f();
  } catch (const Error& e) {
    ok = e.code() == ErrorCode::kInvalidArgument;
  } catch (...) {
  }
  EI_CHECK_MSG(ok, std::string("expected Error(kInvalidArgument): ") + what);
}
}  // namespace

EI_TEST("gemm_s8: bad arguments throw kInvalidArgument") {
  std::vector<int8_t> weights(64 * 8, 1);
  const float nan = std::nanf(""), inf = INFINITY;
  const float good_scale = 0.5f;
  auto pack_with = [&](auto edit) {
    PackWeightsArgs pa;
    pa.weights = weights.data();
    pa.k = 64;
    pa.n = 8;
    pa.scales = &good_scale;
    pa.scale_count = 1;
    edit(pa);
    return pack_weights_s8(pa);
  };
  expect_invalid([&] { pack_with([](PackWeightsArgs& a) { a.weights = nullptr; }); }, "null weights");
  expect_invalid([&] { pack_with([](PackWeightsArgs& a) { a.k = 0; }); }, "k = 0");
  expect_invalid([&] { pack_with([](PackWeightsArgs& a) { a.n = -1; }); }, "n < 0");
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scales = &nan; }); }, "NaN scale");
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scales = &inf; }); }, "inf scale");
  const float zero = 0.0f, neg = -1.0f;
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scales = &zero; }); }, "zero scale");
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scales = &neg; }); }, "negative scale");
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scales = nullptr; }); }, "null scales, count 1");
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.scale_count = 3; }); }, "scale_count 3");
  std::vector<float> bias(8, 0.0f);
  bias[5] = nan;
  expect_invalid([&] { pack_with([&](PackWeightsArgs& a) { a.bias = bias.data(); }); }, "NaN bias");

  for (const GemmS8Variant* v : gemm_s8_variants()) {
    if (!isa_supported(v->isa)) continue;
    PackWeightsArgs pa;
    pa.weights = weights.data();
    pa.k = 64;
    pa.n = 8;
    const PackedWeightsS8 w = pack_weights_s8(pa, v);
    std::vector<uint8_t> a(4 * 64, 1);
    std::vector<int32_t> ci(4 * 8);
    std::vector<float> cf(4 * 8);
    auto call = [&](auto edit) {
      GemmS8Args g;
      g.m = 4;
      g.a = a.data();
      g.lda = 64;
      g.w = &w;
      g.c_i32 = ci.data();
      g.ldc = 8;
      edit(g);
      gemm_s8(g);
    };
    call([](GemmS8Args&) {});  // the baseline call is valid
    expect_invalid([&] { call([](GemmS8Args& g) { g.w = nullptr; }); }, "null weights");
    expect_invalid([&] { call([](GemmS8Args& g) { g.a = nullptr; }); }, "null a");
    expect_invalid([&] { call([](GemmS8Args& g) { g.m = -1; }); }, "m < 0");
    expect_invalid([&] { call([](GemmS8Args& g) { g.lda = 63; }); }, "lda < k");
    expect_invalid([&] { call([](GemmS8Args& g) { g.c_i32 = nullptr; }); }, "no output");
    expect_invalid([&] { call([&](GemmS8Args& g) { g.c_f32 = cf.data(); }); }, "two outputs");
    expect_invalid([&] { call([](GemmS8Args& g) { g.ldc = 7; }); }, "ldc < n");
    expect_invalid([&] { call([](GemmS8Args& g) { g.a_zero_point = 256; }); }, "u8 zp 256");
    expect_invalid([&] { call([](GemmS8Args& g) { g.a_zero_point = -1; }); }, "u8 zp -1");
    expect_invalid([&] { call([](GemmS8Args& g) { g.a_signed = true; g.a_zero_point = 128; }); }, "s8 zp 128");
    expect_invalid([&] { call([](GemmS8Args& g) { g.a_signed = true; g.a_zero_point = -129; }); }, "s8 zp -129");
    expect_invalid([&] { call([](GemmS8Args& g) { g.n_end = 9; }); }, "n_end > n");
    expect_invalid([&] { call([](GemmS8Args& g) { g.n_begin = -16; }); }, "n_begin < 0");
    expect_invalid([&] { call([](GemmS8Args& g) { g.n_begin = 8; }); }, "n_begin >= n");
    if (v->nr > 1) expect_invalid([&] { call([](GemmS8Args& g) { g.n_begin = 1; }); }, "n_begin not multiple of nr");
    expect_invalid([&] { call([](GemmS8Args& g) { g.activation = Activation::kRelu; }); }, "activation on int32");
    expect_invalid([&] { call([&](GemmS8Args& g) { g.c_i32 = nullptr; g.c_f32 = cf.data(); g.a_scale = nan; }); },
                   "NaN a_scale");
    expect_invalid([&] { call([&](GemmS8Args& g) { g.c_i32 = nullptr; g.c_f32 = cf.data(); g.a_scale = 0; }); },
                   "zero a_scale");
    // Unpacked weights.
    PackedWeightsS8 empty;
    expect_invalid([&] { call([&](GemmS8Args& g) { g.w = &empty; }); }, "unpacked weights");
    // m = 0 is a no-op, even with a null A.
    call([](GemmS8Args& g) { g.m = 0; g.a = nullptr; });
  }
}

EI_TEST("gemm_s8: no heap allocation on the hot path (1000 calls)") {
  for (const GemmS8Variant* v : gemm_s8_variants()) {
    if (!isa_supported(v->isa)) continue;
    const int64_t m = 9, k = 203, n = 77;
    std::vector<int8_t> weights(static_cast<size_t>(k * n), 3);
    std::vector<float> bias(static_cast<size_t>(n), 0.25f);
    PackWeightsArgs pa;
    pa.weights = weights.data();
    pa.k = k;
    pa.n = n;
    pa.bias = bias.data();
    const PackedWeightsS8 w = pack_weights_s8(pa, v);
    std::vector<uint8_t> a(static_cast<size_t>(m * k), 7);
    std::vector<int32_t> ci(static_cast<size_t>(m * n));
    std::vector<float> cf(static_cast<size_t>(m * n));
    GemmS8Args g;
    g.m = m;
    g.a = a.data();
    g.lda = k;
    g.a_zero_point = 3;
    g.w = &w;
    g.ldc = n;
    g.c_f32 = cf.data();
    g.activation = Activation::kGeluErf;
    gemm_s8(g);  // warm-up (first use of the kernel table etc.)
    const long before = edgeinfer::testing::heap_allocations().load();
    for (int i = 0; i < 1000; ++i) {
      g.c_f32 = i % 2 ? cf.data() : nullptr;
      g.c_i32 = i % 2 ? nullptr : ci.data();
      g.activation = i % 2 ? static_cast<Activation>(i % 4) : Activation::kNone;
      g.a_signed = i % 3 == 0;
      gemm_s8(g);
    }
    const long after = edgeinfer::testing::heap_allocations().load();
    EI_CHECK_MSG(after == before, std::string(v->name) + ": " + std::to_string(after - before) + " allocations");
  }
  // The counter works at all.
  const long before = edgeinfer::testing::heap_allocations().load();
  static std::vector<int>* volatile probe;
  probe = new std::vector<int>(3);
  delete probe;
  EI_CHECK(edgeinfer::testing::heap_allocations().load() > before);
}

EI_TEST("gemm_s8: summary of the paths that ran on this CPU") {
  const char* qemu_cpu = std::getenv("EDGEINFER_QEMU_CPU");
  std::printf("  cpu features: %s\n", cpu_feature_names(cpu_features()).c_str());
  if (qemu_cpu != nullptr) std::printf("  emulated CPU model: EDGEINFER_QEMU_CPU=%s\n", qemu_cpu);
  const auto variants = gemm_s8_variants();
  for (size_t i = 0; i < variants.size(); ++i) {
    const GemmS8Variant* v = variants[i];
    const long n = i < static_cast<size_t>(kMaxVariants) ? g_checked[i] : 0;
    if (isa_supported(v->isa)) {
      std::printf("  CHECKED  %-32s isa=%-10s %ld problems against the naive reference\n", v->name, isa_name(v->isa),
                  n);
      EI_CHECK_MSG(n > 0, std::string(v->name) + " is supported but was never checked");
    } else {
      std::printf("  SKIPPED  %-32s isa=%-10s not supported by this CPU\n", v->name, isa_name(v->isa));
    }
  }
  std::printf("  table choice: %s (kernels().gemm_s8)\n", kernels().gemm_s8->name);
}

EI_TEST_MAIN()
